# Release notes as users give them wrong: a file that is missing, empty, binary, huge or holds no versions, and ranges the
# notes do not answer (reversed, outside what the file covers). A file that cannot be release notes is an error naming it;
# a range that is empty for a reason the reader must know (the file stops before it, or -From equals -To) is a result
# with a warning that says so, never a silent nothing that reads as "no breaking changes".
$changelogText = @'
# Changelog

## [Unreleased]

- Not released yet.

## [1.7.6] - 2026-04-02

### Fixed

- A fix in 1.7.6.

## [1.7.0] - 2026-03-01

### Added

- A feature in 1.7.0.

## [1.6.0] - 2026-02-01

### Fixed

- A fix in 1.6.0.

## [1.5.0] - 2026-01-01

### Fixed

- A fix in 1.5.0.
'@ + "`n"
$writeChangelog = { param([string] $Dir) [IO.File]::WriteAllText((Join-Path $Dir 'CHANGELOG.md'), $changelogText) }.GetNewClosure()
# Release notes of a file in $Dir, with the warnings the command wrote, for Check.
$notesOf = { param([string] $Path, [hashtable] $Range)
    $notes = Get-UpgradeReleaseNote -Path $Path @Range -WarningVariable warnings -WarningAction SilentlyContinue
    [pscustomobject]@{ Notes = @($notes); Warnings = @($warnings | ForEach-Object { "$_" }) } }

$randomBytes = [byte[]]::new(4096); [Random]::new(22).NextBytes($randomBytes)
function New-NotesFileCase([string] $Name, [byte[]] $Content, [string] $Message) {
    @{
        Name = "Get-UpgradeReleaseNote on $Name"
        Setup = { param($Dir) [IO.File]::WriteAllBytes((Join-Path $Dir 'CHANGELOG.md'), $Content) }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeReleaseNote -Path (Join-Path $Dir 'CHANGELOG.md') }
        ErrorId = 'InvalidReleaseNotes'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'CHANGELOG.md' }; Message = $Message
    }
}

@(
    # ---- Files that cannot be release notes
    @{
        Name = 'Get-UpgradeReleaseNote on a file that does not exist'
        Run = { param($Dir) Get-UpgradeReleaseNote -Path (Join-Path $Dir 'CHANGELOG.md') }
        ErrorId = 'ReleaseNotesNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'CHANGELOG.md' }
    }
    @{
        Name = 'Get-UpgradeReleaseNote on a file name with a line break that does not exist'
        Run = { param($Dir) Get-UpgradeReleaseNote -Path (Join-Path $Dir "CHANGE`nLOG.md") }
        ErrorId = 'ReleaseNotesNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir "CHANGE`nLOG.md" }
        Message = [regex]::Escape('CHANGE\nLOG.md')
    }
    @{
        Name = 'Get-UpgradeReleaseNote on a folder'
        Run = { param($Dir) Get-UpgradeReleaseNote -Path $Dir }
        ErrorId = 'ReleaseNotesNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) $Dir }; Message = 'folder'
    }
    @{
        Name = 'Test-UpgradePath -ReleaseNotePath a file that does not exist'
        Run = { param($Dir) Test-UpgradePath -From 1.7.0 -To 1.7.6 -ReleaseNotePath (Join-Path $Dir 'CHANGELOG.md') }
        ErrorId = 'ReleaseNotesNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'CHANGELOG.md' }
    }
    # Files that are there but are not release notes: InvalidReleaseNotes, naming the file and what is wrong with it.
    New-NotesFileCase 'an empty file' ([byte[]]@()) 'empty'
    New-NotesFileCase 'a file of blank lines' ([Text.Encoding]::UTF8.GetBytes("`n  `r`n`t`n")) 'empty'
    New-NotesFileCase 'a binary file' ([byte[]](0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D) + $randomBytes) 'binary'
    # Auto reads a text that starts with '[' as GitHub's JSON; NUL bytes say it is neither.
    New-NotesFileCase 'a binary file that starts like JSON' ([byte[]](0x5B, 0x00, 0x01, 0x02, 0xFF, 0x00, 0x5D)) 'binary'
    New-NotesFileCase 'a file with no versions' ([Text.Encoding]::UTF8.GetBytes("# Changelog`n`n## [Unreleased]`n`n### Added`n`n- Something.`n")) 'No release headings'
    @{
        # A real CHANGELOG.md is well under a megabyte; 50 MB would take a minute to parse.
        Name = 'Get-UpgradeReleaseNote on a 50 MB file'
        Setup = { param($Dir)
            $chunk = [Text.Encoding]::UTF8.GetBytes((1..2000 | ForEach-Object { "## [1.$_.0] - 2024-01-01`n`n### Fixed`n`n- Fix number $_ of many, in the config.`n`n" }) -join '')
            $stream = [IO.File]::Create((Join-Path $Dir 'CHANGELOG.md'))
            try { while ($stream.Length -lt 50MB) { $stream.Write($chunk, 0, $chunk.Length) } } finally { $stream.Dispose() } }
        Run = { param($Dir) Get-UpgradeReleaseNote -Path (Join-Path $Dir 'CHANGELOG.md') -From 1.5.0 -To 1.9.0 }
        ErrorId = 'ReleaseNotesTooLarge'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'CHANGELOG.md' }; Message = '\d+ MB'
    }
    @{
        Name = 'Test-UpgradePath -ReleaseNotePath a 50 MB file'
        Setup = { param($Dir)
            $stream = [IO.File]::Create((Join-Path $Dir 'CHANGELOG.md'))
            try { $stream.SetLength(50MB) } finally { $stream.Dispose() } }
        Run = { param($Dir) Test-UpgradePath -From 1.7.0 -To 1.7.6 -ReleaseNotePath (Join-Path $Dir 'CHANGELOG.md') }
        ErrorId = 'ReleaseNotesTooLarge'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'CHANGELOG.md' }
    }
    @{
        Name = 'Get-UpgradeReleaseNote on a file whose headings are out of order'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'CHANGELOG.md'),
            "## 1.6.0`n`n- Six.`n`n## 1.8.0`n`n- Eight.`n`n## 1.5.0`n`n- Five.`n`n## 1.7.0`n`n- Seven.`n") }
        Run = { param($Dir) & $notesOf (Join-Path $Dir 'CHANGELOG.md') @{ From = '1.5.0'; To = '1.7.0' } }.GetNewClosure()
        Expect = 'Result'
        Check = { param($Output) $Output[0].Notes.Version | Should -Be @('1.6.0', '1.7.0'); $Output[0].Warnings | Should -BeNullOrEmpty }
    }

    # ---- Ranges the notes do not answer
    @{
        Name = 'Get-UpgradeReleaseNote with -From newer than -To'
        Setup = $writeChangelog
        Run = { param($Dir) Get-UpgradeReleaseNote -Path (Join-Path $Dir 'CHANGELOG.md') -From v1.7.6 -To 1.6.0 }
        ErrorId = 'ReleaseNoteRangeReversed'; Category = 'InvalidArgument'; Target = 'v1.7.6'; Message = '1\.7\.6.*1\.6\.0'
    }
    @{
        Name = 'Get-UpgradeReleaseNote with -From equal to -To is empty and says so'
        Setup = $writeChangelog
        Run = { param($Dir) & $notesOf (Join-Path $Dir 'CHANGELOG.md') @{ From = '1.7.0'; To = 'v1.7.0' } }.GetNewClosure()
        Expect = 'Result'
        Check = { param($Output) $Output[0].Notes | Should -BeNullOrEmpty; $Output[0].Warnings | Should -Match 'same version' }
    }
    @{
        Name = 'Get-UpgradeReleaseNote for a range after the newest version of the file'
        Setup = $writeChangelog
        Run = { param($Dir) & $notesOf (Join-Path $Dir 'CHANGELOG.md') @{ From = '2.0.0'; To = '2.1.0' } }.GetNewClosure()
        Expect = 'Result'
        Check = { param($Output) $Output[0].Notes | Should -BeNullOrEmpty; $Output[0].Warnings | Should -Match '1\.5\.0 to 1\.7\.6.*2\.0\.0' }
    }
    @{
        Name = 'Get-UpgradeReleaseNote for a range before the oldest version of the file'
        Setup = $writeChangelog
        Run = { param($Dir) & $notesOf (Join-Path $Dir 'CHANGELOG.md') @{ From = '1.0.0'; To = '1.2.0' } }.GetNewClosure()
        Expect = 'Result'
        Check = { param($Output) $Output[0].Notes | Should -BeNullOrEmpty; $Output[0].Warnings | Should -Match '1\.5\.0 to 1\.7\.6.*1\.2\.0' }
    }
    @{
        Name = 'Get-UpgradeReleaseNote for a range that runs past the newest version of the file'
        Setup = $writeChangelog
        Run = { param($Dir) & $notesOf (Join-Path $Dir 'CHANGELOG.md') @{ From = '1.7.0'; To = '1.9.0' } }.GetNewClosure()
        Expect = 'Result'
        Check = { param($Output) $Output[0].Notes.Version | Should -Be '1.7.6'; $Output[0].Warnings | Should -Match '1\.7\.6.*1\.9\.0' }
    }
    @{
        Name = 'Get-UpgradeReleaseNote -From newer than the file without -To'
        Setup = $writeChangelog
        Run = { param($Dir) & $notesOf (Join-Path $Dir 'CHANGELOG.md') @{ From = '1.8.0' } }.GetNewClosure()
        Expect = 'Result'
        Check = { param($Output) $Output[0].Notes | Should -BeNullOrEmpty; $Output[0].Warnings | Should -Match '1\.7\.6.*1\.8\.0' }
    }
    @{
        # Only fixes between 1.6.0 and 1.7.6: no security entry is the true answer, not a gap in the notes.
        Name = 'Get-UpgradeReleaseNote -Category of which the range has none is empty without a warning'
        Setup = $writeChangelog
        Run = { param($Dir) & $notesOf (Join-Path $Dir 'CHANGELOG.md') @{ From = '1.6.0'; To = '1.7.6'; Category = 'Security' } }.GetNewClosure()
        Expect = 'Result'
        Check = { param($Output) $Output[0].Notes | Should -BeNullOrEmpty; $Output[0].Warnings | Should -BeNullOrEmpty }
    }
    @{
        Name = 'Test-UpgradePath with release notes that stop before the path'
        Setup = $writeChangelog
        Run = { param($Dir) Test-UpgradePath -From 2.0.0 -To 2.0.1 -AvailableVersion 2.0.1 -ReleaseNotePath (Join-Path $Dir 'CHANGELOG.md') -WarningAction SilentlyContinue }
        Expect = 'Result'
        Check = { param($Output)
            $Output[0].IsSupported | Should -BeTrue
            $Output[0].ReleaseNotes | Should -BeNullOrEmpty
            $Output[0].Warnings | Should -Match '1\.5\.0 to 1\.7\.6' }
    }
)

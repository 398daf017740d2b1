# Test-UpgradePath and Get-UpgradeReleaseNote as a user runs them.
BeforeDiscovery {
    # The real Infrahub CHANGELOG.md of the shared corpus.
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    $script:infrahubChangelog = Find-SharedCorpus 'infrahub/CHANGELOG.md'
}
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:changelog = Join-Path $PSScriptRoot 'Fixtures/CHANGELOG.md'
    $script:releases = '1.5.2', '1.6.0', '1.6.3', '1.7.0', '1.7.6', '1.8.0', '2.0.0'

    function Get-ErrorFrom([scriptblock] $Action) {
        try { & $Action; $null } catch { $_ }
    }
}

Describe 'Test-UpgradePath' -Tag 'Planning' {
    It 'plans a skipped minor as hops through the latest patch of each minor' {
        $path = Test-UpgradePath -From 1.5.2 -To 1.7.6 -AvailableVersion $releases
        $path.PSObject.TypeNames[0] | Should -Be 'UpgradeOps.UpgradePath'
        $path.IsSupported | Should -BeTrue
        $path.Route | Should -Be '1.5.2 → 1.6.3 → 1.7.6'
        $path.Steps.Kind | Should -Be @('Minor', 'Minor')
        $path.EstimatedDowntime.Min | Should -Be 20
        $path.EstimatedDowntime.Max | Should -Be 60
        $path.Impacts | Should -Contain 'Background tasks paused'
    }

    It 'accepts a leading v' {
        (Test-UpgradePath -From v1.7.0 -To v1.7.6).Steps[0].Kind | Should -Be 'Patch'
    }

    It 'returns a refused downgrade as a result, not an error' {
        $path = Test-UpgradePath -From 1.7.6 -To 1.6.3 -ErrorAction Stop
        $path.IsSupported | Should -BeFalse
        $path.Reason | Should -Match 'restore'
    }

    It 'marks a major hop as requiring migration, with notes' {
        $path = Test-UpgradePath -From 1.6.3 -To 2.0.0 -AvailableVersion $releases
        $path.Route | Should -Be '1.6.3 → 1.7.6 → 1.8.0 → 2.0.0'
        $major = $path.Steps | Where-Object Kind -eq 'Major'
        $major.RequiresMigration | Should -BeTrue
        $major.MigrationNotes | Should -Match 'infrahub upgrade'
    }

    It 'refuses a pre-release unless -AllowPrerelease' {
        (Test-UpgradePath -From 1.7.6 -To 1.8.0-rc.1).IsSupported | Should -BeFalse
        (Test-UpgradePath -From 1.7.6 -To 1.8.0-rc.1 -AllowPrerelease).IsSupported | Should -BeTrue
    }

    It 'reports <Text> as InvalidVersion with the input as target' -ForEach @(
        @{ Text = '1.7' }, @{ Text = 'latest' }, @{ Text = '1..2' }
    ) {
        $err = Get-ErrorFrom { Test-UpgradePath -From $Text -To 1.7.6 -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidVersion,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be $Text
        $err.Exception.Message | Should -Match 'full semantic version'
    }

    It 'keeps going after a bad pipeline item and reports it' {
        $inputs = @(
            [pscustomobject]@{ From = '1.6.3'; To = '1.7.6' }
            [pscustomobject]@{ From = 'latest'; To = '1.7.6' }
            [pscustomobject]@{ From = '1.7.0'; To = '1.7.6' }
        )
        $paths = $inputs | Test-UpgradePath -ErrorVariable errs -ErrorAction SilentlyContinue
        $paths.Count | Should -Be 2
        $errs.Count | Should -Be 1
        $errs[0].TargetObject | Should -Be 'latest'
    }

    It 'binds From and To by property name, so a path can be checked again' {
        $first = Test-UpgradePath -From 1.5.2 -To 1.7.6 -AvailableVersion $releases
        $again = $first | Test-UpgradePath -AvailableVersion $releases
        $again.Route | Should -Be $first.Route
    }

    It 'takes a Deployment from the pipeline and carries it on' {
        # Engine types live in the module's own load context, so type literals cannot name them; the
        # deployment a later cmdlet returns is built here from the engine assembly.
        $type = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.Deployment')
        $deployment = [Activator]::CreateInstance($type)
        $deployment.Name = 'prod'; $deployment.Platform = 'Compose'; $deployment.Profile = 'infrahub'
        $deployment.Version = '1.6.3'; $deployment.DatabaseSizeBytes = 4GB
        $path = $deployment | Test-UpgradePath -To 1.7.6
        $path.From | Should -Be '1.6.3'
        $path.Deployment.Name | Should -Be 'prod'
        $path.Steps[0].EstimatedMinutes.Min | Should -Be 18
    }

    It 'attaches the notes of each hop when release notes are given' {
        $path = Test-UpgradePath -From 1.5.2 -To 1.7.6 -ReleaseNotePath $changelog
        $path.Route | Should -Be '1.5.2 → 1.6.3 → 1.7.6'
        $path.Steps[0].ReleaseNotes.Version | Should -Be @('1.6.0', '1.6.3')
        $path.Steps[1].ReleaseNotes.Category | Should -Contain 'BreakingChange'
        $path.ReleaseNotes.Count | Should -Be 6
    }

    It 'marks a minor hop whose release notes hold a database migration as requiring migration (the real Infrahub CHANGELOG)' -Skip:(-not $infrahubChangelog) -ForEach @(@{ Changelog = $infrahubChangelog }) {
        $path = Test-UpgradePath -From 0.15.3 -To 0.16.3 -ReleaseNotePath $Changelog
        $path.Steps.Kind | Should -Be 'Minor'
        $path.Steps[0].RequiresMigration | Should -BeTrue
        $path.Steps[0].MigrationNotes | Should -Match 'Added DB migrations'
    }

    It 'warns when the release notes stop before the path' {
        $path = Test-UpgradePath -From 2.0.0 -To 2.0.1 -AvailableVersion 2.0.1 -ReleaseNotePath $changelog -WarningVariable warnings -WarningAction SilentlyContinue
        $path.ReleaseNotes | Should -BeNullOrEmpty
        $warnings | Should -Match 'cover 1\.5\.2 to 2\.0\.0: none is newer than 2\.0\.0'
    }

    It 'refuses a version the release notes do not know' {
        $path = Test-UpgradePath -From 1.7.6 -To 1.9.0 -ReleaseNotePath $changelog
        $path.IsSupported | Should -BeFalse
        $path.Reason | Should -Match 'not a known release'
    }

    It 'reports a missing profile and an invalid profile with file, line and column' {
        $err = Get-ErrorFrom { Test-UpgradePath -From 1.0.0 -To 1.0.1 -Profile nope -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ProfileNotFound,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'

        $bad = Join-Path $TestDrive 'bad.yml'
        Set-Content $bad "name: x`nservices:`n  - name: web`n    rool: Api`n"
        $err = Get-ErrorFrom { Test-UpgradePath -From 1.0.0 -To 1.0.1 -Profile $bad -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidProfile,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.Exception.Message | Should -Match ([regex]::Escape("${bad}:4:5"))
    }

    It 'shows what it does on the Verbose stream' {
        $verbose = Test-UpgradePath -From 1.0.0 -To 1.0.1 -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -join "`n") | Should -Match 'Profile infrahub loaded'
    }

    It 'fails clearly when the release notes file is missing' {
        $err = Get-ErrorFrom { Test-UpgradePath -From 1.0.0 -To 1.0.1 -ReleaseNotePath (Join-Path $TestDrive 'none.md') -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ReleaseNotesNotFound,*'
    }

    It 'has a default table view and a JSON form usable in a change ticket' {
        $path = Test-UpgradePath -From 1.5.2 -To 1.7.6 -AvailableVersion $releases
        ($path | Format-Table | Out-String) | Should -Match '1\.5\.2 → 1\.6\.3 → 1\.7\.6'
        $json = $path | ConvertTo-Json -Depth 5 | ConvertFrom-Json
        $json.Steps.Count | Should -Be 2
        $json.IsSupported | Should -BeTrue
    }

    It 'survives ConvertTo-Json and Export-Clixml with its hops and release notes, and still names its versions' {
        $path = Test-UpgradePath -From 1.5.2 -To 1.7.6 -AvailableVersion $releases -ReleaseNotePath $changelog
        Assert-RoundTrip $path -Type UpgradeOps.UpgradePath -AcceptedBy {
            param($deserialized)
            $deserialized.Steps[1].ReleaseNotes.Count | Should -BeGreaterThan 0
            ($deserialized | Get-UpgradeReleaseNote -Path $changelog).Version | Select-Object -Unique | Should -Be @('1.6.0', '1.6.3', '1.7.0', '1.7.6')
        }
    }
}

Describe 'Get-UpgradeReleaseNote' -Tag 'Planning' {
    It 'lists the entries between two versions, from exclusive, to inclusive' {
        $notes = Get-UpgradeReleaseNote -Path $changelog -From 1.6.3 -To 1.7.6
        $notes.Version | Select-Object -Unique | Should -Be @('1.7.0', '1.7.6')
        $notes[0].PSObject.TypeNames[0] | Should -Be 'UpgradeOps.ReleaseNote'
        Assert-RoundTrip ($notes | Where-Object { $_.References.Count -gt 0 } | Select-Object -First 1) -Type UpgradeOps.ReleaseNote
    }

    It 'classifies a BREAKING CHANGE line inside a Fixed entry as a breaking change' {
        $note = Get-UpgradeReleaseNote -Path $changelog -From 1.7.0 -To 1.7.6 | Where-Object Title -Match 'query planner'
        $note.Section | Should -Be 'Fixed'
        $note.Category | Should -Be 'BreakingChange'
    }

    It 'filters by category' {
        $notes = Get-UpgradeReleaseNote -Path $changelog -From 1.5.2 -To 2.0.0 -Category DatabaseMigration, Security, Deprecation, ConfigurationChange
        $notes.Category.ForEach([string]) | Sort-Object -Unique | Should -Be @('ConfigurationChange', 'DatabaseMigration', 'Deprecation', 'Security')
    }

    It 'takes From and To from an upgrade path in the pipeline' {
        $notes = Test-UpgradePath -From 1.7.0 -To 1.7.6 | Get-UpgradeReleaseNote -Path $changelog
        @($notes).Count | Should -Be 2
    }

    It 'lists everything up to the newest version when -To is omitted, and skips Unreleased' {
        $notes = Get-UpgradeReleaseNote -Path $changelog
        $notes.Version | Should -Not -Contain 'Unreleased'
        $notes.Version | Should -Contain '2.0.0'
        $notes.Version | Should -Contain '1.5.2'
    }

    It 'reads GitHub releases JSON' {
        $json = Join-Path $TestDrive 'releases.json'
        @(
            @{ tag_name = 'v1.8.0'; name = '1.8.0'; published_at = '2026-05-01T10:00:00Z'; draft = $false; prerelease = $false
               body = "## What's Changed`n### Breaking changes`n- Removed the legacy sync option`n### Fixes`n- Faster startup" }
            @{ tag_name = 'v1.9.0'; name = 'draft'; published_at = $null; draft = $true; prerelease = $false; body = '- not yet' }
        ) | ConvertTo-Json -Depth 3 | Set-Content $json
        $notes = Get-UpgradeReleaseNote -Path $json -Format GitHubReleases
        $notes.Version | Select-Object -Unique | Should -Be '1.8.0'
        ($notes | Where-Object Title -Match 'legacy').Category | Should -Be 'BreakingChange'
    }

    It 'reports a missing file with ReleaseNotesNotFound and the path' {
        $missing = Join-Path $TestDrive 'missing.md'
        $err = Get-ErrorFrom { Get-UpgradeReleaseNote -Path $missing -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ReleaseNotesNotFound,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.Message | Should -Match ([regex]::Escape($missing))
    }

    It 'reports a file that is not release notes with InvalidReleaseNotes' {
        $bad = Join-Path $TestDrive 'bad.json'
        Set-Content $bad '[ not json'
        $err = Get-ErrorFrom { Get-UpgradeReleaseNote -Path $bad -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidReleaseNotes,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
    }

    It 'reports a bad -From as InvalidVersion' {
        $err = Get-ErrorFrom { Get-UpgradeReleaseNote -Path $changelog -From 'latest' -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidVersion,*'
    }
}

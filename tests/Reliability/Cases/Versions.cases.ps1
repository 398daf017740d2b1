# Version numbers as users type them wrong, tried on every cmdlet that takes one: Test-UpgradePath (-From, -To),
# Get-UpgradeReleaseNote (-From, -To), Convert-UpgradeConfiguration -To and Invoke-Upgrade -To (on a Compose deployment
# whose compose file and .env are in $Dir). A text that is not a version is InvalidVersion with the raw text as target and
# its control characters escaped in the message, before any file is read for it or any engine is contacted; a version that
# is merely not an upgrade (a pre-release, a downgrade, the same version) is a result, or for Invoke-Upgrade a refusal
# before the engine is asked.
$changelogText = "# Changelog`n`n## [1.7.6] - 2026-04-02`n`n### Fixed`n`n- A fix.`n`n## [1.7.5] - 2026-03-01`n`n### Fixed`n`n- An older fix.`n"
$composeText = "services:`n  server-a: {image: `"127.0.0.1:5000/sandbox:`${VERSION:-1.7.5}`"}`n"
# Setup writes the inputs every command may read and hands the version to Run as $Data. Setup is a closure (the case
# file's variables are gone when it runs); Run stays a plain script block, so it sees New-TestDeployment.
function New-VersionSetup([string] $Version) {
    # GetNewClosure keeps this scope's variables only: the texts are copied here.
    $changelog = $changelogText; $compose = $composeText
    { param($Dir)
        [IO.File]::WriteAllText((Join-Path $Dir 'CHANGELOG.md'), $changelog)
        [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), $compose)
        [IO.File]::WriteAllText((Join-Path $Dir '.env'), "VERSION=1.7.5`n")
        $Version }.GetNewClosure()
}

$commands = [ordered]@{
    'Test-UpgradePath -To' = { param($Dir, $Data) Test-UpgradePath -From 1.7.5 -To $Data }
    'Test-UpgradePath -From' = { param($Dir, $Data) Test-UpgradePath -From $Data -To 1.7.6 }
    'Get-UpgradeReleaseNote -From' = { param($Dir, $Data) Get-UpgradeReleaseNote -Path (Join-Path $Dir 'CHANGELOG.md') -From $Data -To 1.7.6 }
    'Get-UpgradeReleaseNote -To' = { param($Dir, $Data) Get-UpgradeReleaseNote -Path (Join-Path $Dir 'CHANGELOG.md') -From 1.7.5 -To $Data }
    'Convert-UpgradeConfiguration -To' = { param($Dir, $Data)
        New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml" |
            Convert-UpgradeConfiguration -To $Data -Force }
    'Invoke-Upgrade -To' = { param($Dir, $Data)
        Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml") `
            -To $Data -SkipBackup -Force }
}

# Texts that are not versions: InvalidVersion on every command. Message: what the message must show as well.
$notVersions = @(
    @{ Label = 'whitespace'; Text = '   ' }
    @{ Label = 'latest'; Text = 'latest' }
    @{ Label = 'v1.2 (two parts)'; Text = 'v1.2' }
    @{ Label = 'five parts'; Text = '1.2.3.4.5' }
    @{ Label = 'a negative number'; Text = '-1.2.3' }
    @{ Label = 'a number above Int32'; Text = '99999999999.0.0'; Message = '99999999999.*2147483647' }
    @{ Label = 'a number above Int64'; Text = '99999999999999999999.0.0'; Message = '99999999999999999999.*2147483647' }
    @{ Label = 'Arabic-Indic digits'; Text = '١.٢.٣'; Message = '0-9' }
    @{ Label = 'a NUL inside'; Text = "1.7`0.6"; Message = [regex]::Escape("'1.7\0.6'") }
    @{ Label = 'a line break inside'; Text = "1.7.6`nrm -rf /"; Message = [regex]::Escape("'1.7.6\nrm -rf /'") }
    @{ Label = 'a carriage return inside'; Text = "1.7.6`r1.7.7"; Message = [regex]::Escape("'1.7.6\r1.7.7'") }
)

foreach ($bad in $notVersions) {
    foreach ($command in $commands.GetEnumerator()) {
        @{
            Name = "$($command.Key) $($bad.Label)"
            Setup = New-VersionSetup $bad.Text
            Run = $command.Value
            ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = $bad.Text; Message = $bad['Message']
        }
    }
}

@(
    # ---- An empty string: PowerShell's binder refuses it for a mandatory -To; Get-UpgradeReleaseNote reads it as "not given"
    @{
        Name = 'Test-UpgradePath -To an empty string'
        Run = { Test-UpgradePath -From 1.7.5 -To '' }
        ErrorId = 'ParameterArgumentValidationErrorEmptyStringNotAllowed'; Category = 'InvalidData'; Target = ''; Remedy = $false
    }
    @{
        Name = 'Test-UpgradePath -From an empty string'
        Run = { Test-UpgradePath -From '' -To 1.7.6 }
        ErrorId = 'ParameterArgumentValidationErrorEmptyStringNotAllowed'; Category = 'InvalidData'; Target = ''; Remedy = $false
    }
    @{
        Name = 'Convert-UpgradeConfiguration -To an empty string'
        Setup = New-VersionSetup ''
        Run = $commands['Convert-UpgradeConfiguration -To']
        ErrorId = 'ParameterArgumentValidationErrorEmptyStringNotAllowed'; Category = 'InvalidData'; Target = ''; Remedy = $false
    }
    @{
        Name = 'Get-UpgradeReleaseNote -From an empty string lists every version up to -To'
        Setup = New-VersionSetup ''
        Run = $commands['Get-UpgradeReleaseNote -From']
        Expect = 'Result'; Check = { param($Output) $Output.Version | Should -Be @('1.7.5', '1.7.6') }
    }

    @{
        Name = 'Test-UpgradePath -ToChartVersion a number above Int32'
        Run = { Test-UpgradePath -From 1.7.5 -ToChartVersion 4.99999999999.0 }
        ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = '4.99999999999.0'; Message = 'minor number 99999999999'
    }
    @{
        # The version is checked before the compose file is looked for.
        Name = 'Convert-UpgradeConfiguration -To latest when the compose file is gone'
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To latest -Force }
        ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = 'latest'
    }

    # ---- Versions that are versions but not an upgrade
    @{
        Name = 'Test-UpgradePath -To a pre-release is a refused result without -AllowPrerelease'
        Run = { Test-UpgradePath -From 1.7.5 -To 1.8.0-rc.1 }
        Expect = 'Result'
        Check = { param($Output) $Output[0].IsSupported | Should -BeFalse; $Output[0].Reason | Should -Match 'AllowPrerelease' }
    }
    @{
        Name = 'Test-UpgradePath -To a pre-release with -AllowPrerelease is planned'
        Run = { Test-UpgradePath -From 1.7.5 -To 1.8.0-rc.1 -AllowPrerelease }
        Expect = 'Result'; Check = { param($Output) $Output[0].IsSupported | Should -BeTrue }
    }
    @{
        Name = 'Invoke-Upgrade -To a pre-release is refused before the engine is asked'
        Setup = New-VersionSetup '1.8.0-rc.1'
        Run = $commands['Invoke-Upgrade -To']
        ErrorId = 'UpgradePathNotSupported'; Category = 'InvalidOperation'; Target = '1.7.5 → 1.8.0-rc.1'; Message = 'AllowPrerelease'
    }
    @{
        Name = 'Test-UpgradePath -To a version with build metadata is planned like the version'
        Run = { Test-UpgradePath -From 1.7.5 -To 1.7.6+build.7 }
        Expect = 'Result'
        Check = { param($Output) $Output[0].IsSupported | Should -BeTrue; $Output[0].Steps.Kind | Should -Be 'Patch' }
    }
    @{
        Name = 'Test-UpgradePath -From a version with build metadata to the same version is already there'
        Run = { Test-UpgradePath -From 1.7.6+build.1 -To 1.7.6 }
        Expect = 'Result'
        Check = { param($Output) $Output[0].IsSupported | Should -BeTrue; $Output[0].Steps | Should -BeNullOrEmpty; $Output[0].Reason | Should -Match 'Already at' }
    }
    @{
        Name = 'Invoke-Upgrade -To a version with build metadata gets as far as the engine'
        Setup = New-VersionSetup '1.7.6+build.7'
        Run = $commands['Invoke-Upgrade -To']
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = 'unix:///nonexistent/upgradeops-reliability/docker.sock'
    }
    @{
        Name = 'Test-UpgradePath downgrade is a refused result'
        Run = { Test-UpgradePath -From 1.7.6 -To 1.7.5 }
        Expect = 'Result'
        Check = { param($Output) $Output[0].IsSupported | Should -BeFalse; $Output[0].Reason | Should -Match 'restore' }
    }
    @{
        Name = 'Invoke-Upgrade downgrade is refused before the engine is asked'
        Setup = New-VersionSetup '1.6.4'
        Run = $commands['Invoke-Upgrade -To']
        ErrorId = 'UpgradePathNotSupported'; Category = 'InvalidOperation'; Target = '1.7.5 → 1.6.4'; Message = 'Restore-DeploymentBackup'
    }
    @{
        Name = 'Convert-UpgradeConfiguration downgrade has nothing to convert'
        Setup = New-VersionSetup '1.6.4'
        Run = $commands['Convert-UpgradeConfiguration -To']
        Expect = 'Result'; Check = { param($Output) $Output | Should -BeNullOrEmpty }
    }
    @{
        Name = 'Test-UpgradePath to the same version is a path with no hops'
        Run = { Test-UpgradePath -From 1.7.5 -To v1.7.5 }
        Expect = 'Result'
        Check = { param($Output) $Output[0].IsSupported | Should -BeTrue; $Output[0].Steps | Should -BeNullOrEmpty; $Output[0].Reason | Should -Match 'Already at 1\.7\.5' }
    }

    # ---- Numbers that fit but are absurd: answered at once, with a message of a readable size
    @{
        Name = 'Test-UpgradePath across two billion skipped minor versions'
        Run = { Test-UpgradePath -From 1.0.0 -To 1.2000000000.0 }
        Expect = 'Result'
        Check = { param($Output)
            $Output[0].IsSupported | Should -BeFalse
            $Output[0].Reason | Should -Match 'skips'
            $Output[0].Reason.Length | Should -BeLessThan 1000 }
    }
    @{
        Name = 'Test-UpgradePath -To the largest version number there is'
        Run = { Test-UpgradePath -From 2147483646.2147483647.2147483647 -To 2147483647.2147483647.2147483647 }
        Expect = 'Result'; Check = { param($Output) $Output[0].IsSupported | Should -BeTrue }
    }
)

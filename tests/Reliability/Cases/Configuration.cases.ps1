# Configuration files and parameters as users get them wrong: Convert-UpgradeConfiguration on a Compose .env (CRLF, BOM,
# a key twice, a folder, a link loop) and on a Helm values file (missing, invalid, a key twice, a folder), what it does
# without -Force, and Invoke-Upgrade / Test-UpgradeReadiness parameters that are wrong whatever the deployment. Local
# inputs are checked before any engine or cluster is contacted; a good input gets as far as the (unreachable) cluster.
# Cases that change a file on success (-Force on a CRLF .env...) are in tests/Pester/ConfigurationInput.Tests.ps1: the
# corpus asserts that nothing changes.
$sandboxProfile = Join-Path $PSScriptRoot '../../Sandbox/profile.yml' | Resolve-Path | ForEach-Object Path
$reliabilityScript = Join-Path $PSScriptRoot '../Reliability.ps1' | Resolve-Path | ForEach-Object Path
$composeText = "services:`n  server-a: {image: `"127.0.0.1:5000/sandbox:`${VERSION:-1.8.0}`"}`n"
# The sandbox profile: 1.8.0 → 2.0.0 requires APP_SIGNING_KEY (.env, generated); 1.7.5 → 1.7.6 requires cache.host (Helm values).
# A case file's functions are gone when its cases run: Setup blocks that write files are closures over $writeComposeFolder;
# Run blocks are plain, because New-TestDeployment (dot-sourced by the test) is not visible from a closure.
$writeComposeFolder = { param([string] $Dir, [string] $EnvText, [switch] $Bom)
    [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), $composeText)
    if ($PSBoundParameters.ContainsKey('EnvText')) { [IO.File]::WriteAllText((Join-Path $Dir '.env'), $EnvText, [Text.UTF8Encoding]::new([bool] $Bom)) } }.GetNewClosure()
$closedCluster = 'https://127.0.0.1:1/'

@(
    # ---- Convert-UpgradeConfiguration on a Compose deployment
    @{
        Name = 'Convert-UpgradeConfiguration -Force when the compose file is gone'
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force }
        ErrorId = 'ComposeFileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'docker-compose.yml' }
    }
    @{
        Name = 'Convert-UpgradeConfiguration -Force on a compose file with a mapping as a service name'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), "services:`n  ? {x: 1}`n  : {image: y}`n") }
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force }
        ErrorId = 'ComposeFileInvalid'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'docker-compose.yml' }
    }
    @{
        Name = 'Convert-UpgradeConfiguration -Force on a compose path that is a symbolic link loop'
        Setup = { param($Dir)
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'a.yml'), (Join-Path $Dir 'b.yml'))
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'b.yml'), (Join-Path $Dir 'a.yml')) }
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/a.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force }
        ErrorId = 'ComposeFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'a.yml' }
    }
    @{
        Name = 'Convert-UpgradeConfiguration -Force when the .env is a folder'
        Setup = { param($Dir) & $writeComposeFolder $Dir; $null = New-Item -ItemType Directory (Join-Path $Dir '.env') }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force }
        ErrorId = 'EnvFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir '.env' }; Message = 'remove or rename the folder'
    }
    @{
        Name = 'Convert-UpgradeConfiguration -Force with a -ConfigurationValue holding a line break'
        Setup = { param($Dir) & $writeComposeFolder $Dir "VERSION=1.8.0`n" }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force -ConfigurationValue @{ APP_SIGNING_KEY = "key`nVERSION=9.9.9" } }
        ErrorId = 'ConfigurationValueInvalid'; Category = 'InvalidArgument'; Target = 'APP_SIGNING_KEY'; Message = 'line break'
    }
    @{
        Name = 'Convert-UpgradeConfiguration -Force with a -ConfigurationValue compose cannot read back'
        Setup = { param($Dir) & $writeComposeFolder $Dir "VERSION=1.8.0`n" }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force -ConfigurationValue @{ APP_SIGNING_KEY = "it's `$HOME" } }
        ErrorId = 'ConfigurationValueInvalid'; Category = 'InvalidArgument'; Target = 'APP_SIGNING_KEY'
    }
    @{
        Name = 'Convert-UpgradeConfiguration on a deployment whose version is not a version'
        Setup = { param($Dir) & $writeComposeFolder $Dir "VERSION=1.8.0`n" }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 'one.eight' -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force }
        ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = 'one.eight'
    }
    @{
        # ConfirmImpact High: without -Force or -Confirm:$false it asks, and a non-interactive session cannot answer.
        Name = 'Convert-UpgradeConfiguration without -Force in a non-interactive session writes nothing'
        Setup = { param($Dir) & $writeComposeFolder $Dir "VERSION=1.8.0`n" }.GetNewClosure()
        Run = { param($Dir)
            $command = "Import-Module '$env:UPGRADEOPS_MODULE'; . '$reliabilityScript'; " +
                "New-TestDeployment -Profile '$sandboxProfile' -Version 1.8.0 -Location '$(Join-Path $Dir 'docker-compose.yml')' | Convert-UpgradeConfiguration -To 2.0.0"
            $text = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $command 2>&1 | Out-String
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Text = $text } }.GetNewClosure()
        Expect = 'Result'; Seconds = 30
        Check = { param($Output) $Output[0].Text | Should -Match 'NonInteractive' }
    }
    @{
        Name = 'Convert-UpgradeConfiguration -WhatIf on a CRLF .env writes nothing'
        Setup = { param($Dir) & $writeComposeFolder $Dir "# keys`r`nVERSION=1.8.0`r`n" }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -WhatIf }
        Expect = 'Result'; Check = { param($Output) $Output | Should -BeNullOrEmpty }
    }
    @{
        Name = 'Convert-UpgradeConfiguration -WhatIf on a .env with a BOM writes nothing'
        Setup = { param($Dir) & $writeComposeFolder $Dir "VERSION=1.8.0`n" -Bom }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -WhatIf }
        Expect = 'Result'; Check = { param($Output) $Output | Should -BeNullOrEmpty }
    }
    @{
        Name = 'Convert-UpgradeConfiguration on a .env that sets the key twice, the last time empty, writes nothing with -WhatIf'
        Setup = { param($Dir) & $writeComposeFolder $Dir "APP_SIGNING_KEY=set-before`r`nVERSION=1.8.0`r`nAPP_SIGNING_KEY=`r`n" }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -WhatIf }
        Expect = 'Result'; Check = { param($Output) $Output | Should -BeNullOrEmpty }
    }
    @{
        # Compose uses the last of two assignments: this one is set, so there is nothing to do.
        Name = 'Convert-UpgradeConfiguration on a .env that sets the key twice, the last time set, is AlreadySet'
        Setup = { param($Dir) & $writeComposeFolder $Dir "APP_SIGNING_KEY=`nAPP_SIGNING_KEY=set-later`n" }.GetNewClosure()
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.8.0 -Location "$Dir/docker-compose.yml" | Convert-UpgradeConfiguration -To 2.0.0 -Force }
        Expect = 'Result'; Check = { param($Output) $Output.Action | Should -Be 'AlreadySet' }
    }

    # ---- Convert-UpgradeConfiguration on a Helm release: the values file is read before the cluster is asked
    @{
        Name = 'Convert-UpgradeConfiguration on a Helm release with a values file that does not exist'
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile (Join-Path $Dir 'values.yaml') -Force }
        ErrorId = 'ValuesFileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'values.yaml' }
    }
    @{
        Name = 'Convert-UpgradeConfiguration on a Helm release with a values file that is not YAML'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'values.yaml'), "cache:`n  host: [unclosed`n") }
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile (Join-Path $Dir 'values.yaml') -Force }
        ErrorId = 'ValuesFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'values.yaml' }; Message = 'values\.yaml:\d+:\d+'
    }
    @{
        Name = 'Convert-UpgradeConfiguration on a Helm release with a values file that sets a key twice'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'values.yaml'), "cache:`r`n  address: a`r`n  address: b`r`n") }
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile (Join-Path $Dir 'values.yaml') -Force }
        ErrorId = 'ValuesFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'values.yaml' }; Message = 'address'
    }
    @{
        Name = 'Convert-UpgradeConfiguration on a Helm release with a values file that is a folder'
        Setup = { param($Dir) $null = New-Item -ItemType Directory (Join-Path $Dir 'values.yaml') }
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile (Join-Path $Dir 'values.yaml') -Force }
        ErrorId = 'ValuesFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'values.yaml' }; Message = 'folder'
    }
    @{
        Name = 'Convert-UpgradeConfiguration on a Helm release with a good CRLF values file with a BOM gets as far as the cluster'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'values.yaml'), "# prod`r`ncache:`r`n  address: 10.0.0.9`r`n", [Text.UTF8Encoding]::new($true)) }
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile (Join-Path $Dir 'values.yaml') -Force }
        ErrorId = 'KubernetesUnreachable'; Category = 'ConnectionError'; Target = $closedCluster
    }

    # ---- Invoke-Upgrade on a Helm release: the same order
    @{
        Name = 'Invoke-Upgrade on a Helm release with a good values file gets as far as the cluster'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'values.yaml'), "cache:`n  host: 10.0.0.9`n") }
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart repo/sandbox -ValuesFile (Join-Path $Dir 'values.yaml') -SkipBackup -Force }
        ErrorId = 'KubernetesUnreachable'; Category = 'ConnectionError'; Target = $closedCluster
    }
    @{
        Name = 'Invoke-Upgrade on a Helm release with a values file that does not exist'
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart repo/sandbox -ValuesFile (Join-Path $Dir 'values.yaml') -SkipBackup -Force }
        ErrorId = 'ValuesFileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'values.yaml' }
    }
    @{
        Name = 'Invoke-Upgrade -RequireReadiness on a Helm release with an invalid values file says so before asking the cluster'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'values.yaml'), "cache: {host: [}`n") }
        Run = { param($Dir) New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart repo/sandbox -ValuesFile (Join-Path $Dir 'values.yaml') -SkipBackup -RequireReadiness -Force }
        ErrorId = 'ValuesFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'values.yaml' }
    }

    # ---- Parameters that are wrong whatever the deployment: refused before any engine is contacted
    @{
        Name = 'Invoke-Upgrade -MigrationTimeout negative on a Compose deployment'
        Run = { param($Dir) Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml") -To 1.7.6 -SkipBackup -Force -MigrationTimeout '-00:05:00' }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '-00:05:00'; Message = 'MigrationTimeout'
    }
    @{
        Name = 'Invoke-Upgrade -MigrationTimeout negative on a Helm release'
        Run = { Invoke-Upgrade -Deployment (New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5) -To 1.7.6 -Chart repo/sandbox -SkipBackup -Force -MigrationTimeout '-00:05:00' }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '-00:05:00'; Message = 'MigrationTimeout'
    }
    @{
        Name = 'Invoke-Upgrade -HealthTimeout zero'
        Run = { param($Dir) Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml") -To 1.7.6 -SkipBackup -Force -HealthTimeout 0 }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '00:00:00'; Message = 'HealthTimeout'
    }
    @{
        Name = 'Invoke-Upgrade -Resume -MigrationTimeout negative'
        Run = { param($Dir) Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml") -Resume -Force -MigrationTimeout '-1.00:00:00' }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '-1.00:00:00'
    }
    @{
        Name = 'Test-UpgradeReadiness -Window that ends before it starts'
        Setup = { @([datetimeoffset]'2031-01-02T04:00:00Z', [datetimeoffset]'2031-01-02T02:00:00Z') }
        Run = { param($Dir, $Data) Test-UpgradeReadiness -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml") -To 1.7.6 -Window $Data }
        ErrorId = 'InvalidWindow'; Category = 'InvalidArgument'; Target = { param($Dir, $Data) "$Data" }
    }
    @{
        Name = 'Test-UpgradeReadiness -Window that ends when it starts'
        Setup = { @([datetimeoffset]'2031-01-02T04:00:00Z', [datetimeoffset]'2031-01-02T04:00:00Z') }
        Run = { param($Dir, $Data) Test-UpgradeReadiness -Deployment (New-TestDeployment -Platform Kubernetes -Location 'ns/rel' -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5) -To 1.7.6 -Window $Data }
        ErrorId = 'InvalidWindow'; Category = 'InvalidArgument'; Target = { param($Dir, $Data) "$Data" }
    }
    @{
        Name = 'Test-UpgradeReadiness -MaximumBackupAge negative'
        Run = { param($Dir) Test-UpgradeReadiness -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.5 -Location "$Dir/docker-compose.yml") -To 1.7.6 -MaximumBackupAge '-01:00:00' }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '-01:00:00'
    }
)

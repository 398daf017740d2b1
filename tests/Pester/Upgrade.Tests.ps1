# Invoke-Upgrade and Invoke-Rollback on the sandbox: 1.6.4 → 1.8.0 in two hops, 1.8.0 → 2.0.0 with its
# configuration migration, back to 1.8.0 with the data, and the faults around them.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'SandboxFixture.ps1')
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:sandbox = Use-TestSandbox -Version 1.6.4
    $script:backups = Join-Path $TestDrive 'backups'

    function Get-Deployment { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue }
    # The first error a command stops with (Invoke-Upgrade writes its result object before a failed upgrade's error).
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    function Get-ComparableInspect([string] $Name) {
        # What must survive a recreation: everything but the image, ids, timestamps and runtime state.
        $i = (docker inspect $Name | ConvertFrom-Json)[0]
        [pscustomobject]@{
            Name       = $i.Name
            Env        = ($i.Config.Env | Sort-Object) -join "`n"
            Cmd        = $i.Config.Cmd -join ' '
            Entrypoint = $i.Config.Entrypoint -join ' '
            User       = $i.Config.User
            WorkingDir = $i.Config.WorkingDir
            Labels     = ($i.Config.Labels.PSObject.Properties | Where-Object { $_.Name -notlike 'org.opencontainers.image.*' -and $_.Name -notlike 'upgradeops.sandbox.*' } | ForEach-Object { "$($_.Name)=$($_.Value)" } | Sort-Object) -join "`n"
            Health     = $i.Config.Healthcheck | ConvertTo-Json -Compress
            HostConfig = $i.HostConfig | ConvertTo-Json -Depth 5 -Compress
            Mounts     = ($i.Mounts | ForEach-Object { "$($_.Type):$($_.Name):$($_.Destination):$($_.RW)" } | Sort-Object) -join "`n"
        }
    }
}

Describe 'Invoke-Upgrade (Standard)' -Tag 'Sandbox', 'Upgrade' {
    It 'refuses without a backup and names the command that makes one' {
        $err = Get-ErrorFrom { Get-Deployment | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupRequired,*'
        $err.Exception.Message | Should -Match 'New-DeploymentBackup'
    }

    It 'refuses an unsupported path' {
        $d = Get-Deployment
        $err = Get-ErrorFrom { Invoke-Upgrade -Deployment $d -To 1.6.3 -SkipBackup -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'UpgradePathNotSupported,*'
    }

    It 'prints the exact plan with -WhatIf and changes nothing' {
        $d = Get-Deployment
        $envBefore = Get-Content -Raw (Join-Path $sandbox.Path '.env')
        $output = Invoke-WhatIf "`$d | Test-UpgradePath -To 1.8.0 | Invoke-Upgrade -SkipBackup -WhatIf"
        $output | Should -Match '1\.6\.4 → 1\.7\.6 → 1\.8\.0'
        $output | Should -Match 'pull: 127\.0\.0\.1:5000/upgradeops/sandbox:1\.7\.6'
        $output | Should -Match 'migrate: sandbox upgrade'
        $output | Should -Match 'recreate: .*server-a'
        $output | Should -Match '\+VERSION=1\.7\.6'
        $output | Should -Match 'estimated downtime'
        Get-Content -Raw (Join-Path $sandbox.Path '.env') | Should -Be $envBefore
        (Get-Deployment).Version | Should -Be '1.6.4'
    }

    It 'upgrades 1.6.4 → 1.8.0 in two hops through 1.7.6, keeping the data and every container setting' {
        $d = Get-Deployment
        $before = Get-SandboxDataFingerprint $sandbox
        $serverName = Get-SandboxContainerName $sandbox server-a
        $inspectBefore = Get-ComparableInspect $serverName
        $envBefore = Get-Content -Raw (Join-Path $sandbox.Path '.env')
        $script:backup164 = $d | New-DeploymentBackup -Path $backups -Force

        $result = $d | Test-UpgradePath -To 1.8.0 | Invoke-Upgrade -Backup $backup164 -Force
        $result.PSObject.TypeNames[0] | Should -Be 'UpgradeOps.UpgradeResult'
        $result.Status | Should -Be 'Succeeded' -Because (($result.Steps | Format-Table -AutoSize | Out-String) + $result.Error)
        $result.BackupId | Should -Be $backup164.Id
        $result.MigrationOutput.Count | Should -Be 2
        ($result.MigrationOutput -join "`n") | Should -Match 'migrating artifacts'
        $result.Downtime.TotalSeconds | Should -BeGreaterThan 0
        ($result.Steps | Where-Object Name -like '*migrate').Count | Should -Be 2

        $after = Get-Deployment
        $after.Version | Should -Be '1.8.0'
        $after.ConfiguredVersion | Should -Be '1.8.0'
        $after.Healthy | Should -BeTrue
        (Get-SandboxDataFingerprint $sandbox).ArtifactRows | Should -Be $before.ArtifactRows

        # Only the version changed in .env; everything in the container's configuration but the image survived.
        (Get-Content -Raw (Join-Path $sandbox.Path '.env')) | Should -Be ($envBefore -replace '(?m)^VERSION=1\.6\.4', 'VERSION=1.8.0')
        $inspectAfter = Get-ComparableInspect $serverName
        foreach ($property in $inspectBefore.PSObject.Properties.Name) {
            $inspectAfter.$property | Should -Be $inspectBefore.$property -Because "$property must survive the recreation"
        }
        # This sandbox's containers only: the Infrahub sandbox in another test process makes such containers of its own.
        docker ps -a --filter "name=^/$($sandbox.ProjectName)" --format '{{.Names}}' | Should -Not -Match 'upgradeops-previous|upgradeops-migrate'
    }

    It 'upgrades 1.8.0 → 2.0.0, generating the configuration value 2.0.0 requires' {
        $d = Get-Deployment
        $script:backup180 = $d | New-DeploymentBackup -Path $backups -Force
        $script:before180 = Get-SandboxDataFingerprint $sandbox
        # The plan as Import-Clixml gives it back (approved the day before, say) runs the upgrade.
        $path = Assert-RoundTrip ($d | Test-UpgradePath -To 2.0.0) -Type UpgradeOps.UpgradePath -Secret (Get-DotEnvSecret $sandbox.Path) -PassThru
        $result = $path | Invoke-Upgrade -Backup $backup180 -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        ($result.Steps | Where-Object Name -like '*configuration').Detail | Should -Match 'APP_SIGNING_KEY: Added'
        (Get-Content (Join-Path $sandbox.Path '.env')) -match '^APP_SIGNING_KEY=.{16,}' | Should -Not -BeNullOrEmpty
        (Get-Deployment).Version | Should -Be '2.0.0'
        (Invoke-SandboxGraphQL 'query { InfrahubInfo { version } }').data.InfrahubInfo.version | Should -Be '2.0.0'
        $key = (Get-Content (Join-Path $sandbox.Path '.env') | Where-Object { $_ -like 'APP_SIGNING_KEY=*' }) -replace '^APP_SIGNING_KEY=', ''
        ($result | ConvertTo-Json -Depth 6) | Should -Not -Match ([regex]::Escape($key))
        Get-Content -Raw $result.JournalPath | Should -Not -Match ([regex]::Escape($key))
        Assert-RoundTrip $result -Type UpgradeOps.UpgradeResult -Secret (Get-DotEnvSecret $sandbox.Path) -AcceptedBy {
            param($deserialized)
            $report = $deserialized | Export-UpgradeReport -Path (Join-Path $TestDrive 'upgrade-2.0.0.md')
            $text = Get-Content -Raw $report.FullName
            $text | Should -Match ([regex]::Escape($result.Id))
            $text | Should -Not -Match ([regex]::Escape($key))
        }
    }

    It 'rolls back from 2.0.0 to 1.8.0 with the data' {
        $d = Get-Deployment
        $upgrade = $d | Get-UpgradeHistory | Where-Object { $_.To -eq '2.0.0' -and $_.Operation -eq 'Upgrade' } | Select-Object -First 1
        $rollback = $upgrade | Invoke-Rollback -Deployment $d -Force
        $rollback.Status | Should -Be 'Succeeded' -Because ($rollback.Steps | Format-Table -AutoSize | Out-String)
        $rollback.Operation | Should -Be 'Rollback'
        Assert-RoundTrip $rollback -Type UpgradeOps.UpgradeResult -Secret (Get-DotEnvSecret $sandbox.Path)
        $after = Get-Deployment
        $after.Version | Should -Be '1.8.0'
        $after.ConfiguredVersion | Should -Be '1.8.0'
        $after.Healthy | Should -BeTrue
        $data = Get-SandboxDataFingerprint $sandbox
        $data.ArtifactRows | Should -Be $before180.ArtifactRows
        $data.ArtifactChecksums | Should -Be $before180.ArtifactChecksums
        $data.StorageFiles | Should -Be $before180.StorageFiles
        ($d | Get-UpgradeHistory | Where-Object Id -eq $upgrade.Id).Status | Should -Be 'RolledBack'
    }
}

Describe 'Invoke-Upgrade (Rolling)' -Tag 'Sandbox', 'Upgrade' {
    It 'refuses a rolling upgrade through a hop the profile does not mark safe' {
        $d = Get-Deployment
        $err = Get-ErrorFrom { Invoke-Upgrade -Deployment $d -To 2.0.0 -SkipBackup -Strategy Rolling -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'RollingNotSafe,*'
        $err.Exception.Message | Should -Match 'Standard'
    }

    It 'replaces one API server at a time so the load balancer always answers' {
        $script:sandbox = Use-TestSandbox -Version 1.7.5
        . (Join-Path $env:UPGRADEOPS_ROOT 'bench/Probe.ps1')
        $d = Get-Deployment
        $b = $d | New-DeploymentBackup -Path $backups -Force
        # A request slower than 1 s is not a failed one: on a loaded CI machine one took longer (Operation canceled) while
        # every server answered; refused connections and error statuses still count at once.
        $probe = Start-ApiProbe -IntervalMs 20 -TimeoutMs 5000
        try {
            $result = $d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $b -Strategy Rolling -Force
        }
        finally {
            $measured = Stop-ApiProbe $probe
        }
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        $result.Strategy | Should -Be 'Rolling'
        $result.Steps.Name | Should -Not -Contain 'stop API'
        $measured.Requests | Should -BeGreaterThan 100
        $measured.Failures | Should -Be 0 -Because $measured.Errors
        (Get-Deployment).Version | Should -Be '1.7.6'
    }
}

Describe 'Invoke-Upgrade faults' -Tag 'Sandbox', 'Upgrade', 'Fault' {
    It 'returns to the previous version with its data when the broken 1.7.7 fails with -RollbackOnFailure' {
        $script:sandbox = Use-TestSandbox -Version 1.7.6
        $d = Get-Deployment
        $before = Get-SandboxDataFingerprint $sandbox
        $b = $d | New-DeploymentBackup -Path $backups -Force
        $result = Invoke-Upgrade -Deployment $d -To 1.7.7 -AvailableVersion 1.7.7 -Backup $b -RollbackOnFailure -Force -ErrorVariable upgradeErrors -ErrorAction SilentlyContinue
        $result.Status | Should -Be 'RolledBack'
        $result.ErrorId | Should -Be 'MigrationFailed'
        $result.ErrorCategory | Should -Be 'InvalidOperation'
        $upgradeErrors[0].FullyQualifiedErrorId | Should -BeLike 'MigrationFailed,*'
        $upgradeErrors[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $after = Get-Deployment
        $after.Version | Should -Be '1.7.6'
        $after.Healthy | Should -BeTrue
        (Get-SandboxDataFingerprint $sandbox).ArtifactChecksums | Should -Be $before.ArtifactChecksums
        # The history says where the rollback came from (the failed target) and where it returned to.
        $rollback = $d | Get-UpgradeHistory | Where-Object { $_.Operation -eq 'Rollback' -and $_.Id -eq $result.RolledBackBy }
        "$($rollback.From) → $($rollback.To)" | Should -Be '1.7.7 → 1.7.6'
    }

    It 'fails with MigrationFailed and rolls back when the migration exits 0 but prints a line of migration.failurePatterns' {
        # As Infrahub's 'infrahub upgrade' does after a failed migration: here 1.8.0's migration succeeds, and a profile that
        # names one of its lines as a failure must stop the upgrade all the same.
        $failing = Join-Path $TestDrive 'failure-pattern.yml'
        (Get-Content -Raw $profilePath).Replace("  mixedVersionSafe: [1.7.6]`n", "  mixedVersionSafe: [1.7.6]`n  failurePatterns: ['applying migration 1\.8\.0']`n") |
            Set-Content $failing
        $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $failing -WarningAction SilentlyContinue
        $b = $d | New-DeploymentBackup -Path $backups -Force
        $result = Invoke-Upgrade -Deployment $d -To 1.8.0 -Backup $b -RollbackOnFailure -Force -ErrorVariable upgradeErrors -ErrorAction SilentlyContinue
        $result.Status | Should -Be 'RolledBack'
        $result.ErrorId | Should -Be 'MigrationFailed'
        $upgradeErrors[0].Exception.Message | Should -Match "exited with code 0 but reported a failure: '.*applying migration 1\.8\.0"
        ($result.MigrationOutput -join "`n") | Should -Match 'applying migration 1\.8\.0'
        $after = Get-Deployment
        $after.Version | Should -Be '1.7.6'
        $after.Healthy | Should -BeTrue
    }

    It 'stops nothing and says so when the registry is unreachable during the pull' {
        $d = Get-Deployment
        # The sandbox's containers only: the Helm tests beside this file start and stop their own.
        $running = @(docker ps -q --filter "label=com.docker.compose.project=$($sandbox.ProjectName)").Count
        if (-not (Stop-SandboxHost).Stopped) {
            Set-ItResult -Skipped -Because 'the registry on 127.0.0.1:5000 was not started by this checkout, so the test cannot stop it'
            return
        }
        try {
            $err = Get-ErrorFrom { Invoke-Upgrade -Deployment $d -To 1.8.0 -SkipBackup -Force -ErrorAction Stop }
            $err.FullyQualifiedErrorId | Should -BeLike 'RegistryUnreachable,*'
            $err.Exception.Message | Should -Match 'Nothing was stopped'
            @(docker ps -q --filter "label=com.docker.compose.project=$($sandbox.ProjectName)").Count | Should -Be $running
            (Get-Deployment).Version | Should -Be '1.7.6'
        }
        finally {
            Initialize-SandboxHost | Out-Null
        }
    }

    It 'lets exactly one of two concurrent upgrades proceed' {
        $d = Get-Deployment
        $b = $d | New-DeploymentBackup -Path $backups -Force
        $script = {
            param($module, $compose, $profilePath, $backupPath)
            Import-Module $module
            $d = Get-UpgradeDeployment -ComposeFile $compose -Profile $profilePath -WarningAction SilentlyContinue
            $b = Get-DeploymentBackup -Path $backupPath
            try { (Invoke-Upgrade -Deployment $d -To 1.8.0 -Backup $b -Force -ErrorAction Stop).Status } catch { $_.FullyQualifiedErrorId }
        }
        $jobs = 1..2 | ForEach-Object { Start-ThreadJob -ScriptBlock $script -ArgumentList $env:UPGRADEOPS_MODULE, $sandbox.ComposeFile, $profilePath, $b.Path }
        $outcomes = $jobs | Wait-Job | Receive-Job
        $jobs | Remove-Job
        @($outcomes | Where-Object { $_ -eq 'Succeeded' }).Count | Should -Be 1 -Because ($outcomes -join '; ')
        @($outcomes | Where-Object { $_ -like 'UpgradeInProgress*' }).Count | Should -Be 1 -Because ($outcomes -join '; ')
        (Get-Deployment).Version | Should -Be '1.8.0'
    }
}

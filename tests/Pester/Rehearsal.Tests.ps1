# Invoke-UpgradeRehearsal on the sandbox: a disposable copy restored from the sandbox's backup is upgraded
# 1.6.4 -> 1.8.0 and validated while the sandbox itself keeps serving, unchanged.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'SandboxFixture.ps1')
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:sandbox = Use-TestSandbox -Version 1.6.4
    $script:copies = Join-Path $TestDrive 'rehearsals'
    $script:ownCopies = "label=io.upgradeops.rehearsal.source=$($sandbox.ProjectName)"
    function Get-Deployment { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue }
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    # This sandbox's copies only: the Infrahub sandbox in another test process rehearses its own meanwhile.
    function Get-CopyContainer { @(docker ps -a --filter label=io.upgradeops.rehearsal.id --filter $ownCopies --format '{{.Names}}') | Where-Object { $_ } }
    function Get-CopyVolume { @(docker volume ls -q --filter label=io.upgradeops.rehearsal.id --filter $ownCopies) | Where-Object { $_ } }
    function Get-ProductionState {
        # What "production is never touched" means: the same containers (ids, started at), data and files.
        $ids = docker ps -a --filter "label=com.docker.compose.project=$($sandbox.ProjectName)" --format '{{.ID}}' | Sort-Object
        [pscustomobject]@{
            Containers = (docker inspect --format '{{.Id}} {{.Name}} {{.State.StartedAt}} {{.Config.Image}}' $ids | Sort-Object) -join "`n"
            Data       = Get-SandboxDataFingerprint $sandbox
            Files      = (Get-ChildItem -File -Force (Split-Path $sandbox.ComposeFile) | Get-FileHash | ForEach-Object { "$($_.Path)=$($_.Hash)" }) -join "`n"
        }
    }
    $script:backup = Get-Deployment | New-DeploymentBackup -Path (Join-Path $TestDrive 'backups') -Force
    $script:before = Get-ProductionState
}
AfterAll {
    # Whatever a failed test left: copies are recognised by their label.
    $left = Get-CopyContainer
    if ($left) { docker rm -f $left | Out-Null }
    $volumes = Get-CopyVolume
    if ($volumes) { docker volume rm -f $volumes | Out-Null }
}

Describe 'Invoke-UpgradeRehearsal' -Tag 'Sandbox', 'Rehearsal' {
    It '-WhatIf says what it would do and creates nothing' {
        $out = Invoke-WhatIf "Get-DeploymentBackup -Path '$(Split-Path $backup.Path)' | Invoke-UpgradeRehearsal -To 1.8.0 -WhatIf"
        $out | Should -Match 'What if: .*Rehearse 1\.6\.4 → 1\.7\.6 → 1\.8\.0 .*disposable copy'
        $out | Should -Match "restore backup $([regex]::Escape($backup.Id))"
        Get-CopyContainer | Should -BeNullOrEmpty
    }

    It 'refuses a path that is not supported before creating anything' {
        $err = Get-ErrorFrom { $backup | Invoke-UpgradeRehearsal -To 1.5.0 -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'UpgradePathNotSupported,*'
        Get-CopyContainer | Should -BeNullOrEmpty
    }

    It 'keeps a copy with -Keep: it serves the new version on ports of its own' {
        # Run in another process, which then exits: the kept copy's owner is gone, as after a crash.
        $script:kept = Join-Path $TestDrive 'kept.json'
        $pwsh = Join-Path $PSHOME 'pwsh'
        $command = "Import-Module '$env:UPGRADEOPS_MODULE'; `$r = Get-DeploymentBackup -Path '$(Split-Path $backup.Path)' | " +
                   "Invoke-UpgradeRehearsal -To 1.7.6 -Keep -Force -WorkingDirectory '$copies'; " +
                   "`$r | Select-Object @{ n = 'Status'; e = { [string]`$_.Status } }, CopyName, CopyLocation, Kept, Warnings, Errors | ConvertTo-Json | Set-Content '$kept'"
        & $pwsh -NoProfile -NonInteractive -Command $command | Out-Null
        $report = Get-Content -Raw $kept | ConvertFrom-Json
        $report.Status | Should -Be 'Passed' -Because (@($report.Errors) + @($report.Warnings) -join '; ')
        $report.Kept | Should -BeTrue
        $report.Warnings -join ' ' | Should -Match 'docker rm -f'
        $copy = Get-UpgradeDeployment -ComposeFile $report.CopyLocation -Profile $profilePath -WarningAction SilentlyContinue
        $copy.Name | Should -Be $report.CopyName
        $copy.Version | Should -Be '1.7.6'
        $copy.IsRehearsalCopy | Should -BeTrue
        # Its port map (profile port → the copy's) survives JSON and CliXml.
        Assert-RoundTrip $copy -Type UpgradeOps.Deployment -Secret (Get-DotEnvSecret $sandbox.Path)
        $copy.ApiEndpoint | Should -Not -Be 'http://127.0.0.1:58000'
        (Invoke-RestMethod "$($copy.ApiEndpoint)/api/info").version | Should -Be '1.7.6'
        (Invoke-RestMethod 'http://127.0.0.1:58000/api/info').version | Should -Be '1.6.4'
    }

    It 'leaves a copy behind when its process is killed (SIGKILL) half-way' -Tag 'Fault' {
        $kept = @(docker ps -a --filter label=io.upgradeops.rehearsal.id --filter $ownCopies --format '{{.Label "io.upgradeops.rehearsal.id"}}' | Sort-Object -Unique)
        $pwsh = Join-Path $PSHOME 'pwsh'
        $command = "Import-Module '$env:UPGRADEOPS_MODULE'; Get-DeploymentBackup -Path '$(Split-Path $backup.Path)' | " +
                   "Invoke-UpgradeRehearsal -To 1.7.6 -Force -WorkingDirectory '$copies'"
        $process = Start-Process -FilePath $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command -PassThru `
            -RedirectStandardOutput (Join-Path $TestDrive 'killed.log') -RedirectStandardError (Join-Path $TestDrive 'killed.err')
        # Killed once its copy's application runs (the restore is done), in the middle of the rehearsal. 180 s: with the
        # Infrahub sandbox's rehearsal beside it (another test process), one run took more than 90 s to get there.
        $deadline = (Get-Date).AddSeconds(180)
        do {
            Start-Sleep -Milliseconds 250
            $running = @(@(docker ps --filter label=io.upgradeops.rehearsal.id --filter $ownCopies --filter label=com.docker.compose.service=server-a --format '{{.Label "io.upgradeops.rehearsal.id"}}') |
                Where-Object { $_ -and $_ -notin $kept })
        } until ($running.Count -gt 0 -or (Get-Date) -gt $deadline -or $process.HasExited)
        $process.HasExited | Should -BeFalse -Because (Get-Content -Raw (Join-Path $TestDrive 'killed.err') -ErrorAction SilentlyContinue)
        $running | Should -Not -BeNullOrEmpty
        Stop-Process -Id $process.Id -Force
        $process.WaitForExit()
        @(docker ps -aq --filter "label=io.upgradeops.rehearsal.id=$($running[0])").Count | Should -BeGreaterThan 0
        # (The killed run had itself removed the copy kept above: its owner had exited.)
        @(Get-CopyContainer).Count | Should -BeGreaterThan 0
        $script:killedId = $running[0]
    }

    It 'rehearses 1.6.4 -> 1.8.0 with measured durations and a passed validation, while the sandbox keeps serving unchanged' {
        # The sandbox's API is probed all along: a rehearsal must not cost production a single request.
        $probe = Start-ThreadJob {
            $failed = 0; $ok = 0
            while (-not (Test-Path $using:TestDrive/stop-probe)) {
                try { Invoke-RestMethod 'http://127.0.0.1:58000/api/info' -TimeoutSec 2 | Out-Null; $ok++ } catch { $failed++ }
                Start-Sleep -Milliseconds 100
            }
            [pscustomobject]@{ Ok = $ok; Failed = $failed }
        }
        try {
            $report = $backup | Invoke-UpgradeRehearsal -To 1.8.0 -Force -WorkingDirectory $copies
        }
        finally {
            New-Item -ItemType File "$TestDrive/stop-probe" | Out-Null
            $served = $probe | Wait-Job | Receive-Job
            $probe | Remove-Job
        }
        $report.Status | Should -Be 'Passed' -Because ($report.Errors -join '; ')
        $report.Route | Should -Be '1.6.4 → 1.7.6 → 1.8.0'
        $report.Hops.Count | Should -Be 2
        foreach ($hop in $report.Hops) {
            $hop.Status | Should -Be 'Succeeded'
            $hop.Duration | Should -BeGreaterThan ([timespan]::Zero)
            $hop.Migration | Should -BeGreaterThan ([timespan]::Zero)
            $hop.ApiUnavailable | Should -BeGreaterThan ([timespan]::Zero)
        }
        $report.Downtime | Should -BeGreaterThan ([timespan]::Zero)
        $report.Restore | Should -BeGreaterThan ([timespan]::Zero)
        $report.Validation.Passed | Should -BeTrue
        ($report.Validation.Checks | Where-Object Name -eq ApiVersion).Detail | Should -Match '1\.8\.0'
        $report.EstimatedWindow | Should -BeGreaterThan ([timespan]::Zero)
        $report.EstimateBasis | Should -Match 'measured on a copy'
        # The copy left by the killed run above has no living owner: this run removed it first.
        ($report.Warnings -join ' ') | Should -Match "Removed 1 copy.*$killedId"
        @(docker ps -aq --filter "label=io.upgradeops.rehearsal.id=$killedId").Count | Should -Be 0
        Get-CopyContainer | Should -BeNullOrEmpty
        Get-CopyVolume | Should -BeNullOrEmpty
        @(Get-ChildItem $copies -ErrorAction SilentlyContinue).Count | Should -Be 0

        $served.Failed | Should -Be 0
        $served.Ok | Should -BeGreaterThan 10
        $after = Get-ProductionState
        $after.Containers | Should -Be $before.Containers
        $after.Data.TableRows | Should -Be $before.Data.TableRows
        $after.Data.ArtifactChecksums | Should -Be $before.Data.ArtifactChecksums
        $after.Data.StorageFiles | Should -Be $before.Data.StorageFiles
        $after.Files | Should -Be $before.Files
        (Get-Deployment).Version | Should -Be '1.6.4'
        $script:report = $report
    }

    It 'feeds Test-UpgradeReadiness, Test-UpgradePath and Export-UpgradeReport' {
        $report | Should -Not -BeNullOrEmpty
        $readiness = Get-Deployment | Test-UpgradeReadiness -To 1.8.0 -Backup $backup -Rehearsal $report
        ($readiness.Checks | Where-Object Name -eq Rehearsal).Status | Should -Be 'Passed'
        $path = Get-Deployment | Test-UpgradePath -To 1.8.0 -Rehearsal $report
        $path.RehearsalId | Should -Be $report.Id
        $path.MeasuredWindow | Should -Be $report.EstimatedWindow
        # The report as Import-Clixml gives it back (handed over a day later) feeds them the same.
        $handedOver = Assert-RoundTrip $report -Type UpgradeOps.RehearsalReport -Secret (Get-DotEnvSecret $sandbox.Path) -PassThru
        $readiness = Get-Deployment | Test-UpgradeReadiness -To 1.8.0 -Backup $backup -Rehearsal $handedOver
        ($readiness.Checks | Where-Object Name -eq Rehearsal).Status | Should -Be 'Passed'
        (Get-Deployment | Test-UpgradePath -To 1.8.0 -Rehearsal $handedOver).MeasuredWindow | Should -Be $report.EstimatedWindow
        $handedOverFile = $handedOver | Export-UpgradeReport -Path (Join-Path $TestDrive 'change-kept.md') -Profile $profilePath
        Get-Content -Raw $handedOverFile.FullName | Should -Match '1\.6\.4 → 1\.7\.6 → 1\.8\.0'
        $files = $report | Export-UpgradeReport -Path (Join-Path $TestDrive 'change.md') -NoticePath (Join-Path $TestDrive 'notice.md') `
            -MaintenanceStart '2026-12-01T22:00:00Z' -Profile $profilePath
        $files.Count | Should -Be 2
        $markdown = Get-Content -Raw (Join-Path $TestDrive 'change.md')
        $markdown | Should -Match '1\.6\.4 → 1\.7\.6 → 1\.8\.0'
        $markdown | Should -Match 'Invoke-Rollback|Restore-DeploymentBackup'
        $markdown | Should -Match 'ArtifactGeneration'
        $notice = Get-Content -Raw (Join-Path $TestDrive 'notice.md')
        $notice | Should -Match 'API unavailable'
        # No secret of the sandbox's .env reaches either file.
        $secrets = Get-Content (Join-Path (Split-Path $sandbox.ComposeFile) '.env') | Where-Object { $_ -match '(PASSWORD|SECRET|KEY)=(.+)' } | ForEach-Object { $Matches[2] }
        foreach ($secret in $secrets) { $markdown + $notice | Should -Not -Match ([regex]::Escape($secret)) }
    }

    It 'fails with the upgrade''s own error when the target version cannot be upgraded to, and still removes the copy' -Tag 'Fault' {
        # 1.7.7 is the withdrawn build whose migration fails.
        $report = $backup | Invoke-UpgradeRehearsal -To 1.7.7 -AvailableVersion 1.7.7 -Force -WorkingDirectory $copies -ErrorVariable failure -ErrorAction SilentlyContinue
        $report.Status | Should -Be 'Failed'
        ($report.Errors -join ' ') | Should -Match 'MigrationFailed'
        Assert-RoundTrip $report -Type UpgradeOps.RehearsalReport -Secret (Get-DotEnvSecret $sandbox.Path)
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'RehearsalFailed,*'
        Get-CopyContainer | Should -BeNullOrEmpty
        (Get-Deployment).Version | Should -Be '1.6.4'
    }

    It 'removes its copy when it is stopped like Ctrl+C' -Tag 'Fault' {
        $module = $env:UPGRADEOPS_MODULE
        $backupFolder = Split-Path $backup.Path
        $job = Start-ThreadJob {
            Import-Module $using:module
            Get-DeploymentBackup -Path $using:backupFolder | Invoke-UpgradeRehearsal -To 1.7.6 -Force -WorkingDirectory $using:copies
        }
        $deadline = (Get-Date).AddSeconds(90)
        do { Start-Sleep -Milliseconds 250 } until (@(Get-CopyContainer).Count -gt 0 -or (Get-Date) -gt $deadline)
        Get-CopyContainer | Should -Not -BeNullOrEmpty
        Start-Sleep -Seconds 2
        $job | Stop-Job
        $job | Remove-Job -Force
        $deadline = (Get-Date).AddSeconds(60)
        while (((Get-CopyContainer) -or (Get-CopyVolume)) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 500 }
        Get-CopyContainer | Should -BeNullOrEmpty
        Get-CopyVolume | Should -BeNullOrEmpty
        (Get-Deployment).Version | Should -Be '1.6.4'
    }
}

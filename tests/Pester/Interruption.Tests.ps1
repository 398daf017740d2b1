# An upgrade whose pwsh is killed (SIGKILL) at each step boundary and in the middle of its migration is brought
# back to serving, with no data lost. Every boundary is killed and recovered; the two recoveries take turns along the
# steps (Invoke-Rollback at one boundary, Invoke-Upgrade -Resume at the next), and both run where the state is the
# most delicate (about to migrate, API containers being swapped) and in the middle of the migration. What each
# recovery does from every boundary is decided by ComposeUpgradePlan / ComposeRollbackPlan, whose xunit tests cover
# each step for both; this file proves them end to end on the sandbox in about half the time of both at every step.
BeforeDiscovery {
    $script:rollbacks = @('pull images', 'stop workers', 'migrate', 'recreate API', 'update compose files') | ForEach-Object { @{ Step = $_ } }
    $script:resumes = @('configuration', 'stop API', 'migrate', 'recreate API', 'recreate workers', 'clean up') | ForEach-Object { @{ Step = $_ } }
}

BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'SandboxFixture.ps1')
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:sandbox = Use-TestSandbox -Version 1.7.5
    $script:backups = Join-Path $TestDrive 'backups'
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    function Get-Deployment { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue }

    $script:baseline = Get-SandboxDataFingerprint $sandbox
    $script:backup = Get-Deployment | New-DeploymentBackup -Path $backups -Force
    $script:journalFolder = Join-Path $sandbox.Path '.upgradeops/journal'

    # Starts Invoke-Upgrade from 1.7.5 in its own pwsh and kills it (SIGKILL) when the journal says the given
    # step of the first hop is about to run (or, with -MigrationLine, when the migration has logged that text).
    function Invoke-KilledUpgrade([string] $Step, [string] $MigrationLine, [string] $To = '1.7.6') {
        $before = @(Get-ChildItem $journalFolder -Filter *.json -ErrorAction SilentlyContinue | ForEach-Object FullName)
        $pause = if ($Step) { "`$env:UPGRADEOPS_PAUSE_AT_STEP = 'hop1:$Step'; " } else { '' }
        $script = $pause + "Import-Module '$env:UPGRADEOPS_MODULE'; " +
            "`$d = Get-UpgradeDeployment -ComposeFile '$($sandbox.ComposeFile)' -Profile '$profilePath' -WarningAction SilentlyContinue; " +
            "`$b = Get-DeploymentBackup -Path '$($backup.Path)'; " +
            "Invoke-Upgrade -Deployment `$d -To $To -Backup `$b -Force -Verbose 4>&1 3>&1 | ForEach-Object { `"`$_`" }"
        $log = Join-Path $TestDrive "upgrade-$([guid]::NewGuid().ToString('N')).log"
        $process = Start-Process -FilePath $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $script -PassThru -RedirectStandardOutput $log -RedirectStandardError "$log.err"
        $deadline = (Get-Date).AddSeconds(120)
        while ((Get-Date) -lt $deadline -and -not $process.HasExited) {
            if ($MigrationLine) {
                if ((Test-Path $log) -and (Select-String -Path $log -Pattern $MigrationLine -SimpleMatch -Quiet)) { break }
            }
            elseif ((Test-Path $log) -and (Select-String -Path $log -Pattern "paused before hop1:$Step until" -SimpleMatch -Quiet)) {
                # The engine stops right after writing the step into its journal (UPGRADEOPS_PAUSE_AT_STEP).
                $journal = Get-ChildItem $journalFolder -Filter *.json | Where-Object FullName -notin $before | Select-Object -First 1
                (Get-Content -Raw $journal.FullName | ConvertFrom-Json).current | Should -Be "hop1:$Step"
                break
            }
            # The engine waits at its step (or the migration runs for seconds): polling 10 times a second is enough, and
            # leaves the two cores to the pwsh that starts the upgrade.
            Start-Sleep -Milliseconds 100
        }
        $process.HasExited | Should -BeFalse -Because "the upgrade must still run when it is killed at '$Step$MigrationLine' (log: $(Get-Content -Raw $log -ErrorAction SilentlyContinue) $(Get-Content -Raw "$log.err" -ErrorAction SilentlyContinue))"
        Stop-Process -Id $process.Id -Force   # SIGKILL on Linux: no finally block runs
        $process.WaitForExit()
    }

    function Assert-ServingWithData([string] $Version) {
        $d = Get-Deployment
        $d.Version | Should -Be $Version
        $d.ConfiguredVersion | Should -Be $Version
        $d.Healthy | Should -BeTrue
        $data = Get-SandboxDataFingerprint $sandbox
        $data.ArtifactRows | Should -Be $baseline.ArtifactRows
        $data.StorageFiles | Should -Be $baseline.StorageFiles
        if ($Version -eq '1.7.5') { $data.ArtifactChecksums | Should -Be $baseline.ArtifactChecksums }
        # This sandbox's containers only: the Infrahub sandbox in another test process makes such containers of its own.
        docker ps -a --filter "name=^/$($sandbox.ProjectName)" --format '{{.Names}}' | Should -Not -Match 'upgradeops-previous|upgradeops-migrate'
    }
}

Describe 'An upgrade killed at <Step>' -Tag 'Sandbox', 'Interruption', 'Fault' -ForEach $rollbacks {
    It 'is undone by Invoke-Rollback' {
        Invoke-KilledUpgrade -Step $Step
        $rollback = Invoke-Rollback -Deployment (Get-Deployment) -Force
        $rollback.Status | Should -Be 'Succeeded' -Because ($rollback.Steps | Format-Table -AutoSize | Out-String)
        Assert-ServingWithData '1.7.5'
    }
}

Describe 'An upgrade killed at <Step>' -Tag 'Sandbox', 'Interruption', 'Fault' -ForEach $resumes {
    It 'is finished by Invoke-Upgrade -Resume' {
        Invoke-KilledUpgrade -Step $Step
        $resumed = Invoke-Upgrade -Deployment (Get-Deployment) -Resume -Force
        $resumed.Status | Should -Be 'Succeeded' -Because (($resumed.Steps | Format-Table -AutoSize | Out-String) + $resumed.Error)
        Assert-ServingWithData '1.7.6'
        # Back to the start for the next boundary.
        (Invoke-Rollback -Deployment (Get-Deployment) -Force).Status | Should -Be 'Succeeded'
        Assert-ServingWithData '1.7.5'
    }
}

# Ctrl+C (StopProcessing) differs from a kill: the engine's own handler runs. It records the upgrade as Interrupted and,
# by default (serve the previous version on failure), brings the old version back to serving before it returns; the
# recovery must then still finish or undo it. The two most delicate boundaries, one recovery each. Before the migration
# test below: it ends at 1.8.0, and its backup lives in that Describe's TestDrive, which Pester empties when it ends.
Describe 'An upgrade stopped like Ctrl+C at <Step>' -Tag 'Sandbox', 'Interruption', 'Fault' -ForEach @(
    @{ Step = 'migrate'; Recovery = 'Resume' }, @{ Step = 'recreate API'; Recovery = 'Rollback' }
) {
    It 'is recorded as Interrupted, serves, and is finished by <Recovery>' {
        $null = Stop-JobAtStep -Step "hop1:$Step" -ArgumentList $env:UPGRADEOPS_MODULE, $sandbox.ComposeFile, $profilePath, $backup.Path -Command {
            param($module, $composeFile, $profilePath, $backupPath)
            Import-Module $module
            $d = Get-UpgradeDeployment -ComposeFile $composeFile -Profile $profilePath -WarningAction SilentlyContinue
            Invoke-Upgrade -Deployment $d -To 1.7.6 -Backup (Get-DeploymentBackup -Path $backupPath) -Force
        }

        $history = Get-UpgradeHistory -Deployment (Get-Deployment) | Where-Object Operation -eq 'Upgrade' | Select-Object -First 1
        $history.Status | Should -Be 'Interrupted'
        $d = Get-Deployment
        $d.Healthy | Should -BeTrue -Because 'the handler brings the previous version back to serving before it returns'

        if ($Recovery -eq 'Resume') {
            $resumed = Invoke-Upgrade -Deployment $d -Resume -Force
            $resumed.Status | Should -Be 'Succeeded' -Because (($resumed.Steps | Format-Table -AutoSize | Out-String) + $resumed.Error)
            Assert-ServingWithData '1.7.6'
            (Invoke-Rollback -Deployment (Get-Deployment) -Force).Status | Should -Be 'Succeeded'
        }
        else {
            $rollback = Invoke-Rollback -Deployment $d -Force
            $rollback.Status | Should -Be 'Succeeded' -Because ($rollback.Steps | Format-Table -AutoSize | Out-String)
        }
        Assert-ServingWithData '1.7.5'
    }
}

Describe 'An upgrade killed in the middle of its migration' -Tag 'Sandbox', 'Interruption', 'Fault' {
    It 'is undone by Invoke-Rollback and finished by -Resume (1.7.5 -> 1.8.0, killed in 1.8.0''s data migration)' {
        # 1.8.0 rewrites every bulk row in batches; small, slow batches make the kill land inside it.
        $envFile = Join-Path $sandbox.Path '.env'
        $original = Get-Content -Raw $envFile
        Set-Content -NoNewline -Path $envFile -Value ($original + "APP_MIGRATION_BATCH_SIZE=1000`nAPP_MIGRATION_BATCH_DELAY_MS=300`n")
        (Invoke-SandboxCompose -Arguments up, -d).ExitCode | Should -Be 0
        Wait-SandboxHealthy | Out-Null
        $script:backup = Get-Deployment | New-DeploymentBackup -Path $backups -Force

        Invoke-KilledUpgrade -To 1.8.0 -MigrationLine 'migrating '
        (Invoke-Rollback -Deployment (Get-Deployment) -Force).Status | Should -Be 'Succeeded'
        Assert-ServingWithData '1.7.5'

        Invoke-KilledUpgrade -To 1.8.0 -MigrationLine 'migrating '
        $resumed = Invoke-Upgrade -Deployment (Get-Deployment) -Resume -Force
        $resumed.Status | Should -Be 'Succeeded' -Because $resumed.Error
        Assert-ServingWithData '1.8.0'
    }
}

# Invoke-Upgrade on a Helm release watches the rollout and can run the migration by pod exec: the sandbox chart installed by
# the real helm v4 into the test API server started with -RunContainers (tests/KubeApiServer/Kubelet.cs runs the workloads as
# Docker containers; their status follows the containers). A second profile, derived here from tests/Sandbox/profile.yml,
# names migration.kubernetesExec instead of the chart's Job; the chart's hook is then disabled (migration.enabled=false) and
# its servers and workers wait for the migration (migration.waitInPods). Then the rollouts that do not finish: an image that
# cannot be pulled, a server that crashes. Ports come from 56600-56699; the containers (upgradeops-kubetest-*) go with the
# server. Verified against that test server only, never a real cluster.
BeforeAll {
    # Saved first: if anything below fails, AfterAll still restores it and stops the test server.
    $script:savedDataHome = $env:XDG_DATA_HOME
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    # The exec profile: the same sandbox, its migration run in a server pod (server-a's workload) instead of the chart's Job.
    $script:execProfile = Join-Path $TestDrive 'profile-exec.yml'
    $profileText = Get-Content -Raw $profilePath
    if ($profileText -notmatch '(?m)^  kubernetesJob: migration$') { throw 'tests/Sandbox/profile.yml no longer names kubernetesJob: migration' }
    ($profileText -replace '(?m)^  kubernetesJob: migration$', '  kubernetesExec: server-a') | Set-Content $execProfile
    $script:execValues = Join-Path $TestDrive 'values-exec.yaml'
    "migration:`n  enabled: false`n  waitInPods: true`n" | Set-Content $execValues
    $script:password = "kube-roll-$([guid]::NewGuid().ToString('n').Substring(0, 12))"

    $script:dbPort, $script:cachePort, $script:apiPort = Get-KubeTestFreePort 3
    $script:api = "http://127.0.0.1:$apiPort"
    $script:server = Start-KubeTestServer -RunContainers
    $script:helm = Get-Helm
    $script:db = "$($server.ContainerPrefix)-hr-hr-sandbox-database"
    $install = Invoke-TestHelm $server install hr $chart -n hr --create-namespace --timeout 120s --set "database.port=$dbPort" `
        --set "cache.port=$cachePort" --set "server.port=$apiPort" --set "database.password=$password"
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }

    function Get-Hr([string] $ProfilePath = $execProfile) {
        Get-UpgradeDeployment -Namespace hr -Release hr -Kubeconfig $server.KubeconfigPath -Profile $ProfilePath -WarningAction SilentlyContinue
    }
    function Wait-Healthy([int] $Seconds = 90) { Wait-KubeTestRelease { Get-Hr } $Seconds }
    function Invoke-Sql([string] $Sql) { Invoke-KubeTestSql $db $dbPort $password $Sql }
    function Get-ApiVersion { Get-KubeTestApiVersion $api }
    # Runs an upgrade with -Verbose: the result, the progress mirrored to Verbose (as Azure Automation records it), the errors.
    function Invoke-Watched([hashtable] $Parameters) {
        $records = Invoke-Upgrade @Parameters -HelmPath $helm -Chart $chart -Force -Verbose -ErrorVariable +upgradeErrors -ErrorAction SilentlyContinue 4>&1
        [pscustomobject]@{
            Result  = $records | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
            Verbose = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
            Errors  = @($upgradeErrors)
        }
    }
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
}
AfterAll {
    if ($script:blocker) { $script:blocker.Stop() }
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
}

Describe 'Invoke-Upgrade on a Helm release: rollout watch and migration by pod exec' -Tag 'Kubernetes', 'Helm' {
    It 'runs the release at 1.7.5 with the schema the install Job made' {
        $d = Wait-Healthy
        $d.Version | Should -Be '1.7.5'
        Get-ApiVersion | Should -Be '1.7.5'
    }

    It 'refuses MigrationJobNotRendered, naming the value to set, when the chart renders no migration Job and no pod exec is named, and changes nothing' {
        # The sandbox profile names the chart's Job; the release's values disable it (migration.enabled=false), as Infrahub's
        # later charts leave upgrade.enabled false by default. Before, the upgrade went on and the migration never ran.
        $jobOnly = Join-Path $TestDrive 'profile-job-only.yml'
        (Get-Content -Raw $profilePath).Replace("  kubernetesJob: migration`n", "  kubernetesJob: migration`n  kubernetesJobEnabledBy: migration.enabled=true`n") | Set-Content $jobOnly
        $before = (Get-Hr -ProfilePath $jobOnly).Revision
        $prelude = "Import-Module '$env:UPGRADEOPS_MODULE'; `$d = Get-UpgradeDeployment -Namespace hr -Release hr -Kubeconfig '$($server.KubeconfigPath)' -Profile '$jobOnly' -WarningAction SilentlyContinue; "
        $whatIf = (& (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command ($prelude +
            "`$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart '$chart' -ValuesFile '$execValues' -HelmPath '$helm' -SkipBackup -WhatIf") 2>&1) -join "`n"
        $whatIf | Should -Match 'Set migration\.enabled=true'
        $err = try { Get-Hr -ProfilePath $jobOnly | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -ValuesFile $execValues -HelmPath $helm -SkipBackup -Force -ErrorAction Stop | Out-Null; $null } catch { $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'MigrationJobNotRendered,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err.Exception.Message | Should -Match "renders no migration Job 'migration' for the upgrade to 1\.7\.6"
        $err.Exception.Message | Should -Match 'Set migration\.enabled=true'
        $err.Exception.Message | Should -Match 'migration\.kubernetesExec'
        $after = Get-Hr -ProfilePath $jobOnly
        $after.Revision | Should -Be $before
        $after.Version | Should -Be '1.7.5'
    }

    It 'with both kubernetesJob and kubernetesExec, -WhatIf names the pod exec because the chart renders no Job, and the Job when it does' {
        $both = Join-Path $TestDrive 'profile-both.yml'
        (Get-Content -Raw $execProfile).Replace("  kubernetesExec: server-a", "  kubernetesExec: server-a`n  kubernetesJob: migration`n  kubernetesJobEnabledBy: migration.enabled=true") | Set-Content $both
        $prelude = "Import-Module '$env:UPGRADEOPS_MODULE'; `$d = Get-UpgradeDeployment -Namespace hr -Release hr -Kubeconfig '$($server.KubeconfigPath)' -Profile '$both' -WarningAction SilentlyContinue; "
        $disabled = (& (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command ($prelude +
            "`$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart '$chart' -ValuesFile '$execValues' -HelmPath '$helm' -SkipBackup -WhatIf") 2>&1) -join "`n"
        $disabled | Should -Match "the migration 'sandbox upgrade' by pod exec in a pod of server-a \(server\) at the new version, because the chart renders no Job 'migration' for this upgrade \(set migration\.enabled=true"
        $disabled | Should -Not -Match ' --wait'
        $enabled = Join-Path $TestDrive 'values-job.yaml'
        "migration:`n  enabled: true`n" | Set-Content $enabled
        $rendered = (& (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command ($prelude +
            "`$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart '$chart' -ValuesFile '$enabled' -HelmPath '$helm' -SkipBackup -WhatIf") 2>&1) -join "`n"
        $rendered | Should -Match "the migration by the chart's Job hr-sandbox-migrat\S*, which helm runs as a hook"
        $rendered | Should -Match ' --wait'
        (Get-Hr).Version | Should -Be '1.7.5'
    }

    It 'shows the helm command without --wait and the exec migration with -WhatIf' {
        $prelude = "Import-Module '$env:UPGRADEOPS_MODULE'; `$d = Get-UpgradeDeployment -Namespace hr -Release hr -Kubeconfig '$($server.KubeconfigPath)' -Profile '$execProfile' -WarningAction SilentlyContinue; "
        $text = (& (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command ($prelude +
            "`$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart '$chart' -ValuesFile '$execValues' -SkipBackup -WhatIf") 2>&1) -join "`n"
        $text | Should -Match 'helm upgrade hr \S+ -n hr --timeout \d+s'
        $text | Should -Not -Match ' --wait'
        $text | Should -Match "the migration 'sandbox upgrade' by pod exec in a pod of server-a \(server\) at the new version"
        (Get-Hr).Version | Should -Be '1.7.5'
    }

    It 'upgrades to 1.7.6 with the migration run by exec in a new server pod, showing each workload''s progress' {
        $run = Invoke-Watched @{ Deployment = (Get-Hr); To = '1.7.6'; SkipBackup = $true; ValuesFile = $execValues; HealthTimeout = '00:02:00'; ApiEndpoint = $api }
        $r = $run.Result
        $r.Status | Should -Be 'Succeeded' -Because $r.Error
        # The API probed through the upgrade at -ApiEndpoint, as on Compose (a release has no endpoint of its own).
        # The old servers go and the new ones answer only once the migration ran in one of them, so the API is down a while.
        Write-Host "API downtime during the Helm upgrade: $($r.Downtime.TotalSeconds) s of $($r.Duration.TotalSeconds) s"
        $r.Downtime | Should -BeGreaterThan ([TimeSpan]::Zero)
        $r.Downtime | Should -BeLessThan $r.Duration
        $r.Steps.Name | Should -Be @('configuration', 'helm upgrade', 'migration', 'rollout', 'verify release')
        ($r.Steps | Where-Object Name -eq 'helm upgrade').Detail | Should -Match 'applied without --wait'
        ($r.Steps | Where-Object Name -eq 'migration').Detail | Should -Match '^sandbox upgrade in pod hr/hr-sandbox-server-\S+ \(hr-sandbox-server\) finished$'
        $migration = $r.MigrationOutput -join "`n"
        $migration | Should -Match '1\.7\.5 → 1\.7\.6: sandbox upgrade in pod hr/hr-sandbox-server-\S+ exited with code 0'
        $migration | Should -Match 'database schema is now at 1\.7\.6'
        Invoke-Sql "SELECT count(*) FROM schema_migrations WHERE version = '1.7.6'" | Should -Be '1'

        # Each changed workload: time to ready; the database and the cache did not change.
        $servers = $r.Rollout | Where-Object Workload -eq 'hr-sandbox-server'
        $servers.Role | Should -Be 'Api'
        $servers.Changed | Should -BeTrue
        $servers.Replicas | Should -Be 2
        $servers.Ready | Should -Be 2
        $servers.TimeToReady | Should -BeGreaterThan ([TimeSpan]::Zero)
        ($r.Rollout | Where-Object Workload -eq 'hr-sandbox-worker').TimeToReady | Should -Not -BeNullOrEmpty
        ($r.Rollout | Where-Object Workload -eq 'hr-sandbox-database').Changed | Should -BeFalse
        ($r.Steps | Where-Object Name -eq 'rollout').Detail | Should -Match 'hr-sandbox-server \(Api\) 2/2 updated, 2/2 ready [\d.]+ s after its new spec'
        ($r.Steps | Where-Object Name -eq 'rollout').Detail | Should -Match 'unchanged and ready: hr-sandbox-cache, hr-sandbox-database'

        # Progress per workload, mirrored to Verbose: the servers wait (updated, not ready) until the migration ran in one of them.
        $progress = $run.Verbose -join "`n"
        $progress | Should -Match 'Rollout of hr-sandbox-server \(Api\): 2/2 updated, 0/2 ready'
        $progress | Should -Match 'Rollout of hr-sandbox-server \(Api\): 2/2 updated, 2/2 ready \(100%\)'
        $progress | Should -Match 'Rollout of hr-sandbox-worker \(Worker\): 2/2 updated, 2/2 ready'
        $progress | Should -Match 'Migrating to 1\.7\.6: sandbox upgrade in pod hr/hr-sandbox-server-\S+: '
        $progress | Should -Not -Match 'Rollout of hr-sandbox-database'

        $journal = Get-Content -Raw $r.JournalPath
        $journal | Should -Not -Match ([regex]::Escape($password))
        $saved = $journal | ConvertFrom-Json
        ($saved.Result.Rollout | Where-Object Workload -eq 'hr-sandbox-server').TimeToReady | Should -Not -BeNullOrEmpty
        ($saved.Result.MigrationOutput -join "`n") | Should -Match 'database schema is now at 1\.7\.6'
        (Get-UpgradeHistory -Deployment (Get-Hr) | Select-Object -First 1).Rollout.Workload | Should -Contain 'hr-sandbox-server'
        Get-ApiVersion | Should -Be '1.7.6'
    }

    It 'fails with MigrationFailed when the command exits non-zero in the pod (the withdrawn 1.7.7), its output in the result and the journal' -Tag 'Fault' {
        $script:beforeFailed = Get-Hr
        $run = Invoke-Watched @{ Deployment = $beforeFailed; To = '1.7.7'; AvailableVersion = '1.7.7'; SkipBackup = $true; HealthTimeout = '00:01:30' }
        $r = $run.Result
        $r.Status | Should -Be 'Failed'
        $r.ErrorId | Should -Be 'MigrationFailed'
        ($r.Steps | Where-Object Name -eq 'migration').Status | Should -Be 'Failed'
        $r.Steps.Name | Should -Not -Contain 'rollout'
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'MigrationFailed,*'
        $run.Errors[0].Exception.Message | Should -Match 'The migration to 1\.7\.7 in pod hr/hr-sandbox-server-\S+ failed with exit code 1: .*migration 1\.7\.7 failed'
        ($r.MigrationOutput -join "`n") | Should -Match '1\.7\.6 → 1\.7\.7 \(failed\): sandbox upgrade in pod hr/\S+ exited with code 1'
        $journal = Get-Content -Raw $r.JournalPath | ConvertFrom-Json
        $journal.Result.ErrorId | Should -Be 'MigrationFailed'
        $journal.Current | Should -Be 'migration'
        ($journal.Result.MigrationOutput -join "`n") | Should -Match 'migration 1\.7\.7 failed: '
        (Get-Content -Raw $r.JournalPath) | Should -Not -Match ([regex]::Escape($password))
        Invoke-Sql "SELECT count(*) FROM schema_migrations WHERE version = '1.7.7'" | Should -Be '0'
    }

    It 'returns to 1.7.6 with Invoke-Rollback (helm rollback; no backup was taken)' {
        $rollback = Invoke-Rollback -Deployment (Get-Hr) -HelmPath $helm -Force -WarningAction SilentlyContinue -Verbose 4>&1 |
            Tee-Object -Variable rollbackOutput | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] }
        $rollback.Status | Should -Be 'Succeeded'
        # The way back is watched like the way up: each workload's progress, and its time to ready in the result.
        $rollback.Steps.Name | Should -Be @('helm rollback', 'rollout')
        $servers = $rollback.Rollout | Where-Object Workload -eq 'hr-sandbox-server'
        $servers.Changed | Should -BeTrue
        $servers.TimeToReady | Should -Not -BeNullOrEmpty
        ($rollbackOutput | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n" |
            Should -Match 'Rollout of hr-sandbox-server \(Api\): \d/2 updated'
        (Wait-Healthy).Version | Should -Be '1.7.6'
        Get-ApiVersion | Should -Be '1.7.6'
    }

    It 'rolls the failed exec migration to 1.7.7 back with -Backup -RollbackOnFailure: RolledBack, the backup''s data, schema and API at 1.7.6' -Tag 'Fault' {
        $before = Wait-Healthy
        $null = Invoke-Sql 'CREATE TABLE rollout_marker (id int PRIMARY KEY); INSERT INTO rollout_marker SELECT generate_series(1, 30);'
        $fresh = $before | New-DeploymentBackup -Path (Join-Path $TestDrive 'backups') -WarningAction SilentlyContinue
        $fresh.Components.Kind | Should -Contain 'PostgresDump'
        # Changed after the backup: the rollback must bring the backup's rows back, not keep these.
        $null = Invoke-Sql 'DELETE FROM rollout_marker WHERE id > 10'
        $run = Invoke-Watched @{ Deployment = $before; To = '1.7.7'; AvailableVersion = '1.7.7'; Backup = $fresh; RollbackOnFailure = $true; HealthTimeout = '00:01:30'
            ApiEndpoint = $api }
        $r = $run.Result
        $r.Status | Should -Be 'RolledBack' -Because $r.Error
        # The rollback scales the workloads to 0 while it restores the database: the probe at -ApiEndpoint saw the API gone.
        Write-Host "API downtime during the failed upgrade and its rollback: $($r.Downtime.TotalSeconds) s of $($r.Duration.TotalSeconds) s"
        $r.Downtime | Should -BeGreaterThan ([TimeSpan]::Zero)
        (Get-Content -Raw $r.JournalPath | ConvertFrom-Json).Result.Downtime | Should -Not -Be '00:00:00'
        $r.ErrorId | Should -Be 'MigrationFailed'
        ($r.Steps | Where-Object Name -eq 'migration').Status | Should -Be 'Failed'
        ($r.MigrationOutput -join "`n") | Should -Match '1\.7\.6 → 1\.7\.7 \(failed\): sandbox upgrade in pod hr/\S+ exited with code 1'
        $rollback = $r.Steps | Where-Object Name -eq 'rollback'
        $rollback.Status | Should -Be 'Succeeded'
        $rollback.Detail | Should -Match "databases restored from backup $([regex]::Escape($fresh.Id))"
        $run.Errors[0].Exception.Message | Should -Match "Backup $([regex]::Escape($fresh.Id))'s data was restored and the previous version serves again"
        (Get-Content -Raw $r.JournalPath | ConvertFrom-Json).Result.Status | Should -Be 'RolledBack'
        $d = Wait-Healthy
        $d.Version | Should -Be '1.7.6'
        $d.Revision | Should -BeGreaterThan $before.Revision
        Invoke-Sql 'SELECT count(*) FROM rollout_marker' | Should -Be '30'
        Invoke-Sql "SELECT count(*) FROM schema_migrations WHERE version = '1.7.7'" | Should -Be '0'
        Get-ApiVersion | Should -Be '1.7.6'
    }

    It 'names the workload whose pods cannot pull their image (RolloutTimedOut), waiting for a pod to run the migration in' {
        $run = Invoke-Watched @{ Deployment = (Get-Hr); To = '1.7.8'; AvailableVersion = '1.7.8'; SkipBackup = $true; HealthTimeout = '00:00:15' }
        $r = $run.Result
        $r.Status | Should -Be 'Failed'
        $r.ErrorId | Should -Be 'RolloutTimedOut'
        ($r.Steps | Where-Object Name -eq 'migration').Status | Should -Be 'Failed'
        $err = $run.Errors[0]
        $err.FullyQualifiedErrorId | Should -BeLike 'RolloutTimedOut,*'
        $err.CategoryInfo.Category | Should -Be 'OperationTimeout' -Because 'the failed result keeps the kind of its error'
        $r.ErrorCategory | Should -Be 'OperationTimeout'
        $err.Exception.Message | Should -Match 'The rollout of release hr/hr did not finish within 15 s\. Deployment hr/hr-sandbox-server \(Api\) has 2/2 updated, 0/2 ready'
        $err.Exception.Message | Should -Match 'hr-sandbox-server-\S+, hr-sandbox-server-\S+: (ErrImagePull|ImagePullBackOff) \(.*Failed to pull image "(127\.0\.0\.1|\*\*\*):5000/upgradeops/sandbox:1\.7\.8"'
        $err.Exception.Message | Should -Match 'No pod of it ran the new version, so the migration \(migration\.kubernetesExec\) could not start'
        ($r.Rollout | Where-Object Workload -eq 'hr-sandbox-server').Detail | Should -Match 'ImagePull'
        ($run.Verbose -join "`n") | Should -Match 'Rollout of hr-sandbox-server \(Api\): 2/2 updated, 0/2 ready \((ErrImagePull|ImagePullBackOff)\)'
        $rollback = Invoke-Rollback -Deployment (Get-Hr) -HelmPath $helm -Force -WarningAction SilentlyContinue
        $rollback.Status | Should -Be 'Succeeded'
        (Wait-Healthy).Version | Should -Be '1.7.6'
    }

    It 'names the crashing server and its last log line when helm upgrade --wait times out (RolloutTimedOut), with the chart''s migration Job' -Tag 'Fault' {
        # The servers of 1.8.0 are told to listen on a port this test holds: they exit and restart until the timeout.
        # Bound here, on a port the kernel gives: a port found free minutes earlier can be taken by then (CI saw
        # "Address already in use" once).
        $script:blocker = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $blocker.Start()
        $blockedPort = $blocker.LocalEndpoint.Port
        $values = Join-Path $TestDrive 'values-crash.yaml'
        "migration:`n  enabled: true`n  waitInPods: false`nserver:`n  port: $blockedPort`n" | Set-Content $values
        $run = Invoke-Watched @{ Deployment = (Get-Hr -ProfilePath $profilePath); To = '1.8.0'; SkipBackup = $true; ValuesFile = $values; HealthTimeout = '00:00:25' }
        $r = $run.Result
        $r.Status | Should -Be 'Failed'
        $r.ErrorId | Should -Be 'RolloutTimedOut'
        ($r.Steps | Where-Object Name -eq 'helm upgrade').Status | Should -Be 'Failed'
        ($r.MigrationOutput -join "`n") | Should -Match 'Job hr-sandbox-migrate succeeded'
        $message = $run.Errors[0].Exception.Message
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'RolloutTimedOut,*'
        $run.Errors[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $run.Errors[0].TargetObject.ErrorId | Should -Be 'RolloutTimedOut'
        $message | Should -Match 'Deployment hr/hr-sandbox-server \(Api\) has 2/2 updated, 0/2 ready'
        $message | Should -Match 'restarted \d+ times?, last exit code 1'
        # The release's values are masked in it, as in all that helm and the pods say: cache.host (127.0.0.1) among them.
        $message | Should -Match "last log line: '.*cannot listen on (127\.0\.0\.1|\*\*\*):$blockedPort"
        $message | Should -Match '\(helm: .+\)'
        $message | Should -Not -Match 'hr-sandbox-worker \('
        $servers = $r.Rollout | Where-Object Workload -eq 'hr-sandbox-server'
        $servers.TimeToReady | Should -BeNullOrEmpty
        $servers.Detail | Should -Match 'last exit code 1'
        ($r.Rollout | Where-Object Workload -eq 'hr-sandbox-worker').TimeToReady | Should -Not -BeNullOrEmpty
        $journal = Get-Content -Raw $r.JournalPath | ConvertFrom-Json
        $journal.Result.ErrorId | Should -Be 'RolloutTimedOut'
        ($journal.Result.Rollout | Where-Object Workload -eq 'hr-sandbox-server').Detail | Should -Match 'last exit code 1'
        # Get-UpgradeDiagnostic turns the journal into a finding that says what to fix and what to run, not a bare "upgrade failed".
        $diagnostic = Get-Hr -ProfilePath $profilePath | Get-UpgradeDiagnostic
        $finding = $diagnostic.Findings | Where-Object Id -eq 'RolloutTimedOut'
        $finding.Evidence | Should -Match 'hr-sandbox-server \(Api\)'
        $finding.Guidance | Should -Match 'CrashLoopBackOff.*Invoke-Rollback'
        $finding.Guidance | Should -Not -Match '-Resume'
    }
}

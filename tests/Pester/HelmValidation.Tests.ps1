# Issue 8's done-when on a Helm release with a real application behind it: the sandbox chart installed by the real helm v4
# into the test API server started with -RunContainers, which runs the release's workloads as Docker containers of their
# own image (PostgreSQL, Redis, the sandbox server and worker at the chart's tag) and its migration Job as a one-off
# container (tests/KubeApiServer/Kubelet.cs). Backup -> upgrade to 1.7.6 (migration Job, journal, values rule) ->
# Test-PostUpgrade -> Invoke-Rollback (with Test-UpgradeReadiness before the upgrade), Invoke-Upgrade -RequireReadiness refusing without a
# backup, then the broken 1.7.7 whose migration fails: once with -RollbackOnFailure (data and revision back), once without. Test-PostUpgrade and
# Test-UpgradeReadiness reach the API without -ApiEndpoint through the engine's port-forward (the server's pods/portforward), which is
# closed when they end or are stopped. Ports come from 56600-56699; the
# containers (upgradeops-kubetest-*) go with the server. Verified against that test server only, never a real cluster.
BeforeAll {
    # Saved first: if anything below fails, AfterAll still restores it and stops the test server.
    $script:savedDataHome = $env:XDG_DATA_HOME
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:password = "kube-val-$([guid]::NewGuid().ToString('n').Substring(0, 12))"

    $script:dbPort, $script:cachePort, $script:apiPort = Get-KubeTestFreePort 3
    $script:api = "http://127.0.0.1:$apiPort"
    $script:server = Start-KubeTestServer -RunContainers
    $script:helm = Get-Helm
    $script:db = "$($server.ContainerPrefix)-hv-hv-sandbox-database"
    # No --wait: the post-install migration Job creates the schema, and the servers become ready after it.
    $install = Invoke-TestHelm $server install hv $chart -n hv --create-namespace --timeout 120s --set "database.port=$dbPort" `
        --set "cache.port=$cachePort" --set "server.port=$apiPort" --set "database.password=$password"
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }

    function Get-Hv { Get-UpgradeDeployment -Namespace hv -Release hv -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
    function Wait-Healthy([int] $Seconds = 90) { Wait-KubeTestRelease { Get-Hv } $Seconds }
    function Invoke-Sql([string] $Sql) { Invoke-KubeTestSql $db $dbPort $password $Sql }
    function Get-ApiVersion { Get-KubeTestApiVersion $api }
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    # The port-forward the engine opened, from its Verbose line "Forwarding 127.0.0.1:LOCAL to pod NS/POD port PORT ...".
    function Get-Forward($Records) {
        foreach ($record in @($Records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })) {
            if ($record.Message -match '^Forwarding 127\.0\.0\.1:(?<local>\d+) to pod (?<pod>\S+) port (?<port>\d+)') {
                return [pscustomobject]@{ LocalPort = [int]$Matches.local; Pod = $Matches.pod; Port = [int]$Matches.port }
            }
        }
    }
    function Test-PortOpen([int] $Port) {
        $client = [Net.Sockets.TcpClient]::new()
        try { $client.Connect([Net.IPAddress]::Loopback, $Port); $true } catch { $false } finally { $client.Dispose() }
    }
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
    $script:backups = Join-Path $TestDrive 'backups'
}
AfterAll {
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
}

Describe 'A Helm release with its workloads running: backup, upgrade, validation, rollback' -Tag 'Kubernetes', 'Helm' {
    It 'runs the workloads as containers of their image, ready once the install migration made the schema' {
        $d = Wait-Healthy
        $d.Version | Should -Be '1.7.5'
        ($d.Services | Where-Object Name -eq 'hv-sandbox-server').Replicas | Should -Be 2
        Get-ApiVersion | Should -Be '1.7.5'
        & docker inspect -f '{{.Config.Image}}' "$($server.ContainerPrefix)-hv-hv-sandbox-server" | Should -Be '127.0.0.1:5000/upgradeops/sandbox:1.7.5'
        Invoke-Sql "SELECT count(*) FROM schema_migrations WHERE version = '1.7.5'" | Should -Be '1'
    }

    It 'checks Test-UpgradeReadiness on the healthy release with a fresh backup and -ApiEndpoint: every item passes or says why not' {
        $fresh = Get-Hv | New-DeploymentBackup -Path $backups -WarningAction SilentlyContinue
        $start = (Get-Date).AddHours(1)
        $r = Get-Hv | Test-UpgradeReadiness -To 1.7.6 -BackupPath $backups -ApiEndpoint $api -Window $start, $start.AddHours(2)
        $r.Ready | Should -BeTrue -Because ($r.Checks | Where-Object Status -eq 'Failed' | Format-Table Name, Detail, Remedy -Wrap | Out-String)
        $r.From | Should -Be '1.7.5'
        $status = @{}; foreach ($c in $r.Checks) { $status[$c.Name] = $c }
        foreach ($name in 'UpgradePath', 'Backup', 'MaintenanceWindow', 'DiskSpace', 'DeploymentHealthy', 'Configuration', 'BackgroundTasks') {
            $status[$name].Status | Should -Be 'Passed' -Because "$name`: $($status[$name].Detail)"
        }
        $status['Backup'].Detail | Should -Match "$([regex]::Escape($fresh.Id)), .*verified"
        $status['DiskSpace'].Detail | Should -Match 'GB free for backups.*the Docker root does not apply'
        $status['DeploymentHealthy'].Detail | Should -Match '4 services healthy'
        $status['Configuration'].Detail | Should -Match "default for cache\.host"
        $status['BackgroundTasks'].Detail | Should -Match 'no background task'
        # No release notes and no rehearsal given: warnings that say what to do, not failures.
        $status['ReleaseNotes'].Status | Should -Be 'Warning'
        $status['Rehearsal'].Status | Should -Be 'Warning'
        ($r | ConvertTo-Json -Depth 6) | Should -Not -Match ([regex]::Escape($password))
        Assert-RoundTrip $r -Type UpgradeOps.ReadinessReport -Secret $password
    }

    It 'fails Configuration when the profile needs a Helm value the release lacks; without -ApiEndpoint BackgroundTasks asks the API through a port-forward, closed afterwards' {
        $strict = Join-Path $TestDrive 'strict-profile.yml'
        (Get-Content -Raw $profilePath).Replace("configurationRules:`n", @"
configurationRules:
  - id: signing-key-helm
    description: From 1.7.6 the servers sign with auth.signingKey.
    appVersion: 1.7.6
    requiresValuesKey: auth.signingKey

"@) | Set-Content $strict
        $d = Get-UpgradeDeployment -Namespace hv -Release hv -Kubeconfig $server.KubeconfigPath -Profile $strict -WarningAction SilentlyContinue
        $out = $d | Test-UpgradeReadiness -To 1.7.6 -BackupPath $backups -Verbose 4>&1
        $r = $out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $r.Ready | Should -BeFalse
        $config = $r.Checks | Where-Object Name -eq 'Configuration'
        $config.Status | Should -Be 'Failed'
        $config.ErrorId | Should -Be 'ConfigurationValueMissing'
        $config.Detail | Should -Match 'auth\.signingKey'
        $config.Remedy | Should -Match "Invoke-Upgrade -To 1\.7\.6 -ValuesFile .* -ConfigurationValue @\{ 'auth\.signingKey' = '\.\.\.' \}"
        $config.Remedy | Should -Match 'Convert-UpgradeConfiguration'
        $tasks = $r.Checks | Where-Object Name -eq 'BackgroundTasks'
        $tasks.Status | Should -Be 'Passed' -Because $tasks.Detail
        $tasks.Detail | Should -Match 'no background task'
        $forward = Get-Forward $out
        $forward.Pod | Should -Match '^hv/hv-sandbox-server-'
        $forward.Port | Should -Be $apiPort
        Test-PortOpen $forward.LocalPort | Should -BeFalse -Because 'the listener is closed when the cmdlet ends'
    }

    It 'upgrades to 1.7.6 with -Backup: the migration Job really ran and its log is in the journal, though its hook policy deleted it on success' {
        $null = Invoke-Sql "CREATE TABLE kube_marker (id int PRIMARY KEY); INSERT INTO kube_marker SELECT generate_series(1, 25);"
        $before = Get-Hv
        $script:revision1 = $before.Revision
        $script:b = $before | New-DeploymentBackup -Path $backups -WarningAction SilentlyContinue
        # As Infrahub's later chart does (hook-delete-policy hook-succeeded): the Job is gone when helm returns, so its log is
        # read while helm runs it. Before, it was read afterwards and a successful migration's output was lost.
        $deleting = Join-Path $TestDrive 'values-delete-on-success.yaml'
        "migration:`n  deleteOnSuccess: true`n" | Set-Content $deleting
        $script:result = $before | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -ValuesFile $deleting -Backup $b -HelmPath $helm -Force
        @((Invoke-RestMethod "$($server.Url)/apis/batch/v1/namespaces/hv/jobs").items | ForEach-Object { $_.metadata.name }) | Should -Not -Contain 'hv-sandbox-migrate'
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        $result.Steps.Name | Should -Be @('configuration', 'helm upgrade', 'rollout', 'verify release')
        ($result.Steps | Where-Object Name -eq 'configuration').Detail | Should -Match 'cache\.host: Added'
        ($result.Steps | Where-Object Name -eq 'helm upgrade').Detail | Should -Match 'migration Job hv-sandbox-migrate succeeded'
        # Each Job pod's log is followed from its container's start to its end, so the lines of a short Job deleted on success
        # are kept too (read every 0.5 s before, one CI run missed them).
        Invoke-Sql "SELECT count(*) FROM schema_migrations WHERE version = '1.7.6'" | Should -Be '1'
        $journal = Get-Content -Raw $result.JournalPath
        ($journal | ConvertFrom-Json).Result.MigrationOutput -join "`n" | Should -Match 'Job hv-sandbox-migrate succeeded\n[\s\S]*upgrading database schema from 1\.7\.5 to 1\.7\.6'
        $journal | Should -Not -Match ([regex]::Escape($password))
        Get-ApiVersion | Should -Be '1.7.6'
        # The Helm shapes: a release (revision, kubeconfig, context), its backup (resources, release), the rollout of each workload.
        Assert-RoundTrip $before -Type UpgradeOps.Deployment -Secret $password
        Assert-RoundTrip $b -Type UpgradeOps.DeploymentBackup -Secret $password
        Assert-RoundTrip $result -Type UpgradeOps.UpgradeResult -Secret $password
        & docker inspect -f '{{.Config.Image}}' "$($server.ContainerPrefix)-hv-hv-sandbox-worker" | Should -Be '127.0.0.1:5000/upgradeops/sandbox:1.7.6'
    }

    It 'passes Test-PostUpgrade without -ApiEndpoint through a port-forward to a server pod, closed afterwards: API at 1.7.6, pods ready, worker exec and pod logs read' {
        $out = $result | Test-PostUpgrade -Verbose 4>&1
        $v = $out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $v.Passed | Should -BeTrue -Because ($v.Checks | Where-Object Status -eq 'Failed' | Format-Table Name, Detail -Wrap | Out-String)
        $forward = Get-Forward $out
        $forward.Pod | Should -Match '^hv/hv-sandbox-server-'
        $forward.Port | Should -Be $apiPort
        Test-PortOpen $forward.LocalPort | Should -BeFalse -Because 'the listener is closed when the cmdlet ends'
        ($v.Checks | Where-Object Name -eq 'ApiVersion').Detail | Should -Match 'says 1\.7\.6'
        ($v.Checks | Where-Object Name -eq 'ServiceHealth').Detail | Should -Match '4 services, 6 pods running and healthy'
        ($v.Checks | Where-Object Name -eq 'Logs').Status | Should -Be 'Passed'
        ($v.Checks | Where-Object Name -eq 'ArtifactGeneration').Status | Should -Be 'Passed'
        ($v.Checks | Where-Object Name -eq 'Logs').Detail | Should -Match 'of 6 pods since'
        Assert-RoundTrip $v -Type UpgradeOps.ValidationReport -Secret $password
    }

    It 'uses -ApiEndpoint instead of a port-forward when it is given' {
        $out = $result | Test-PostUpgrade -ApiEndpoint $api -Check ApiVersion -Verbose 4>&1
        $v = $out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $v.Passed | Should -BeTrue
        ($v.Checks | Where-Object Name -eq 'ApiVersion').Detail | Should -Match 'says 1\.7\.6'
        Get-Forward $out | Should -BeNullOrEmpty
    }

    It 'closes the port-forward when Test-PostUpgrade is stopped (Ctrl+C) while it runs' -Tag 'Fault' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                param($Module, $Kubeconfig, $ProfilePath)
                Import-Module $Module
                Get-UpgradeDeployment -Namespace hv -Release hv -Kubeconfig $Kubeconfig -Profile $ProfilePath -WarningAction SilentlyContinue |
                    Test-PostUpgrade -Verbose
            }).AddArgument($env:UPGRADEOPS_MODULE).AddArgument($server.KubeconfigPath).AddArgument($profilePath)
            $running = $ps.BeginInvoke()
            $deadline = (Get-Date).AddSeconds(60)
            while (-not ($forward = Get-Forward $ps.Streams.Verbose) -and -not $running.IsCompleted -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 10 }
            $forward | Should -Not -BeNullOrEmpty
            $ps.Stop()
            $ps.InvocationStateInfo.State | Should -Be 'Stopped' -Because 'it was stopped while its checks ran'
            Test-PortOpen $forward.LocalPort | Should -BeFalse
        }
        finally { $ps.Dispose() }
    }

    It 'says why the API cannot be reached when no workload of the release plays the profile''s API: a failed check, or an ErrorRecord for -CaptureBaseline' {
        $noApi = Join-Path $TestDrive 'no-api-workload.yml'
        (Get-Content -Raw $profilePath).Replace("    kubernetesWorkload: server`n", '') | Set-Content $noApi
        $d = Get-UpgradeDeployment -Namespace hv -Release hv -Kubeconfig $server.KubeconfigPath -Profile $noApi -WarningAction SilentlyContinue
        $v = $d | Test-PostUpgrade -Check ApiVersion, Logs
        $version = $v.Checks | Where-Object Name -eq 'ApiVersion'
        $version.Status | Should -Be 'Failed'
        $version.ErrorId | Should -Be 'ApiWorkloadNotFound'
        $version.Detail | Should -Match "kubernetesWorkload.*-ApiEndpoint"
        ($v.Checks | Where-Object Name -eq 'Logs').Status | Should -Be 'Passed' -Because 'one failing check hides no other'
        $err = Get-ErrorFrom { $d | Test-PostUpgrade -CaptureBaseline -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ApiWorkloadNotFound,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be 'hv/hv'
    }

    It 'rolls back to revision 1 with the data of the backup and the API at 1.7.5' {
        $null = Invoke-Sql 'DELETE FROM kube_marker WHERE id > 5'
        $rollback = Invoke-Rollback -Deployment (Get-Hv) -HelmPath $helm -Force
        $rollback.Status | Should -Be 'Succeeded'
        $rollback.BackupId | Should -Be $b.Id
        $d = Wait-Healthy
        $d.Version | Should -Be '1.7.5'
        $d.Revision | Should -Be ($revision1 + 2)
        ($rollback.Steps | Where-Object Name -eq 'helm rollback').Detail | Should -Match "back on revision $revision1's chart"
        Invoke-Sql 'SELECT count(*) FROM kube_marker' | Should -Be '25'
        Invoke-Sql "SELECT count(*) FROM schema_migrations WHERE version = '1.7.6'" | Should -Be '0'
        Get-ApiVersion | Should -Be '1.7.5'
    }

    It 'refuses Invoke-Upgrade -RequireReadiness without a backup: NotReady, the release revision unchanged' {
        $before = Get-Hv
        $err = Get-ErrorFrom { $before | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -HelmPath $helm -RequireReadiness -ApiEndpoint $api -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'NotReady,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
        ($err.TargetObject.Checks | Where-Object Name -eq 'Backup').ErrorId | Should -Be 'BackupMissing'
        $err.Exception.Message | Should -Match 'Backup: No backup was given.*New-DeploymentBackup.*Nothing was changed\.'
        $err.Exception.Message | Should -Not -Match ([regex]::Escape($password))
        $after = Get-Hv
        $after.Revision | Should -Be $before.Revision
        $after.Version | Should -Be '1.7.5'
    }

    It 'rolls the failed 1.7.7 back with -RequireReadiness -Backup -RollbackOnFailure: RolledBack, the backup''s data and the API at 1.7.5' -Tag 'Fault' {
        $before = Get-Hv
        $fresh = $before | New-DeploymentBackup -Path $backups -WarningAction SilentlyContinue
        $null = Invoke-Sql 'DELETE FROM kube_marker WHERE id > 10'
        $r = Invoke-Upgrade -Deployment $before -To 1.7.7 -AvailableVersion 1.7.7 -Chart $chart -HelmPath $helm -Backup $fresh -RollbackOnFailure `
            -RequireReadiness -AcknowledgeBreakingChange -ApiEndpoint $api -Force -ErrorVariable upgradeErrors -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'RolledBack' -Because $r.Error
        $r.ErrorId | Should -Be 'MigrationFailed'
        $r.BackupId | Should -Be $fresh.Id
        $upgradeErrors[0].FullyQualifiedErrorId | Should -BeLike 'MigrationFailed,*'
        $upgradeErrors[0].Exception.Message | Should -Match "Backup $([regex]::Escape($fresh.Id))'s data was restored and the previous version serves again"
        $journal = Get-Content -Raw $r.JournalPath | ConvertFrom-Json
        $rollback = $r.Steps | Where-Object Name -eq 'rollback'
        $rollback.Status | Should -Be 'Succeeded'
        $rollback.Detail | Should -Match "back on revision $($journal.PreviousRevision)'s chart"
        $rollback.Detail | Should -Match "databases restored from backup $([regex]::Escape($fresh.Id))"
        $journal.Result.Status | Should -Be 'RolledBack'
        $journal.Result.RolledBackBy | Should -Be "$($r.Id)-rollback"
        (Get-Content -Raw $r.JournalPath) | Should -Not -Match ([regex]::Escape($password))
        $d = Wait-Healthy
        $d.Version | Should -Be '1.7.5'
        $d.Revision | Should -BeGreaterThan $before.Revision
        Invoke-Sql 'SELECT count(*) FROM kube_marker' | Should -Be '25'
        Get-ApiVersion | Should -Be '1.7.5'
    }

    It 'fails with MigrationFailed when the migration Job fails (the withdrawn 1.7.7), and the servers stay on 1.7.5' -Tag 'Fault' {
        $failed = Invoke-Upgrade -Deployment (Get-Hv) -To 1.7.7 -AvailableVersion 1.7.7 -Chart $chart -HelmPath $helm -SkipBackup -Force `
            -ErrorVariable upgradeErrors -ErrorAction SilentlyContinue
        $failed.Status | Should -Be 'Failed'
        $failed.ErrorId | Should -Be 'MigrationFailed'
        $upgradeErrors[0].FullyQualifiedErrorId | Should -BeLike 'MigrationFailed,*'
        $upgradeErrors[0].Exception.Message | Should -Match 'The migration Job hv/hv-sandbox-migrate failed, so helm upgrade stopped before changing the workloads'
        ($failed.Steps | Where-Object Name -eq 'helm upgrade').Status | Should -Be 'Failed'
        ($failed.MigrationOutput -join "`n") | Should -Match 'migration 1\.7\.7 failed: '
        $journal = Get-Content -Raw $failed.JournalPath | ConvertFrom-Json
        $journal.Result.ErrorId | Should -Be 'MigrationFailed'
        $journal.Current | Should -Be 'helm upgrade'
        ($journal.Result.MigrationOutput -join "`n") | Should -Match '1\.7\.5 → 1\.7\.7 \(failed\): Job hv-sandbox-migrate failed'
        Get-ApiVersion | Should -Be '1.7.5'
        (Get-Hv).Services.Where({ $_.Name -eq 'hv-sandbox-server' }).Version | Should -Be '1.7.5'
        # The failed revision names 1.7.7; what runs is the version, and the difference is a warning.
        $d = Get-UpgradeDeployment -Namespace hv -Release hv -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningVariable found -WarningAction SilentlyContinue
        $d.Version | Should -Be '1.7.5'
        $d.ConfiguredVersion | Should -Be '1.7.7'
        ($found -join ' ') | Should -Match 'names version 1\.7\.7, but its workloads run 1\.7\.5'
    }

    It 'diagnoses the failed upgrade from the pods and the release journal, secrets masked (through the Kubernetes API only: no port-forward)' {
        $out = Get-Hv | Get-UpgradeDiagnostic -Tail 20 -Verbose 4>&1
        $diag = $out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        Get-Forward $out | Should -BeNullOrEmpty
        $diag.ErrorId | Should -Be 'MigrationFailed'
        $diag.FailedStep | Should -Be 'helm upgrade'
        $diag.Findings.Id | Should -Contain 'MigrationFailed'
        $diag.Findings.Id | Should -Contain 'migration-step-failed'
        ($diag.Services | Where-Object Service -eq 'hv-sandbox-server').Count | Should -Be 2
        $server = $diag.Services | Where-Object Service -eq 'hv-sandbox-server' | Select-Object -First 1
        $server.State | Should -Be 'running'
        $server.Health | Should -Be 'healthy'
        $server.Image | Should -Be '127.0.0.1:5000/upgradeops/sandbox:1.7.5'
        $server.LogTail.Count | Should -BeGreaterThan 0
        $server.LogTail.Count | Should -BeLessOrEqual 20
        ($diag | ConvertTo-Json -Depth 8) | Should -Not -Match ([regex]::Escape($password))
        Assert-RoundTrip $diag -Type UpgradeOps.DiagnosticReport -Secret $password
    }

    It 'says MigrationOutcomeUnknown, not Succeeded, when the Job left no log before helm deleted it and the command exits 0 on failure; -RollbackOnFailure returns to 1.7.5' -Tag 'Fault' {
        # A product whose migration exits 0 after a failure (as Infrahub's 'infrahub upgrade' does) is judged by its log
        # (migration.failurePatterns); this Job prints nothing and is deleted on success, so there is no log to judge.
        $judged = Join-Path $TestDrive 'failure-patterns-profile.yml'
        (Get-Content -Raw $profilePath).Replace("  command: [sandbox, upgrade]`n", "  command: [sandbox, upgrade]`n  failurePatterns: ['migration .* failed']`n") | Set-Content $judged
        $silent = Join-Path $TestDrive 'values-silent.yaml'
        "migration:`n  deleteOnSuccess: true`n  silent: true`n" | Set-Content $silent
        $before = Get-UpgradeDeployment -Namespace hv -Release hv -Kubeconfig $server.KubeconfigPath -Profile $judged -WarningAction SilentlyContinue
        $fresh = $before | New-DeploymentBackup -Path $backups -WarningAction SilentlyContinue
        $r = Invoke-Upgrade -Deployment $before -To 1.7.6 -Chart $chart -ValuesFile $silent -HelmPath $helm -Backup $fresh -RollbackOnFailure -Force `
            -ErrorVariable upgradeErrors -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'RolledBack' -Because $r.Error
        $r.ErrorId | Should -Be 'MigrationOutcomeUnknown' -Because "$($r.Error) $($r.MigrationOutput -join ' | ')"
        $upgradeErrors[0].FullyQualifiedErrorId | Should -BeLike 'MigrationOutcomeUnknown,*'
        # The upgrade's error record, as for any failed hop: the result is its target.
        $upgradeErrors[0].TargetObject.Id | Should -Be $r.Id
        $upgradeErrors[0].Exception.Message | Should -Match 'ran and helm deleted it \(its hook policy\) before its log could be read.+exits 0 even when a migration fails, so whether it succeeded is not known'
        $upgradeErrors[0].Exception.Message | Should -Match "Run 'sandbox upgrade --check' in a server pod"
        ($r.Steps | Where-Object Name -eq 'rollback').Status | Should -Be 'Succeeded'
        $d = Wait-Healthy
        $d.Version | Should -Be '1.7.5'
        Get-ApiVersion | Should -Be '1.7.5'
        Invoke-Sql 'SELECT count(*) FROM kube_marker' | Should -Be '25'
    }

}

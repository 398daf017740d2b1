# A Helm release left pending-upgrade by a helm client killed with kill -9 in the middle of Invoke-Upgrade, and its repair by
# Invoke-Upgrade -Resume: the sandbox chart installed by the real helm v4 into the test API server started with -RunContainers
# (tests/KubeApiServer/Kubelet.cs runs the workloads and the chart's migration Job as Docker containers, so helm upgrade --wait
# lasts long enough to be killed). Before the kill a failed upgrade (an image that cannot be pulled) leaves revision 2 failed, so
# the pending revision − 1 is not the revision to return to: revision 1 is. Ports come from 56600-56699; the containers
# (upgradeops-kubetest-*) go with the server. Verified against that test server only, never a real cluster.
BeforeAll {
    $script:savedDataHome = $env:XDG_DATA_HOME
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:password = "kube-stuck-$([guid]::NewGuid().ToString('n').Substring(0, 12))"
    $script:dbPort, $script:cachePort, $script:apiPort = Get-KubeTestFreePort 3
    $script:api = "http://127.0.0.1:$apiPort"
    $script:server = Start-KubeTestServer -RunContainers
    $script:helm = Get-Helm
    $install = Invoke-TestHelm $server install st $chart -n st --create-namespace --timeout 120s --set "database.port=$dbPort" `
        --set "cache.port=$cachePort" --set "server.port=$apiPort" --set "database.password=$password"
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'

    function Get-St { Get-UpgradeDeployment -Namespace st -Release st -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
    function Get-History { (Invoke-TestHelm $server history st -n st -o json).Output | ConvertFrom-Json }
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    # The release's newest revision, read from its Secrets as helm stores them.
    function Get-NewestStatus {
        $secrets = Invoke-RestMethod "$($server.Url)/api/v1/namespaces/st/secrets?labelSelector=owner%3Dhelm,name%3Dst"
        ($secrets.items | Sort-Object { [int]$_.metadata.labels.version } | Select-Object -Last 1).metadata.labels.status
    }
    # A pwsh session running Invoke-Upgrade of the release to -To without a backup; Printed() is what it printed once it ended.
    function Start-UpgradeSession([string] $To) {
        $command = "Import-Module '$env:UPGRADEOPS_MODULE'; " +
            "`$d = Get-UpgradeDeployment -Namespace st -Release st -Kubeconfig '$($server.KubeconfigPath)' -Profile '$profilePath' -WarningAction SilentlyContinue; " +
            "`$d | Test-UpgradePath -To $To | Invoke-Upgrade -Chart '$chart' -SkipBackup -HelmPath '$helm' -Force -HealthTimeout 00:02:00 -ErrorAction Continue | " +
            "ForEach-Object { 'STATUS ' + `$_.Status; 'JOURNAL ' + `$_.JournalPath }"
        $start = [Diagnostics.ProcessStartInfo]::new((Join-Path $PSHOME 'pwsh'))
        foreach ($a in @('-NoProfile', '-NonInteractive', '-Command', $command)) { $start.ArgumentList.Add($a) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.UseShellExecute = $false
        $process = [Diagnostics.Process]::Start($start)
        $out = $process.StandardOutput.ReadToEndAsync()
        $err = $process.StandardError.ReadToEndAsync()
        $process | Add-Member -MemberType ScriptMethod -Name Printed -Value { $out.Result + $err.Result }.GetNewClosure() -PassThru
    }
    # helm has stored its pending revision and runs the upgrade (the migration hook): its PID then, or $null after 90 s.
    function Wait-HelmPending($Session) {
        $deadline = (Get-Date).AddSeconds(90)
        while (-not $Session.HasExited -and (Get-Date) -lt $deadline) {
            $helmPid = Get-HelmChild $Session.Id
            if ($helmPid -and (Get-NewestStatus) -eq 'pending-upgrade') { return $helmPid }
            Start-Sleep -Milliseconds 100
        }
        $null
    }
    # The helm process a pwsh session started (its child), or $null.
    function Get-HelmChild([int] $ParentId) {
        foreach ($line in @(& ps -o pid=,comm= --ppid $ParentId)) {
            $pid_, $name = "$line".Trim() -split '\s+', 2
            if ($name -eq 'helm') { return [int]$pid_ }
        }
        $null
    }
}
AfterAll {
    if ($script:session -and -not $script:session.HasExited) { $script:session.Kill($true) }
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
}

Describe 'A Helm release left pending-upgrade by a killed helm, and Invoke-Upgrade -Resume' -Tag 'Kubernetes', 'Helm' {
    It 'runs 1.7.5, with a failed upgrade (revision 2) in its history' {
        (Wait-KubeTestRelease { Get-St } 120).Version | Should -Be '1.7.5'
        # An image that cannot be pulled: the migration hook never finishes and helm marks the revision failed.
        $failed = Invoke-TestHelm $server upgrade st $chart -n st --wait --timeout 8s --reset-then-reuse-values --set image.tag=1.7.8
        $failed.ExitCode | Should -Not -Be 0
        (Get-History).status | Should -Be @('deployed', 'failed')
        Get-KubeTestApiVersion $api | Should -Be '1.7.5'
    }

    It 'kill -9 of the helm process in the middle of Invoke-Upgrade leaves the release pending-upgrade, still serving 1.7.5' -Tag 'Fault' {
        $script:session = Start-UpgradeSession '1.7.6'
        $helmPid = Wait-HelmPending $session
        $helmPid | Should -Not -BeNullOrEmpty -Because 'helm upgrade must be caught running with its revision pending'
        & kill -9 $helmPid
        $LASTEXITCODE | Should -Be 0
        $session.WaitForExit(60000) | Should -BeTrue
        $printed = $session.Printed()

        # The session saw helm die: the upgrade failed, its journal says so; the release is stuck as helm left it.
        $printed | Should -Match 'STATUS Failed'
        $script:interruptedJournal = ([regex]::Match($printed, 'JOURNAL (\S+\.json)')).Groups[1].Value
        $interruptedJournal | Should -Exist
        $journal = Get-Content -Raw $interruptedJournal | ConvertFrom-Json
        $journal.current | Should -Be 'helm upgrade'
        $journal.target | Should -Be '1.7.6'
        ($journal.result.steps | Where-Object name -eq 'helm upgrade').status | Should -Be 'Failed' 
        (Get-History).status | Should -Be @('deployed', 'failed', 'pending-upgrade')
        $again = Invoke-TestHelm $server upgrade st $chart -n st --reset-then-reuse-values --set image.tag=1.7.6
        $again.ExitCode | Should -Not -Be 0
        $again.Error | Should -Match 'another operation \(install/upgrade/rollback\) is in progress'
        Get-KubeTestApiVersion $api | Should -Be '1.7.5'
    }

    It 'names the pending release and revision 1 (not the failed 2) in Get-UpgradeDeployment, Test-UpgradeReadiness and Get-UpgradeDiagnostic' {
        $d = Get-UpgradeDeployment -Namespace st -Release st -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningVariable warnings -WarningAction SilentlyContinue
        $d.ReleaseStatus | Should -Be 'pending-upgrade'
        $d.Revision | Should -Be 3
        $d.DeployedRevision | Should -Be 1
        ($warnings -join "`n") | Should -Match "pending-upgrade.*'helm rollback st 1 -n st'"

        $readiness = $d | Test-UpgradeReadiness -To 1.7.6
        $readiness.Ready | Should -BeFalse
        $check = $readiness.Checks | Where-Object Name -eq 'DeploymentHealthy'
        $check.Status | Should -Be 'Failed'
        $check.ErrorId | Should -Be 'HelmReleasePending'
        $check.Detail | Should -Match 'Release st is pending-upgrade at revision 3'
        $check.Remedy | Should -Match 'Invoke-Upgrade -Deployment \$d -Resume -Chart <chart> rolls it back to revision 1'
        $check.Remedy | Should -Match "'helm rollback st 1 -n st'"

        $finding = ($d | Get-UpgradeDiagnostic).Findings | Where-Object Id -eq 'HelmReleasePending'
        $finding.Severity | Should -Be 'Error'
        $finding.Evidence | Should -Match 'revision 3 is pending-upgrade .*the last deployed revision is 1'
        $finding.Guidance | Should -Match 'rolls it back to revision 1 and continues the interrupted upgrade to 1\.7\.6'
    }

    It 'says with -Resume -WhatIf which revision it rolls back to and the helm upgrade that follows, changing nothing' {
        $text = Invoke-KubeTestWhatIf $server st st $profilePath "Invoke-Upgrade -Deployment `$d -Resume -Chart '$chart' -HelmPath '$helm' -WhatIf"
        $text | Should -Match 'Resume upgrade st-\S+-upgrade-1\.7\.5-to-1\.7\.6 \(Failed at step .helm upgrade.\) of Helm release st/st to 1\.7\.6'
        $text | Should -Match 'Upgrade Helm release st/st 1\.7\.5 → 1\.7\.6: first \(with -Force or -Resume\) repair its pending-upgrade revision 3: helm rollback st 1 -n st --wait --timeout \d+s \(back to revision 1, its last deployed one\); then helm upgrade st \S+ -n st --wait --timeout \d+s --reset-then-reuse-values .*-f \S+rule-values\.yaml --set image\.tag=1\.7\.6'
        $text | Should -Match 'No backup \(-SkipBackup\)'
        (Get-History).status | Should -Be @('deployed', 'failed', 'pending-upgrade')
    }

    It 'rolls the release back to revision 1 and continues the upgrade to 1.7.6 with -Resume' {
        $results = @(Invoke-Upgrade -Deployment (Get-St) -Resume -Chart $chart -HelmPath $helm -Force -HealthTimeout 00:02:00)
        $results.Count | Should -Be 1
        $r = $results[0]
        $r.Status | Should -Be 'Succeeded' -Because $r.Error
        $r.From | Should -Be '1.7.5'
        $r.To | Should -Be '1.7.6'
        $r.Steps.Name | Should -Be @('repair pending release', 'configuration', 'helm upgrade', 'rollout', 'verify release')
        ($r.Steps | Where-Object Name -eq 'repair pending release').Detail | Should -Be 'pending-upgrade revision 3 rolled back to revision 1, the last deployed one'
        $history = Get-History
        $history.status | Should -Be @('superseded', 'failed', 'pending-upgrade', 'superseded', 'deployed')
        $history[3].description | Should -Be 'Rollback to 1'
        $d = Wait-KubeTestRelease { Get-St } 60
        $d.Version | Should -Be '1.7.6'
        $d.ReleaseStatus | Should -Be 'deployed'
        Get-KubeTestApiVersion $api | Should -Be '1.7.6'
        # The rule's value the killed run wrote to the rules' values file is in the release again, though revision 1 lacked it.
        ((Invoke-TestHelm $server get values st -n st -o json).Output | ConvertFrom-Json).cache.host | Should -Be '127.0.0.1'
        (Get-Content -Raw $r.JournalPath) | Should -Not -Match ([regex]::Escape($password))
        (Get-Content -Raw $r.JournalPath | ConvertFrom-Json).target | Should -Be '1.7.6'
        # The killed run stays in the history as it ended (Failed): the resume is an upgrade of its own.
        (Get-St | Get-UpgradeHistory).Status | Should -Be @('Succeeded', 'Failed')
    }

    It 'refuses a second -Resume with NothingToResume, naming the release and what to run' {
        $err = Get-ErrorFrom { Invoke-Upgrade -Deployment (Get-St) -Resume -Chart $chart -HelmPath $helm -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'NothingToResume,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be 'st/st'
        $err.Exception.Message | Should -Match 'Invoke-Upgrade -Deployment \$d -To <version> -Chart <chart>'
        (Get-History).Count | Should -Be 5
    }

    It 'resumes after the whole session and its helm are killed with kill -9: the stale lock taken over, the journal marked Interrupted, 1.8.0 reached' -Tag 'Fault' {
        $script:session = Start-UpgradeSession '1.8.0'
        $helmPid = Wait-HelmPending $session
        $helmPid | Should -Not -BeNullOrEmpty -Because 'helm upgrade must be caught running with its revision pending'
        # The session first (it must not see helm end), then its helm: nothing of the client is left to finish anything.
        & kill -9 $session.Id
        & kill -9 $helmPid
        $session.WaitForExit(10000) | Should -BeTrue
        (Get-History).status[-1] | Should -Be 'pending-upgrade'
        $killed = (Get-St | Get-UpgradeHistory)[0]
        $killed.Status | Should -Be 'InProgress'
        $killed.To | Should -Be '1.8.0'
        # Serving, at 1.7.6 or already 1.8.0: under load helm can be past its pre-upgrade hook and have applied the new
        # Deployment (which the test kubelet starts at once) by the time the kill lands. What is asserted is the repair.
        Get-KubeTestApiVersion $api | Should -BeIn @('1.7.6', '1.8.0')
        $lock = Join-Path $env:XDG_DATA_HOME 'UpgradeOps/helm/st/st/.upgradeops/upgrade.lock'
        (Get-Content -Raw $lock | ConvertFrom-Json).ProcessId | Should -Be $session.Id

        $r = @(Invoke-Upgrade -Deployment (Get-St) -Resume -Chart $chart -HelmPath $helm -Force -HealthTimeout 00:02:00)[0]
        $r.Status | Should -Be 'Succeeded' -Because $r.Error
        ($r.Steps | Where-Object Name -eq 'repair pending release').Detail | Should -Be 'pending-upgrade revision 6 rolled back to revision 5, the last deployed one'
        (Get-History)[-2].description | Should -Be 'Rollback to 5'
        (Wait-KubeTestRelease { Get-St } 60).Version | Should -Be '1.8.0'
        Get-KubeTestApiVersion $api | Should -Be '1.8.0'
        $history = @(Get-St | Get-UpgradeHistory)
        $history[0].Status | Should -Be 'Succeeded'
        $history[1].Id | Should -Be $killed.Id
        $history[1].Status | Should -Be 'Interrupted'
        ($history[1].Steps | Where-Object Name -eq 'helm upgrade').Detail | Should -Be 'interrupted: the session running it ended'
        $lock | Should -Not -Exist
    }
}

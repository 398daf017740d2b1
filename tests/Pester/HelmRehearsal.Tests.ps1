# Invoke-UpgradeRehearsal on a Helm release, as a user runs it: the sandbox chart installed at 1.7.5 by the real helm into the
# test API server started with -RunContainers (workloads as Docker containers of their image, host network), a backup taken,
# then a rehearsal to 1.7.6 on a copy release in a namespace of its own, with -CopyValue moving the copy's host ports (a
# copy namespace left by a dead process is removed first). The report passes; production's revision, pods, containers
# and data are unchanged; the copy's namespace and containers are gone.
# Then a second release at 1.6.4, rehearsed to 1.8.0 in two hops on one copy.
# Ports come from 56600-56699 (production's and the copy's differ). Verified against that test server only, never a real cluster.
BeforeAll {
    # Saved first: if anything below fails, AfterAll still restores it and stops the test server.
    $script:savedDataHome = $env:XDG_DATA_HOME
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:password = "kube-reh-$([guid]::NewGuid().ToString('n').Substring(0, 12))"
    $script:dbPort, $script:cachePort, $script:apiPort, $script:copyDb, $script:copyCache, $script:copyApi = Get-KubeTestFreePort 6
    $script:copyValues = @{ 'server.port' = "$copyApi"; 'database.port' = "$copyDb"; 'cache.port' = "$copyCache" }
    $script:server = Start-KubeTestServer -RunContainers
    $script:helm = Get-Helm
    $script:db = "$($server.ContainerPrefix)-hr-hr-sandbox-database"
    $install = Invoke-TestHelm $server install hr $chart -n hr --create-namespace --timeout 120s --set "database.port=$dbPort" `
        --set "cache.port=$cachePort" --set "server.port=$apiPort" --set "database.password=$password"
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }

    function Get-Hr { Get-UpgradeDeployment -Namespace hr -Release hr -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
    function Invoke-Sql([string] $Sql) { Invoke-KubeTestSql $db $dbPort $password $Sql }
    function Get-Namespaces { (Invoke-RestMethod "$($server.Url)/api/v1/namespaces").items.metadata.name }
    function Get-ProductionState {
        $d = Get-Hr
        $pods = (Invoke-RestMethod "$($server.Url)/api/v1/namespaces/hr/pods").items | ForEach-Object { "$($_.metadata.name) $($_.metadata.uid)" } | Sort-Object
        $containers = & docker ps -a --filter "name=$($server.ContainerPrefix)-hr-hr-" --format '{{.Names}} {{.ID}} {{.Status}}' | ForEach-Object { ($_ -split ' ')[0..1] -join ' ' } | Sort-Object
        [pscustomobject]@{
            Revision = $d.Revision; Version = $d.Version; Pods = $pods -join "`n"; Containers = $containers -join "`n"
            Rows = Invoke-Sql 'SELECT count(*) FROM reh_marker'; Schema = Invoke-Sql 'SELECT max(version) FROM schema_migrations'
            Secrets = ((Invoke-RestMethod "$($server.Url)/api/v1/namespaces/hr/secrets").items | ForEach-Object { "$($_.metadata.name) $($_.metadata.resourceVersion)" } | Sort-Object) -join "`n"
        }
    }
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
    $script:backups = Join-Path $TestDrive 'backups'
    $null = Wait-KubeTestRelease { Get-Hr } 90
    $null = Invoke-Sql 'CREATE TABLE reh_marker (id int PRIMARY KEY); INSERT INTO reh_marker SELECT generate_series(1, 40);'
    $script:b = Get-Hr | New-DeploymentBackup -Path $backups -WarningAction SilentlyContinue
}
AfterAll {
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
}

Describe 'Invoke-UpgradeRehearsal on a Helm release' -Tag 'Kubernetes', 'Helm', 'Rehearsal' {
    It 'refuses a Helm backup without -Chart, before anything is created' {
        $before = Get-Namespaces
        $err = $null
        try { $b | Invoke-UpgradeRehearsal -To 1.7.6 -Deployment (Get-Hr) -Force -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ChartRequired,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -Match 'give -Chart'
        Get-Namespaces | Should -Be $before
    }

    It 'says with -WhatIf which namespace and helm commands it would create, and creates nothing' {
        $before = Get-Namespaces
        # -WhatIf writes to the host, not to a stream: run it in a fresh pwsh and read what it printed.
        $command = "Import-Module '$env:UPGRADEOPS_MODULE'; `$d = Get-UpgradeDeployment -Namespace hr -Release hr -Kubeconfig '$($server.KubeconfigPath)' -Profile '$profilePath' -WarningAction SilentlyContinue; " +
            "Invoke-UpgradeRehearsal -Path '$($b.Path)' -To 1.7.6 -Deployment `$d -Chart '$chart' -HelmPath '$helm' -CopyValue @{ 'server.port' = '$copyApi' } -WhatIf"
        $out = (& (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $command 2>&1) -join "`n"
        $out | Should -Match 'create namespace hr-rehearsal-[a-z0-9]{6}'
        $out | Should -Match 'helm install hr .* -n hr-rehearsal-'
        $out | Should -Match 'helm upgrade hr .* -n hr-rehearsal-'
        $out | Should -Match 'Release hr/hr itself is not changed'
        Get-Namespaces | Should -Be $before
    }

    It 'rehearses 1.7.5 -> 1.7.6 on a copy in its own namespace: the report passes, production is unchanged, the copy is gone' {
        $before = Get-ProductionState
        $before.Rows | Should -Be '40'
        # A copy left by a rehearsal whose process is gone (owner pid:starttime of no process), with an object in it.
        $stale = 'hr-rehearsal-dead01'
        $nsBody = @{ apiVersion = 'v1'; kind = 'Namespace'; metadata = @{ name = $stale; labels = @{ 'io.upgradeops.rehearsal.id' = '20260101-000000-dead01' }
            annotations = @{ 'io.upgradeops.rehearsal.owner' = "$([Environment]::MachineName)/999999:1"; 'io.upgradeops.rehearsal.release' = 'hr' } } } | ConvertTo-Json -Depth 5
        $null = Invoke-RestMethod "$($server.Url)/api/v1/namespaces" -Method Post -ContentType 'application/json' -Body $nsBody
        # A copy of a rehearsal on another admin's machine: its process cannot be judged from here, so it is left alone.
        $others = 'hr-rehearsal-other1'
        $null = Invoke-RestMethod "$($server.Url)/api/v1/namespaces" -Method Post -ContentType 'application/json' -Body (@{ apiVersion = 'v1'; kind = 'Namespace'
            metadata = @{ name = $others; labels = @{ 'io.upgradeops.rehearsal.id' = '20260101-000000-other1' }
                annotations = @{ 'io.upgradeops.rehearsal.owner' = 'another-admins-machine/999999:1'; 'io.upgradeops.rehearsal.release' = 'hr' } } } | ConvertTo-Json -Depth 5)
        $null = Invoke-RestMethod "$($server.Url)/api/v1/namespaces/$stale/configmaps" -Method Post -ContentType 'application/json' `
            -Body (@{ apiVersion = 'v1'; kind = 'ConfigMap'; metadata = @{ name = 'left' }; data = @{ a = 'b' } } | ConvertTo-Json -Depth 5)
        $out = $b | Invoke-UpgradeRehearsal -To 1.7.6 -Deployment (Get-Hr) -Chart $chart -HelmPath $helm -CopyValue $copyValues -Force -Verbose 4>&1
        $r = $out | Where-Object { $_.PSObject.Properties["EstimatedWindow"] }
        $r.Status | Should -Be 'Passed' -Because (($r.Errors + $r.Warnings) -join "`n")
        $r.From | Should -Be '1.7.5'
        $r.To | Should -Be '1.7.6'
        $r.CopyName | Should -Match '^hr-rehearsal-[a-z0-9]{6}/hr$'
        $r.Hops.Count | Should -Be 1
        $r.Hops[0].Status | Should -Be 'Succeeded'
        $r.Upgrade.Steps.Name | Should -Contain 'helm upgrade'
        ($r.Upgrade.MigrationOutput -join "`n") | Should -Match 'database schema is now at 1\.7\.6'
        $r.Restore | Should -BeGreaterThan ([TimeSpan]::Zero)
        $r.EstimatedWindow | Should -BeGreaterThan ([TimeSpan]::Zero)
        $r.Validation.Passed | Should -BeTrue -Because ($r.Validation.Checks | Where-Object Status -eq 'Failed' | Format-Table Name, Detail -Wrap | Out-String)
        ($r.Validation.Checks | Where-Object Name -eq 'ApiVersion').Detail | Should -Match 'says 1\.7\.6'
        # The unencrypted backup masked the database password: the copy got a fresh one, named but never shown.
        ($r.Warnings -join "`n") | Should -Match 'database\.password.*fresh random values'
        $r.Kept | Should -BeFalse
        ($r.Warnings -join "`n") | Should -Match "Removed 1 copy\(ies\) left by rehearsals that did not finish: namespace\(s\) $stale"
        Get-Namespaces | Should -Not -Contain $stale
        Get-Namespaces | Should -Contain $others
        $null = Invoke-RestMethod "$($server.Url)/api/v1/namespaces/$others" -Method Delete
        (Invoke-RestMethod "$($server.Url)/api/v1/namespaces/$stale/configmaps").items | Should -BeNullOrEmpty
        ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" | Should -Match 'hr-rehearsal-'
        ($r | ConvertTo-Json -Depth 8) + ($out | Out-String) | Should -Not -Match ([regex]::Escape($password))

        $after = Get-ProductionState
        $after.Revision | Should -Be $before.Revision
        $after.Version | Should -Be '1.7.5'
        $after.Pods | Should -Be $before.Pods
        $after.Containers | Should -Be $before.Containers
        $after.Rows | Should -Be $before.Rows
        $after.Schema | Should -Be $before.Schema
        $after.Secrets | Should -Be $before.Secrets
        Get-KubeTestApiVersion "http://127.0.0.1:$apiPort" | Should -Be '1.7.5'

        $copyNs = $r.CopyName.Split('/')[0]
        Get-Namespaces | Should -Not -Contain $copyNs
        (Invoke-RestMethod "$($server.Url)/apis/apps/v1/namespaces/$copyNs/deployments").items | Should -BeNullOrEmpty
        (Invoke-RestMethod "$($server.Url)/api/v1/namespaces/$copyNs/secrets").items | Should -BeNullOrEmpty
        $deadline = (Get-Date).AddSeconds(20)
        while (($left = & docker ps -aq --filter "name=$($server.ContainerPrefix)-$copyNs-") -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 300 }
        $left | Should -BeNullOrEmpty -Because 'the copy''s containers go with its namespace'
    }
}

Describe 'Invoke-UpgradeRehearsal on a Helm release whose copy cannot be installed' -Tag 'Kubernetes', 'Helm', 'Rehearsal', 'Fault' {
    It 'says what the failed post-install migration Job logged, removes the copy, and leaves production unchanged' {
        $before = Get-ProductionState
        # The sandbox chart's fault injection: the copy's Job prints an error with this text and exits 1 (migration.failWith).
        $values = $copyValues.Clone()
        $values['migration.failWith'] = 'copy schema check refused: table reh_marker is locked'
        $r = $b | Invoke-UpgradeRehearsal -To 1.7.6 -Deployment (Get-Hr) -Chart $chart -HelmPath $helm -CopyValue $values -Force -WarningAction SilentlyContinue `
            -ErrorVariable failure -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Failed'
        $failure[0].FullyQualifiedErrorId | Should -BeLike 'RehearsalFailed,*'
        $said = ($r.Errors -join "`n")
        $said | Should -Match 'helm install of the copy failed: .*\(RehearsalInstallFailed\)'
        # The chart's line, with the value given by -CopyValue masked: copy values may be secrets.
        $said | Should -Match 'hr-sandbox-migrate''s log ends: ERROR migration refused \(migration\.failWith\): \*\*\* \| \(pod hr-sandbox-migrate-\w+ exited with code 1\)'
        $said | Should -Not -Match 'reh_marker is locked'
        $said | Should -Not -Match ([regex]::Escape($password))
        Get-Namespaces | Should -Not -Contain $r.CopyName.Split('/')[0]
        $after = Get-ProductionState
        $after.Revision | Should -Be $before.Revision
        $after.Pods | Should -Be $before.Pods
        $after.Rows | Should -Be $before.Rows
    }
}

# Two hops on one copy: a second release installed at 1.6.4 (image.tag) in a namespace of its own, on the same test server.
Describe 'Invoke-UpgradeRehearsal on a Helm release, across two hops' -Tag 'Kubernetes', 'Helm', 'Rehearsal' {
    BeforeAll {
        $script:ports = Get-KubeTestFreePort 6
        $script:db2 = "$($server.ContainerPrefix)-h2-h2-sandbox-database"
        $install = Invoke-TestHelm $server install h2 $chart -n h2 --create-namespace --timeout 120s --set image.tag=1.6.4 --set "database.port=$($ports[0])" `
            --set "cache.port=$($ports[1])" --set "server.port=$($ports[2])" --set "database.password=$password"
        if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }
        function Get-H2 { Get-UpgradeDeployment -Namespace h2 -Release h2 -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
        function Invoke-Sql2([string] $Sql) { Invoke-KubeTestSql $db2 $ports[0] $password $Sql }
        $null = Wait-KubeTestRelease { Get-H2 } 90
        $null = Invoke-Sql2 'CREATE TABLE reh_marker (id int PRIMARY KEY); INSERT INTO reh_marker SELECT generate_series(1, 25);'
        $script:b2 = Get-H2 | New-DeploymentBackup -Path (Join-Path $TestDrive 'backups-h2') -WarningAction SilentlyContinue
    }

    It 'rehearses 1.6.4 -> 1.8.0 through 1.7.6 on one copy: both hops succeed, the copy validates at 1.8.0, production is unchanged' {
        $before = Get-H2
        $schema = Invoke-Sql2 'SELECT max(version) FROM schema_migrations'
        $r = $b2 | Invoke-UpgradeRehearsal -To 1.8.0 -Deployment $before -Chart $chart -HelmPath $helm -Force `
            -CopyValue @{ 'server.port' = "$($ports[5])"; 'database.port' = "$($ports[3])"; 'cache.port' = "$($ports[4])" }
        $r.Status | Should -Be 'Passed' -Because (($r.Errors + $r.Warnings) -join "`n")
        $r.Route | Should -Be '1.6.4 → 1.7.6 → 1.8.0'
        $r.Hops.Count | Should -Be 2
        foreach ($hop in $r.Hops) {
            $hop.Status | Should -Be 'Succeeded'
            $hop.Duration | Should -BeGreaterThan ([timespan]::Zero)
        }
        ($r.Validation.Checks | Where-Object Name -eq 'ApiVersion').Detail | Should -Match 'says 1\.8\.0'
        $r.EstimatedWindow | Should -BeGreaterThan ([TimeSpan]::Zero)
        ($r | ConvertTo-Json -Depth 8) | Should -Not -Match ([regex]::Escape($password))

        $after = Get-H2
        $after.Version | Should -Be '1.6.4'
        $after.Revision | Should -Be $before.Revision
        Invoke-Sql2 'SELECT count(*) FROM reh_marker' | Should -Be '25'
        Invoke-Sql2 'SELECT max(version) FROM schema_migrations' | Should -Be $schema
        Get-Namespaces | Should -Not -Contain $r.CopyName.Split('/')[0]
    }
}

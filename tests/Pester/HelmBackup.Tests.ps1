# Backups, restores and rollbacks of a Helm release: the sandbox chart installed by the real helm v4 into the test API
# server (tests/KubeApiServer), whose database pod's exec is forwarded to a PostgreSQL container of this test's own
# (started here with docker on a free port in 56500-56999, removed at the end). Verified against that test server only,
# never a real cluster.
BeforeAll {
    # Saved first: if anything below fails, AfterAll still restores it and stops the test server.
    $script:savedDataHome = $env:XDG_DATA_HOME
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:password = "kube-test-$([guid]::NewGuid().ToString('n').Substring(0, 12))"

    function Get-FreePort { Get-KubeTestFreePort -Range (56500..56999) }
    $script:port = Get-FreePort
    $script:db = "upgradeops-kubetest-db-$PID"
    $null = & docker run -d --name $db --network host -e POSTGRES_USER=sandbox -e POSTGRES_DB=sandbox -e "POSTGRES_PASSWORD=$password" `
        -e "PGPORT=$port" 127.0.0.1:5000/upgradeops/postgres:15
    if ($LASTEXITCODE -ne 0) { throw "docker run $db failed" }
    function Invoke-Sql([string] $Sql) { Invoke-KubeTestSql $db $port $password $Sql }
    $deadline = (Get-Date).AddSeconds(60)
    while ($true) {
        & docker exec $db pg_isready -q -h 127.0.0.1 -p $port 2>$null
        if ($LASTEXITCODE -eq 0) { try { $null = Invoke-Sql 'SELECT 1'; break } catch { } }
        if ((Get-Date) -gt $deadline) { throw "PostgreSQL in $db did not start" }
        Start-Sleep -Milliseconds 300
    }
    $null = Invoke-Sql 'CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, ''item '' || g FROM generate_series(1, 100) g;'
    # The worker's storage and repositories (the profile's Volume data stores on Helm) are folders of the same container.
    $null = & docker exec $db sh -c 'mkdir -p /opt/sandbox/storage/artifacts /opt/sandbox/repositories/infra && echo "artifact of device-001" > /opt/sandbox/storage/artifacts/device-001.txt && echo ref > /opt/sandbox/repositories/infra/HEAD'
    if ($LASTEXITCODE -ne 0) { throw "could not seed the worker's storage in $db" }

    # The database pods of releases hb (and unreachable, on a port nothing listens on) run their commands in that container;
    # release nodocker has no container behind its pods.
    $script:server = Start-KubeTestServer -DockerWorkload @{ 'hb/hb-sandbox-database' = $db; 'hb/unreachable-sandbox-database' = $db; 'hb/hb-sandbox-worker' = $db }
    $script:helm = Get-Helm
    # The API on a port nothing listens on (the backup's running-task gate then warns and goes on): the chart's default
    # 58001 is the Compose sandbox's API server, which the other test process may be running with background jobs.
    $script:apiPort = Get-FreePort
    $install = Invoke-TestHelm $server install hb $chart -n hb --create-namespace --wait --timeout 30s --set "database.port=$port" --set "database.password=$password" `
        --set "server.port=$apiPort"
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }
    function Get-Hb { Get-UpgradeDeployment -Namespace hb -Release hb -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
    # -WhatIf writes to the host: the command runs in a fresh pwsh, where $d is the release.
    function Invoke-WhatIf([string] $Command) { Invoke-KubeTestWhatIf $server hb hb $profilePath $Command }
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    function Set-Replicas([string] $Kind, [string] $Name, [int] $Replicas, [string] $Namespace = 'hb') {
        $null = Invoke-RestMethod -Method Patch -Uri "$($server.Url)/apis/apps/v1/namespaces/$Namespace/$Kind/$Name" `
            -ContentType 'application/merge-patch+json' -Body "{`"spec`":{`"replicas`":$Replicas}}"
    }
    # Journals of Helm releases live in the user's data folder: a folder of this test's own.
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
    $script:backups = Join-Path $TestDrive 'backups'
}
AfterAll {
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
    if ($script:db) { $null = & docker rm -f -v $script:db 2>&1 }
}

Describe 'New-, Test- and Restore-DeploymentBackup on a Helm release' -Tag 'Kubernetes', 'Helm' {
    It '-WhatIf lists the database and the release configuration, and writes nothing' {
        $out = Invoke-WhatIf "`$d | New-DeploymentBackup -Path '$backups' -WhatIf"
        $out | Should -Match 'database \(PostgresDump\) from database ''sandbox'' in a pod of hb/hb-sandbox-database'
        $out | Should -Match 'artifacts \(Volume\) from /opt/sandbox/storage in a pod of hb/hb-sandbox-worker'
        $out | Should -Match 'resources \(KubernetesResources\) from Secret hb-sandbox-database, ConfigMap hb-sandbox-config in hb, Secret values redacted'
        $out | Should -Match 'config \(HelmRelease\).*config/values.json'
        $out | Should -Match 'config \(KubernetesResources\).*config/manifest.yaml'
        Test-Path $backups | Should -BeFalse
    }

    It 'backs up the database through pod exec and the release values and manifest, secrets redacted' {
        $script:b = Get-Hb | New-DeploymentBackup -Path $backups -WarningVariable warnings -WarningAction SilentlyContinue
        $b.Platform | Should -Be 'Kubernetes'
        $b.Version | Should -Be '1.7.5'
        $b.Location | Should -Be 'hb/hb'
        $dump = $b.Components | Where-Object Kind -eq 'PostgresDump'
        $dump.RowCounts['public.items'] | Should -Be 100
        $dump.SizeBytes | Should -BeGreaterThan 0
        @(($b.Components | Where-Object Name -eq 'config').Kind | ForEach-Object ToString | Sort-Object) | Should -Be @('HelmRelease', 'KubernetesResources')
        $artifacts = $b.Components | Where-Object Name -eq 'artifacts'
        $artifacts.Kind | Should -Be 'Volume'
        $artifacts.File | Should -Be 'artifacts.tar'
        $artifacts.Source | Should -Match '/opt/sandbox/storage in pod hb/hb-sandbox-worker-'
        & tar -tf (Join-Path $b.Path 'artifacts.tar') | Should -Contain './artifacts/device-001.txt'
        ($b.Components | Where-Object Name -eq 'repositories').SizeBytes | Should -BeGreaterThan 0
        # This chart's server pod does not serve the API, so the running-task check cannot ask it: that, and only that, is said.
        $warnings | Where-Object { "$_" -notmatch '^Could not ask the API of .hb. for running background tasks .*backing up without that check' } | Should -BeNullOrEmpty
        # The password is nowhere in the backup: not in the values, not in the manifest's Secret (base64), not in the manifest.json.
        $b64 = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($password))
        foreach ($file in Get-ChildItem -Recurse -File $b.Path | Where-Object Extension -ne '.dump') {
            $text = Get-Content -Raw $file.FullName
            $text | Should -Not -Match ([regex]::Escape($password)) -Because $file.Name
            $text | Should -Not -Match ([regex]::Escape($b64)) -Because $file.Name
        }
        (Get-Content -Raw (Join-Path $b.Path 'config/values.json') | ConvertFrom-Json).database.password | Should -Be '***'
        $objects = (Get-Content -Raw (Join-Path $b.Path 'config/resources.json') | ConvertFrom-Json).items
        $secret = $objects | Where-Object kind -eq 'Secret'
        $secret.name | Should -Be 'hb-sandbox-database'
        $secret.redacted | Should -BeTrue
        $secret.data.password | Should -Be '***'
        ($objects | Where-Object kind -eq 'ConfigMap').data.APP_STORAGE_PATH | Should -Be '/opt/sandbox/storage'
    }

    It 'verifies the backup and restores it into a scratch database in the pod' {
        $v = $b | Test-DeploymentBackup -Deployment (Get-Hb) -RestoreTest
        $v.Passed | Should -BeTrue -Because ($v.Checks | Where-Object Status -ne 'Passed' | Out-String)
        ($v.Checks | Where-Object Name -eq 'RestoreTest database').Detail | Should -Match '100 rows'
        ($v.Checks | Where-Object Name -eq 'Archive artifacts').Status | Should -Be 'Passed'
        Invoke-Sql "SELECT count(*) FROM pg_database WHERE datname LIKE 'upgradeops_%'" | Should -Be '0'
    }

    It '-WhatIf on a restore names the workloads it would scale down, and changes nothing' {
        $out = Invoke-WhatIf "Restore-DeploymentBackup -Path '$($b.Path)' -Deployment `$d -WhatIf"
        $out | Should -Match 'scale down: Deployment hb/hb-sandbox-server \(2 → 0 replicas\), Deployment hb/hb-sandbox-worker \(2 → 0 replicas\)'
        (Get-Hb).Services.Where({ $_.Role -eq 'Api' }).ExpectedReplicas | Should -Be 2
    }

    It 'restores the data with the workloads scaled down and back up, ready' {
        $null = Invoke-Sql 'DELETE FROM items WHERE id > 40; INSERT INTO items VALUES (1000, ''after the backup'');'
        $null = & docker exec $db sh -c 'rm /opt/sandbox/storage/artifacts/device-001.txt && echo later > /opt/sandbox/storage/after-backup.txt'
        $null = Invoke-RestMethod -Method Patch -Uri "$($server.Url)/api/v1/namespaces/hb/configmaps/hb-sandbox-config" `
            -ContentType 'application/merge-patch+json' -Body '{"data":{"APP_LOG_LEVEL":"changed-after-backup"}}'
        $restored = $b | Restore-DeploymentBackup -Deployment (Get-Hb) -Force -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings | Should -Match 'Secret hb/hb-sandbox-database is not restored: this backup keeps only its keys \(password\)'
        (Invoke-RestMethod "$($server.Url)/api/v1/namespaces/hb/configmaps/hb-sandbox-config").data.APP_LOG_LEVEL | Should -Not -Be 'changed-after-backup'
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String((Invoke-RestMethod "$($server.Url)/api/v1/namespaces/hb/secrets/hb-sandbox-database").data.password)) |
            Should -Be $password
        $restored.Id | Should -Be $b.Id
        Invoke-Sql 'SELECT count(*), max(id) FROM items' | Should -Be '100|100'
        & docker exec $db cat /opt/sandbox/storage/artifacts/device-001.txt | Should -Be 'artifact of device-001'
        & docker exec $db sh -c 'ls -A /opt/sandbox/storage' | Should -Be @('artifacts')
        & docker exec $db cat /opt/sandbox/repositories/infra/HEAD | Should -Be 'ref'
        $d = Get-Hb
        $d.Healthy | Should -BeTrue
        ($d.Services | Where-Object Name -eq 'hb-sandbox-server').Replicas | Should -Be 2
        ($d.Services | Where-Object Name -eq 'hb-sandbox-worker').Replicas | Should -Be 2
        Invoke-Sql "SELECT count(*) FROM pg_database WHERE datname LIKE 'upgradeops_%'" | Should -Be '0'
    }

    It 'keeps the Secret only inside an encrypted backup, and restores it from there' {
        $key = ConvertTo-SecureString 'kube backup passphrase' -AsPlainText -Force
        $e = Get-Hb | New-DeploymentBackup -Path (Join-Path $TestDrive 'encrypted') -EncryptionKey $key -Component resources
        $e.Components.File | Should -Be 'config/resources.json.enc'
        $b64 = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($password))
        foreach ($file in Get-ChildItem -Recurse -File $e.Path) {
            $text = [Text.Encoding]::Latin1.GetString([IO.File]::ReadAllBytes($file.FullName))
            $text | Should -Not -Match ([regex]::Escape($password)) -Because $file.Name
            $text | Should -Not -Match ([regex]::Escape($b64)) -Because $file.Name
        }
        ($e | Test-DeploymentBackup -EncryptionKey $key).Passed | Should -BeTrue
        $other = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('changed-password'))
        $null = Invoke-RestMethod -Method Patch -Uri "$($server.Url)/api/v1/namespaces/hb/secrets/hb-sandbox-database" `
            -ContentType 'application/merge-patch+json' -Body "{`"data`":{`"password`":`"$other`"}}"
        $null = $e | Restore-DeploymentBackup -Deployment (Get-Hb) -EncryptionKey $key -Force -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings | Should -BeNullOrEmpty
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String((Invoke-RestMethod "$($server.Url)/api/v1/namespaces/hb/secrets/hb-sandbox-database").data.password)) |
            Should -Be $password
        (Get-Hb).Healthy | Should -BeTrue
    }

    It 'says clearly when the database pod does not run' {
        Set-Replicas statefulsets hb-sandbox-database 0
        try {
            $err = Get-ErrorFrom { Get-Hb | New-DeploymentBackup -Path $backups -ErrorAction Stop -WarningAction SilentlyContinue }
            $err.FullyQualifiedErrorId | Should -BeLike 'DataStoreNotRunning,*'
            $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
            $err.TargetObject | Should -Be 'database'
            $err.Exception.Message | Should -Match 'kubectl scale statefulset hb-sandbox-database -n hb --replicas=1'
        }
        finally { Set-Replicas statefulsets hb-sandbox-database 1 }
    }

    It 'says clearly when no container answers the pod exec' {
        $install = Invoke-TestHelm $server install nodocker $chart -n hb --wait --timeout 30s --set "server.port=$apiPort"
        $install.ExitCode | Should -Be 0 -Because $install.Error
        $nd = Get-UpgradeDeployment -Namespace hb -Release nodocker -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue
        $err = Get-ErrorFrom { $nd | New-DeploymentBackup -Path $backups -ErrorAction Stop -WarningAction SilentlyContinue }
        $err.FullyQualifiedErrorId | Should -BeLike 'PodExecFailed,*'
        $err.CategoryInfo.Category | Should -Be 'ConnectionError'
        $err.TargetObject | Should -Be 'hb/nodocker-sandbox-database-0'
        $err.Exception.Message | Should -Match 'Check that the pod runs'
    }

    It 'says clearly when PostgreSQL does not answer in the pod' {
        $install = Invoke-TestHelm $server install unreachable $chart -n hb --wait --timeout 30s --set "database.port=$(Get-FreePort)" --set "database.password=$password" `
            --set "server.port=$apiPort"
        $install.ExitCode | Should -Be 0 -Because $install.Error
        $u = Get-UpgradeDeployment -Namespace hb -Release unreachable -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue
        $err = Get-ErrorFrom { $u | New-DeploymentBackup -Path $backups -ErrorAction Stop -WarningAction SilentlyContinue }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseUnreachable,*'
        $err.CategoryInfo.Category | Should -Be 'ConnectionError'
        $err.Exception.Message | Should -Match 'pod hb/unreachable-sandbox-database-0'
        $err.Exception.Message | Should -Not -Match ([regex]::Escape($password))
        @(Get-ChildItem -Force $backups | Where-Object Name -like '.*partial') | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-Upgrade -Backup and Invoke-Rollback on a Helm release, data included' -Tag 'Kubernetes', 'Helm' {
    BeforeAll {
        $script:before = Get-Hb
        $script:b2 = $before | New-DeploymentBackup -Path $backups -WarningAction SilentlyContinue
        $script:counts = ($b2.Components | Where-Object Kind -eq 'PostgresDump').RowCounts
    }

    It 'upgrades 1.7.5 to 1.7.6 with the backup verified and journalled' {
        $result = $before | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -Backup $b2 -HelmPath $helm -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        $result.BackupId | Should -Be $b2.Id
        (Get-Content -Raw $result.JournalPath | ConvertFrom-Json).Result.BackupPath | Should -Be $b2.Path
        $d = Get-Hb
        $d.Version | Should -Be '1.7.6'
        $script:upgradedRevision = $d.Revision
        $upgradedRevision | Should -Be ($before.Revision + 1)
    }

    It '-WhatIf on the rollback names the backup and the helm rollback, and changes nothing' {
        $out = Invoke-WhatIf "Invoke-Rollback -Deployment `$d -WhatIf"
        $out | Should -Match ([regex]::Escape("verify backup $($b2.Path)"))
        $out | Should -Match "'helm rollback hb $($before.Revision) -n hb --wait'"
        (Get-Hb).Revision | Should -Be $upgradedRevision
    }

    It 'rolls back to the previous revision with the data of the backup' {
        $null = Invoke-Sql 'DELETE FROM items WHERE id <= 10; INSERT INTO items VALUES (2000, ''written on 1.7.6'');'
        $rollback = Invoke-Rollback -Deployment (Get-Hb) -HelmPath $helm -Force
        $rollback.Operation | Should -Be 'Rollback'
        $rollback.Status | Should -Be 'Succeeded'
        $rollback.BackupId | Should -Be $b2.Id
        $rollback.Steps.Name | Should -Be @('restore data', 'helm rollback', 'rollout')
        $d = Get-Hb
        $d.Version | Should -Be '1.7.5'
        $d.Revision | Should -Be ($upgradedRevision + 1)
        $d.Healthy | Should -BeTrue
        ($d.Services | Where-Object Name -eq 'hb-sandbox-server').Version | Should -Be '1.7.5'
        Invoke-Sql 'SELECT count(*), min(id), max(id) FROM items' | Should -Be "$($counts['public.items'])|1|100"
        (Get-Hb | Get-UpgradeHistory | Where-Object Operation -eq 'Upgrade')[0].Status | Should -Be 'RolledBack'
    }

    It 'refuses a rollback whose backup is damaged, before changing anything' -Tag 'Fault' {
        $result = Get-Hb | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -Backup $b2 -HelmPath $helm -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        $revision = (Get-Hb).Revision
        $dump = Join-Path $b2.Path 'database.dump'
        $bytes = [IO.File]::ReadAllBytes($dump); $bytes[100] = $bytes[100] -bxor 0xff; [IO.File]::WriteAllBytes($dump, $bytes)
        $err = Get-ErrorFrom { Invoke-Rollback -Deployment (Get-Hb) -HelmPath $helm -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupNotVerified,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.Exception.Message | Should -Match 'Nothing was rolled back'
        (Get-Hb).Revision | Should -Be $revision
    }
}

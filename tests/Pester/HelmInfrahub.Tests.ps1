# The whole runbook on the real Infrahub chart with the built-in infrahub profile (no -Profile but a copy of it that lists the
# chart versions): the corpus copy of opsmill/infrahub-helm chart 4.1.13 with our stand-in subcharts (Corpus.ps1), installed by
# the real helm into the test API server started with -RunContainers, which runs all seven components as containers of the
# sandbox's images (Infrahub and Prefect stand-ins, the Neo4j stand-in, Redis, RabbitMQ, PostgreSQL). Three chart versions are
# served from a chart repository of this test's own: 4.1.12 (a copy of 4.1.13 with version 4.1.12 and app 1.1.7), the real
# 4.1.13 (app 1.1.8), and 4.2.0 (a copy of 4.1.13 with app 1.2.0 and the later chart's upgrade Job, corpus
# upgrade-job-later/). Path with chart versions -> backup and restore test -> upgrade 4.1.12 -> 4.1.13 (the migration by pod
# exec, since 4.1.13 renders no Job) -> Test-PostUpgrade -> the withdrawn 1.2.0 on chart 4.2.0 (the migration Job's log read
# while it runs, its failure found there, -RollbackOnFailure) -> Invoke-Rollback to 4.1.12 with the first backup.
# Every port is moved off the Compose sandbox's through the values the real charts read (test values below; the stand-ins'
# README says which keys). Verified against that test server and the stand-ins only, never a real cluster or a real Infrahub.
# Skipped where the corpus is not on the machine.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    $script:corpusMissing = -not (Find-SharedCorpus 'infrahub-helm/chart-4.1.13/Chart.yaml')
}
BeforeAll {
    $script:savedDataHome = $env:XDG_DATA_HOME
    $script:savedEnvironment = @{}
    $script:server = $null; $script:repository = $null
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    . (Join-Path $PSScriptRoot 'GraphFixture.ps1')
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
    $script:backups = Join-Path $TestDrive 'backups'
    if ($corpusMissing) { return }

    $script:helm = Get-Helm
    # The real chart, and two versions made from it: only Chart.yaml's version and appVersion differ (and 4.2.0 gains the
    # later chart's upgrade Job template, which reads values 4.1.13 already has, and its values key upgrade.enabled).
    $script:chart4113 = Copy-InfrahubChart (Join-Path $TestDrive 'infrahub')
    function New-InfrahubChartVersion([string] $Version, [string] $AppVersion, [switch] $UpgradeJob) {
        $copy = Join-Path $TestDrive "infrahub-$Version/infrahub"
        $null = New-Item -ItemType Directory -Force (Split-Path $copy)
        Copy-Item -Recurse $chart4113 $copy
        $file = Join-Path $copy 'Chart.yaml'
        (Get-Content -Raw $file) -replace '(?m)^version: .*$', "version: $Version" -replace '(?m)^appVersion: .*$', "appVersion: `"$AppVersion`"" |
            Set-Content -NoNewline $file
        if ($UpgradeJob) {
            Copy-Item (Find-SharedCorpus 'infrahub-helm/upgrade-job-later/infrahub-upgrade-job.yaml') (Join-Path $copy 'templates')
            Add-Content (Join-Path $copy 'values.yaml') "`nupgrade:`n  enabled: false`n"
        }
        $copy
    }
    $script:chart4112 = New-InfrahubChartVersion 4.1.12 1.1.7
    $script:chart420 = New-InfrahubChartVersion 4.2.0 1.2.0 -UpgradeJob
    # The built-in profile with the chart versions listed (it lists none on purpose: docs/profile-reference.md).
    $builtIn = Get-Content -Raw (Join-Path $env:UPGRADEOPS_ROOT 'src/UpgradeOps.Engine/Profiles/BuiltIn/infrahub.yml')
    $script:profilePath = Join-Path $TestDrive 'infrahub-charts.yml'
    $builtIn -replace '(?m)^(  helmValuesKey: global\.infrahubTag)$', "`$1`n  helmCharts:`n    - { version: 4.1.12, appVersion: 1.1.7 }`n    - { version: 4.1.13, appVersion: 1.1.8 }`n    - { version: 4.2.0, appVersion: 1.2.0 }" |
        Set-Content $profilePath
    (Get-Content -Raw $profilePath) | Should -Match 'version: 4\.2\.0, appVersion: 1\.2\.0'

    $ports = Get-KubeTestFreePort 8
    $script:P = @{ Api = $ports[0]; Neo4j = $ports[1]; Redis = $ports[2]; Amqp = $ports[3]; Dist = $ports[4]; Epmd = $ports[5]; Prefect = $ports[6]; Postgres = $ports[7] }
    $script:api = "http://127.0.0.1:$($P.Api)"
    # What an admin's values file for this machine would say: the sandbox's images from the local registry and every port
    # moved, each through a key the real chart (or subchart) reads. The stand-in Infrahub runs 'infrahub server start' and
    # 'infrahub git-agent start' instead of gunicorn and 'prefect worker start'. The server's port is named infrahub-gui,
    # the one name chart 4.1.13 renders as a containerPort (templates/infrahub-server.yaml), so the engine's port-forward
    # finds it. upgrade.enabled turns on chart 4.2.0's upgrade Job (4.1.x have none and ignore it).
    $script:valuesFile = Join-Path $TestDrive 'values.yaml'
    $infrahubEnv = @"
      INFRAHUB_CACHE_PORT: $($P.Redis)
      INFRAHUB_BROKER_PORT: $($P.Amqp)
      INFRAHUB_DB_PASSWORD: admin
      INFRAHUB_STANDIN_DB_HTTP_PORT: $($P.Neo4j)
      INFRAHUB_WORKFLOW_PORT: $($P.Prefect)
      PREFECT_API_URL: http://prefect-server:$($P.Prefect)/api
"@
    @"
global:
  infrahubRepository: upgradeops/infrahub
upgrade:
  enabled: true
infrahubServer:
  ports:
    - name: infrahub-gui
      port: $($P.Api)
      targetPort: $($P.Api)
  infrahubServer:
    imageRegistry: 127.0.0.1:5000
    args: [infrahub, server, start, --port, "$($P.Api)"]
    env:
$infrahubEnv
infrahubTaskWorker:
  infrahubTaskWorker:
    imageRegistry: 127.0.0.1:5000
    args: [infrahub, git-agent, start]
    env:
$infrahubEnv
neo4j:
  image:
    customImage: 127.0.0.1:5000/upgradeops/neo4j:5-community
  env:
    NEO4J_server_http_listen__address: "127.0.0.1:$($P.Neo4j)"
    NEO4J_dbms_security_auth__minimum__password__length: "4"
redis:
  image: { registry: 127.0.0.1:5000, repository: upgradeops/redis, tag: "7" }
  master:
    containerPorts: { redis: $($P.Redis) }
    service: { ports: { redis: $($P.Redis) } }
rabbitmq:
  image: { registry: 127.0.0.1:5000, repository: upgradeops/rabbitmq, tag: "3" }
  containerPorts: { amqp: $($P.Amqp) }
  service: { ports: { amqp: $($P.Amqp) } }
  extraEnvVars:
    - { name: RABBITMQ_NODE_PORT, value: "$($P.Amqp)" }
    - { name: RABBITMQ_DIST_PORT, value: "$($P.Dist)" }
    - { name: ERL_EPMD_PORT, value: "$($P.Epmd)" }
    - { name: RABBITMQ_DEFAULT_USER, value: infrahub }
    - { name: RABBITMQ_DEFAULT_PASS, value: infrahub }
prefect-server:
  server:
    image: { repository: 127.0.0.1:5000/upgradeops/prefect, prefectTag: 3.0.3 }
    prefectApiUrl: http://127.0.0.1:$($P.Prefect)/api
  service: { port: $($P.Prefect), targetPort: $($P.Prefect) }
  postgresql:
    image: { registry: 127.0.0.1:5000, repository: upgradeops/postgres, tag: "15" }
    containerPorts: { postgresql: $($P.Postgres) }
    primary:
      service: { ports: { postgresql: $($P.Postgres) } }
      extraEnvVars:
        - { name: PGPORT, value: "$($P.Postgres)" }
        - { name: POSTGRES_DB, value: server }
"@ | Set-Content $valuesFile

    $script:server = Start-KubeTestServer -RunContainers
    # Invoke-Upgrade runs helm with this process's environment: the test server's kubeconfig and helm folders.
    foreach ($e in $server.Environment.GetEnumerator()) { $savedEnvironment[$e.Key] = [Environment]::GetEnvironmentVariable($e.Key); Set-Item "env:$($e.Key)" $e.Value }
    $script:repository = Start-KubeTestChartRepository $server -Chart $chart4112, $chart4113, $chart420 -Folder (Join-Path $TestDrive 'repo') -Name ihrepo
    # The release named as Infrahub's documentation names it: the chart's service addresses (FULLNAME-database,
    # FULLNAME-cache-master) match the subcharts' names only when the release's name contains the chart's.
    $install = Invoke-TestHelm $server install infrahub ihrepo/infrahub --version 4.1.12 -n infrahub --create-namespace -f $valuesFile --timeout 180s
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }

    function Get-Ih { Get-UpgradeDeployment -Namespace infrahub -Release infrahub -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
    function Wait-Healthy([int] $Seconds = 120) { Wait-KubeTestRelease { Get-Ih } $Seconds }
    function Get-ApiVersion { Get-KubeTestApiVersion $api 60 }
    $script:graph = "$($server.ContainerPrefix)-infrahub-infrahub-database"
    $script:serverContainer = "$($server.ContainerPrefix)-infrahub-infrahub-infrahub-server"
    function Invoke-Cypher([string] $Statement) {
        $output = & docker exec -e NEO4J_USERNAME=neo4j -e NEO4J_PASSWORD=admin $graph cypher-shell --format plain $Statement 2>&1
        if ($LASTEXITCODE -ne 0) { throw "cypher-shell: $output" }
        @($output)
    }
    # The graph's content (GraphFixture.ps1: counts and the stand-in's checksum), on the database's moved HTTP port.
    # The database answers again a moment after a restore's load: tried for 30 s.
    function Get-IhGraph {
        $deadline = (Get-Date).AddSeconds(30)
        while ($true) {
            try { return Get-GraphFingerprint -Password admin -Port $P.Neo4j }
            catch { if ((Get-Date) -gt $deadline) { throw } ; Start-Sleep -Milliseconds 500 }
        }
    }
    # The release at a version and chart version, healthy, its API saying that version.
    function Assert-Release([string] $Version, [string] $ChartVersion) {
        $d = Wait-Healthy
        $d.Version | Should -Be $Version
        $d.ChartVersion | Should -Be $ChartVersion
        Get-ApiVersion | Should -Be $Version
    }
    # The migrations 'infrahub upgrade' recorded for a version (the stand-in's (:GraphMigration {version})): rows after the header.
    function Get-MigrationCount([string] $Version) { @(Invoke-Cypher "MATCH (m:GraphMigration {version: '$Version'}) RETURN m").Count - 1 }
}
AfterAll {
    if ($script:repository) { $script:repository | Stop-KubeTestChartRepository }
    if ($script:server) { $script:server | Stop-KubeTestServer }
    foreach ($e in $script:savedEnvironment.GetEnumerator()) {
        if ($null -eq $e.Value) { Remove-Item "env:$($e.Key)" -ErrorAction SilentlyContinue } else { Set-Item "env:$($e.Key)" $e.Value }
    }
    $env:XDG_DATA_HOME = $script:savedDataHome
}

Describe 'The whole runbook on the real Infrahub chart with the built-in profile' -Tag 'Kubernetes', 'Helm' -Skip:$corpusMissing {
    It 'runs chart 4.1.12 (app 1.1.7): the seven components mapped by the chart''s labels, running the sandbox''s images, and healthy' {
        $d = Wait-Healthy
        $d.Version | Should -Be '1.1.7'
        $d.ChartVersion | Should -Be '4.1.12'
        $roles = @{}; foreach ($s in $d.Services) { $roles[$s.Name] = "$($s.Role)" }
        $roles['infrahub-infrahub-server'] | Should -Be 'Api'
        $roles['infrahub-infrahub-task-worker'] | Should -Be 'Worker'
        $roles['prefect-server'] | Should -Be 'TaskManager'
        $roles['infrahub-database'] | Should -Be 'Database'
        $roles['infrahub-postgresql'] | Should -Be 'Database'
        $roles['infrahub-cache-master'] | Should -Be 'Cache'
        $roles['infrahub-message-queue'] | Should -Be 'Queue'
        Get-ApiVersion | Should -Be '1.1.7'
        & docker inspect -f '{{.Config.Image}}' $serverContainer | Should -Be '127.0.0.1:5000/upgradeops/infrahub:1.1.7'
    }

    It 'plans the path with chart versions: 1.1.7 -> 1.1.8 on the real chart 4.1.13, then 1.2.0 on chart 4.2.0' {
        $patch = Get-Ih | Test-UpgradePath -To 1.1.8 -AvailableVersion 1.1.8, 1.2.0
        $patch.IsSupported | Should -BeTrue -Because $patch.Reason
        $patch.Route | Should -Be '1.1.7 → 1.1.8'
        $patch.ChartRoute | Should -Be '4.1.12 → 4.1.13'
        # A minor goes direct, on the chart that ships it.
        $minor = Get-Ih | Test-UpgradePath -To 1.2.0 -AvailableVersion 1.1.8, 1.2.0
        $minor.Route | Should -Be '1.1.7 → 1.2.0'
        $minor.ChartRoute | Should -Be '4.1.12 → 4.2.0'
        (Get-Ih | Test-UpgradePath -ToChartVersion 4.1.13).To | Should -Be '1.1.8'
        # -WhatIf says how each chart runs the migration: 4.1.13 renders no Job, 4.2.0 renders its Job with upgrade.enabled.
        $out = Invoke-KubeTestWhatIf $server infrahub infrahub $profilePath "`$d | Test-UpgradePath -To 1.1.8 -AvailableVersion 1.1.8 | Invoke-Upgrade -Chart ihrepo/infrahub -SkipBackup -HelmPath '$helm' -WhatIf"
        $out | Should -Match "--version 4\.1\.13 --set global\.infrahubTag=1\.1\.8 \(the migration 'infrahub upgrade' by pod exec in a pod of infrahub-server"
        $out = Invoke-KubeTestWhatIf $server infrahub infrahub $profilePath "`$d | Test-UpgradePath -To 1.2.0 -AvailableVersion 1.2.0 | Invoke-Upgrade -Chart ihrepo/infrahub -SkipBackup -HelmPath '$helm' -AcknowledgeBreakingChange -WhatIf"
        $out | Should -Match '--version 4\.2\.0 --set global\.infrahubTag=1\.2\.0 \(the migration by the chart''s Job infrahub-infrahub-upgrade'
    }

    It 'backs up every store (Neo4j offline through the database pod, the task manager''s PostgreSQL, the storage volume) and restore-tests the dumps' {
        $null = Invoke-Cypher "UNWIND range(1, 30) AS i CREATE (:RunbookMarker {id: i, name: 'device'})"
        $script:graphAt117 = Get-IhGraph
        & docker exec $serverContainer sh -c 'mkdir -p /opt/infrahub/storage && echo artifact-1 > /opt/infrahub/storage/artifact.txt'
        $script:b = Get-Ih | New-DeploymentBackup -Path $backups -WarningVariable warnings -WarningAction SilentlyContinue
        # The profile's git volume has no place in a pod: said once (the backup does the plan the user confirmed, not a second one).
        @($warnings | Where-Object { "$_" -match 'Volume data store\(s\) git are not backed up on Kubernetes' }).Count | Should -Be 1
        ($b.Components | Where-Object Name -eq 'database').Kind | Should -Be 'Neo4jDump'
        ($b.Components | Where-Object Name -eq 'task-manager-db').Kind | Should -Be 'PostgresDump'
        # The storage volume is archived before its server is scaled down for the offline dump (before, it found no pod).
        ($b.Components | Where-Object Name -eq 'storage').Source | Should -Match '/opt/infrahub/storage in pod infrahub/infrahub-infrahub-server-'
        (Get-Ih).Healthy | Should -BeTrue
        $v = $b | Test-DeploymentBackup -Deployment (Get-Ih) -RestoreTest
        $table = $v.Checks | Format-Table Name, Status, Detail -AutoSize -Wrap | Out-String -Width 200
        $v.Passed | Should -BeTrue -Because $table
        ($v.Checks | Where-Object Name -eq 'RestoreTest database').Detail | Should -Match 'scratch pod.*Consistency check passed'
        ($v.Checks | Where-Object Name -eq 'RestoreTest task-manager-db').Status | Should -Be 'Passed'
        Get-IhGraph | Should -Be $graphAt117
    }

    It 'upgrades to 1.1.8 with the real chart 4.1.13: infrahub upgrade by pod exec in the new server, since the chart renders no Job' {
        $result = Get-Ih | Test-UpgradePath -To 1.1.8 -AvailableVersion 1.1.8 | Invoke-Upgrade -Chart ihrepo/infrahub -Backup $b -HelmPath $helm -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        ($result.Steps | Where-Object Name -eq 'verify release').Detail | Should -Match 'chart infrahub 4\.1\.13, app 1\.1\.8'
        ($result.Steps.Name -join ', ') | Should -Match 'migration'
        Assert-Release 1.1.8 4.1.13
        Get-MigrationCount 1.1.8 | Should -Be 1
        $script:upgraded = $result
    }

    It 'validates the upgraded release with Test-PostUpgrade, through a port-forward to the server pod' {
        $v = $upgraded | Test-PostUpgrade
        $table = $v.Checks | Format-Table Name, Status, Detail -AutoSize -Wrap | Out-String -Width 200
        ($v.Checks | Where-Object Name -eq 'ApiVersion').Status | Should -Be 'Passed' -Because $table
        ($v.Checks | Where-Object Name -eq 'ApiVersion').Detail | Should -Match '1\.1\.8'
        @($v.Checks | Where-Object Status -eq 'Failed') | Should -BeNullOrEmpty -Because $table
    }

    It 'rolls the withdrawn 1.2.0 back: chart 4.2.0''s upgrade Job logs the failed migration, read while it runs though helm deletes the Job, and -RollbackOnFailure restores 4.1.13 and the data' -Tag 'Fault' {
        $before = Get-Ih
        $fresh = $before | New-DeploymentBackup -Path $backups -WarningAction SilentlyContinue
        $graphAt118 = Get-IhGraph
        $null = Invoke-Cypher 'UNWIND range(1, 20) AS i CREATE (:AfterBackup {id: i})'
        $r = $before | Test-UpgradePath -To 1.2.0 -AvailableVersion 1.2.0 | Invoke-Upgrade -Chart ihrepo/infrahub -Backup $fresh -RollbackOnFailure -HelmPath $helm `
            -AcknowledgeBreakingChange -Force -ErrorVariable upgradeErrors -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'RolledBack' -Because $r.Error
        $r.ErrorId | Should -Be 'MigrationFailed'
        # By the chart's Job, not by exec as well: the rendering is read unmasked (the RabbitMQ password 'infrahub' is the release's name).
        $r.Error | Should -Match '\(Job infrahub/infrahub-infrahub-upgrade\) exited with code 0 but reported a failure'
        $r.Steps.Name | Should -Not -Contain 'migration'
        ($r.MigrationOutput -join "`n") | Should -Match 'Job infrahub-infrahub-upgrade succeeded[\s\S]*Upgrade cancelled due to migration failure'
        @((Invoke-RestMethod "$($server.Url)/apis/batch/v1/namespaces/infrahub/jobs").items | ForEach-Object { $_.metadata.name }) | Should -Not -Contain 'infrahub-infrahub-upgrade'
        Assert-Release 1.1.8 4.1.13
        Get-IhGraph | Should -Be $graphAt118
        Get-MigrationCount 1.2.0 | Should -Be 0
    }

    It 'rolls back to 1.1.7 and chart 4.1.12 with Invoke-Rollback and the first backup: graph, storage and API as they were' {
        $null = Invoke-Cypher 'UNWIND range(1, 20) AS i CREATE (:AfterBackup {id: i})'
        $rollback = Invoke-Rollback -Deployment (Get-Ih) -Backup $b -HelmPath $helm -Force
        $rollback.Status | Should -Be 'Succeeded' -Because $rollback.Error
        Assert-Release 1.1.7 4.1.12
        Get-IhGraph | Should -Be $graphAt117
        Get-MigrationCount 1.1.8 | Should -Be 0
        & docker exec $serverContainer cat /opt/infrahub/storage/artifact.txt | Should -Be 'artifact-1'
    }
}

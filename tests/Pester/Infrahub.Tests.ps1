# The upgrade runbook with the built-in `infrahub` profile (no -Profile) on a deployment in Infrahub's own topology
# (tests/Sandbox/infrahub: infrahub-server, task-worker x2, task-manager, task-manager-db, database, cache, message-queue;
# RabbitMQ, Redis and PostgreSQL real, the database, Infrahub and Prefect stand-ins, every difference in their README):
# path, readiness, backup of every data store, restore test, an upgrade that runs `infrahub upgrade`, every post-upgrade
# check passing, a rehearsal on a copy, a broken version rolled back with the graph equal to the backup's, Invoke-Rollback
# to the first backup, and kill -9 in the middle of an upgrade's migration and of a backup's Neo4j dump.
# Tagged GraphSandbox, not Sandbox: this project has its own ports (8000, 4200, 7474, 15432, 16379, 35672), so the file
# runs in a process beside the Compose sandbox's files; it shares 7474 and 15432 with Neo4j.Tests.ps1, and the test task
# runs the files tagged GraphSandbox in one process, one after the other. Nothing here ran against a real Infrahub or Neo4j.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'GraphFixture.ps1')
    $script:project = 'upgradeops-infrahub'
    $script:folder = Join-Path $TestDrive $project
    $script:composeFile = Join-Path $folder 'docker-compose.yml'
    $script:available = @('1.1.8', '1.2.0')

    function Invoke-InfrahubCompose { docker-compose -p $project -f $composeFile @args 2>&1 | Out-String }
    function Get-InfrahubContainer([string] $Service) {
        docker ps -a --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$Service" --format '{{.Names}}' | Select-Object -First 1
    }
    function Wait-InfrahubHealthy([int] $Seconds = 90) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            $states = @(docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}} {{.Status}}')
            if ($states.Count -eq 8 -and @($states | Where-Object { $_ -notmatch '\(healthy\)' }).Count -eq 0) { return }
            Start-Sleep -Milliseconds 500
        }
        throw "The Infrahub sandbox is not healthy after $Seconds s: $(docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}} {{.Status}}')"
    }
    function Get-Infrahub { Get-UpgradeDeployment -ComposeFile $composeFile -WarningAction SilentlyContinue }
    # Each expected name's item (by .Name) described by $Describe must be the expected text.
    function Assert-Named([object[]] $Items, [scriptblock] $Describe, [hashtable] $Expected) {
        foreach ($name in $Expected.Keys) {
            $item = @($Items | Where-Object Name -eq $name)[0]
            ($item | ForEach-Object $Describe) | Should -Be $Expected[$name] -Because $name
        }
    }
    function Invoke-GraphQL([string] $Query) {
        Invoke-RestMethod -Method Post -Uri 'http://127.0.0.1:8000/graphql' -ContentType 'application/json' -Body (@{ query = $Query } | ConvertTo-Json)
    }
    # Every file UpgradeOps wrote for this deployment, except the backups' copies of the .env (the configuration it restores).
    function Get-WrittenText {
        $journals = Join-Path $folder '.upgradeops'
        $files = @(Get-ChildItem -Recurse -File $journals -ErrorAction SilentlyContinue) +
            @(Get-ChildItem -Recurse -File $backupRoot -ErrorAction SilentlyContinue | Where-Object { $_.Name -ne '.env' -and $_.Extension -in '.json', '.log', '.txt', '.yml' })
        ($files | ForEach-Object { Get-Content -Raw $_.FullName }) -join "`n"
    }

    # The neo4j-admin gate (GraphFixture.ps1) for the kill in the middle of a dump.
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:GateDatabase = { Get-InfrahubContainer database }
    $script:GatePrelude = "Import-Module '$env:UPGRADEOPS_MODULE'; `$d = Get-UpgradeDeployment -ComposeFile '$composeFile' -WarningAction SilentlyContinue; "

    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/Sandbox.psm1') -Force
    $null = Start-InfrahubSandbox -Version 1.1.7 -ProjectName $project -Path $folder
    # The secrets Start-InfrahubSandbox generated into the .env (its first line, a comment, is skipped).
    $dotEnv = Get-Content -Raw (Join-Path $folder '.env') | ConvertFrom-StringData
    $script:password = $dotEnv.INFRAHUB_DB_PASSWORD
    $script:token = $dotEnv.INFRAHUB_INITIAL_ADMIN_TOKEN
    $script:brokerPassword = $dotEnv.INFRAHUB_BROKER_PASSWORD
    $script:backupRoot = Join-Path $TestDrive 'backups'
}
AfterAll {
    if ($script:composeFile -and (Test-Path $script:composeFile)) { $null = Invoke-InfrahubCompose down -v --remove-orphans }
}

Describe 'The Infrahub runbook with the built-in profile' -Tag 'GraphSandbox', 'Infrahub', 'Neo4j' {
    It 'Get-UpgradeDeployment describes Infrahub''s topology with the built-in profile, and names the passwords it cannot hide' {
        $d = Get-UpgradeDeployment -ComposeFile $composeFile -WarningVariable warnings -WarningAction SilentlyContinue
        $d.Profile | Should -Be 'infrahub'
        $d.Version | Should -Be '1.1.7'
        $d.Healthy | Should -BeTrue
        $d.ApiEndpoint | Should -Be 'http://127.0.0.1:8000'
        Assert-Named $d.Services { "$($_.Role) $($_.Replicas)" } @{ 'infrahub-server' = 'Api 1'; 'task-worker' = 'Worker 2'; 'task-manager' = 'TaskManager 1'
            'task-manager-db' = 'Database 1'; 'database' = 'Database 1'; 'cache' = 'Cache 1'; 'message-queue' = 'Queue 1' }
        # Infrahub's task manager database keeps the compose file's postgres/postgres: shown, and said.
        ($warnings -join "`n") | Should -Match 'POSTGRES_PASSWORD has a password that is also a name the deployment shows'
        ($warnings -join "`n") | Should -Not -Match 'INFRAHUB_BROKER_PASSWORD'
    }

    It 'plans 1.1.7 → 1.1.8 directly, and readiness counts background tasks with InfrahubTask' {
        $path = Get-Infrahub | Test-UpgradePath -To 1.1.8 -AvailableVersion $available
        $path.IsSupported | Should -BeTrue
        $path.Reason | Should -Be 'Patch upgrade: direct.'
        $readiness = Get-Infrahub | Test-UpgradeReadiness -To 1.1.8 -AvailableVersion $available
        ($readiness.Checks | Where-Object Name -eq 'DeploymentHealthy').Status | Should -Be 'Passed'
        $tasks = $readiness.Checks | Where-Object Name -eq 'BackgroundTasks'
        $tasks.Status | Should -Be 'Passed'
        $tasks.Detail | Should -Be 'no background task pending or running'
    }

    It 'backs up the graph (offline dump), the task manager''s database, the storage and git volumes and the configuration' {
        $script:fingerprint117 = Get-GraphFingerprint -Password $password
        $fingerprint117 | Should -Match '^nodes=4 relationships=1 '
        $script:backup117 = Get-Infrahub | New-DeploymentBackup -Path $backupRoot -Force -ErrorAction Stop
        $backup117.Profile | Should -Be 'infrahub'
        Assert-Named $backup117.Components { "$($_.Kind)" } @{ 'database' = 'Neo4jDump'; 'task-manager-db' = 'PostgresDump'; 'storage' = 'Volume'; 'git' = 'Volume' }
        # The dump was offline: the graph is what it was, and the deployment serves again.
        Get-GraphFingerprint -Password $password | Should -Be $fingerprint117
        (Get-Infrahub).Healthy | Should -BeTrue
    }

    It 'Test-DeploymentBackup -RestoreTest loads the dump and the database in scratch containers, the live ones untouched' {
        $test = $backup117 | Test-DeploymentBackup -RestoreTest -Deployment (Get-Infrahub)
        $test.Passed | Should -BeTrue -Because (($test.Checks | Where-Object Status -ne 'Passed' | ForEach-Object { "$($_.Name): $($_.Detail)" }) -join '; ')
        $test.RestoreTested | Should -BeTrue
        ($test.Checks | Where-Object Name -eq 'RestoreTest database').Detail | Should -Match 'Nodes: 4; Relationships: 1'
        Get-GraphFingerprint -Password $password | Should -Be $fingerprint117
    }

    It 'Invoke-UpgradeRehearsal upgrades a copy restored from the backup to 1.1.8, every port its services listen on moved, production untouched' -Tag 'Rehearsal' {
        $containers = { docker ps -a -q --filter "label=com.docker.compose.project=$project" | ForEach-Object { docker inspect -f '{{.Name}} {{.State.StartedAt}}' $_ } | Sort-Object }
        $before = & $containers
        $report = $backup117 | Invoke-UpgradeRehearsal -To 1.1.8 -AvailableVersion $available -Deployment (Get-Infrahub) -Force `
            -WorkingDirectory (Join-Path $TestDrive 'rehearsals') -WarningAction SilentlyContinue
        $report.Status | Should -Be 'Passed' -Because (@($report.Errors) + @($report.Warnings) -join '; ')
        # The copy served on ports of its own: the services' listen ports (cache 16379, message queue 35672, task manager
        # 4200, database 7474) were found in the containers and moved, not only the profile's API port.
        foreach ($port in 8000, 4200, 7474, 15432, 16379, 35672, 35673, 34369) { $report.PortMap.ProfilePort | Should -Contain $port }
        & $containers | Should -Be $before
        Get-GraphFingerprint -Password $password | Should -Be $fingerprint117
        docker ps -a -q --filter label=io.upgradeops.rehearsal.id --filter label=io.upgradeops.rehearsal.source=$project | Should -BeNullOrEmpty
        docker volume ls -q --filter label=io.upgradeops.rehearsal.id --filter label=io.upgradeops.rehearsal.source=$project | Should -BeNullOrEmpty
        (Get-Infrahub).Version | Should -Be '1.1.7'
    }

    It 'refuses to copy a task manager listening on a port its settings do not name (RehearsalPortNotMovable), creating nothing' {
        # As an admin's compose file may have it: Prefect on its default port, which only the clients' PREFECT_API_URL names.
        $original = Get-Content -Raw $composeFile
        try {
            [IO.File]::WriteAllText($composeFile, $original.Replace('prefect server start --host 127.0.0.1 --port 4200', 'prefect server start --host 127.0.0.1').
                Replace('"infrahub-health", "task-manager", "4200"', '"infrahub-health", "task-manager"'))
            $null = Invoke-InfrahubCompose up -d --no-deps task-manager
            Wait-InfrahubHealthy
            $report = $backup117 | Invoke-UpgradeRehearsal -To 1.1.8 -AvailableVersion $available -Deployment (Get-Infrahub) -Force `
                -WorkingDirectory (Join-Path $TestDrive 'rehearsals') -ErrorVariable failure -ErrorAction SilentlyContinue
            $report.Status | Should -Be 'Failed'
            ($report.Errors -join ' ') | Should -Match "Service task-manager \($project[-_]task-manager[-_]1\) listens on port 4200 .*Set the port in task-manager's .*\(RehearsalPortNotMovable\)"
            $report.Hops.Count | Should -Be 0 -Because 'nothing was restored or upgraded'
            $failure[0].FullyQualifiedErrorId | Should -BeLike 'RehearsalFailed,*'
            docker ps -a -q --filter label=io.upgradeops.rehearsal.id --filter label=io.upgradeops.rehearsal.source=$project | Should -BeNullOrEmpty
            docker volume ls -q --filter label=io.upgradeops.rehearsal.id --filter label=io.upgradeops.rehearsal.source=$project | Should -BeNullOrEmpty
        }
        finally {
            [IO.File]::WriteAllText($composeFile, $original)
            $null = Invoke-InfrahubCompose up -d --no-deps task-manager
            Wait-InfrahubHealthy
        }
    }

    It 'Invoke-Upgrade runs infrahub upgrade, and Test-PostUpgrade runs every check, none skipped, all passing (timings may warn)' {
        $result = Get-Infrahub | Test-UpgradePath -To 1.1.8 -AvailableVersion $available | Invoke-Upgrade -Backup $backup117 -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        ($result.Steps | Where-Object Name -eq 'migrate').Detail | Should -Be 'infrahub finished'
        ((Invoke-GraphQL 'query { InfrahubInfo { version } }').data.InfrahubInfo.version) | Should -Be '1.1.8'
        (docker exec (Get-InfrahubContainer database) cypher-shell -u neo4j -p $password --format plain 'MATCH (n:GraphMigration) RETURN n') -join ' ' |
            Should -Match "'version': '1.1.8'"

        $validation = $result | Test-PostUpgrade
        $validation.Checks.Name | Should -Be @('ApiVersion', 'ServiceHealth', 'GraphQL', 'ArtifactGeneration', 'GitSync', 'Logs', 'Performance')
        # Performance compares latencies with the baseline: it ran, but its Passed or Warning depends on the machine's load
        # (a test beside this one), and timings are not asserted in tests.
        foreach ($check in $validation.Checks) {
            $check.Status | Should -BeIn ($check.Name -eq 'Performance' ? @('Passed', 'Warning') : @('Passed')) -Because "$($check.Name): $($check.Detail)"
        }
        ($validation.Checks | Where-Object Name -eq 'GitSync').Detail | Should -Match '^infra: in-sync in'
        ($validation.Checks | Where-Object Name -eq 'ArtifactGeneration').Detail | Should -Match '^device-001 startup-config: Ready in'
    }

    It 'a broken 1.2.0 (its migration fails half-way and exits 0) is rolled back by -RollbackOnFailure, the graph equal to the backup''s' {
        $script:backup118 = Get-Infrahub | New-DeploymentBackup -Path $backupRoot -Force -ErrorAction Stop
        $before = Get-GraphFingerprint -Password $password
        $result = Get-Infrahub | Test-UpgradePath -To 1.2.0 -AvailableVersion $available |
            Invoke-Upgrade -Backup $backup118 -RollbackOnFailure -Force -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $result.Status | Should -Be 'RolledBack'
        $result.Error | Should -Match "'Upgrade cancelled due to migration failure'"
        Get-GraphFingerprint -Password $password | Should -Be $before
        $d = Get-Infrahub
        $d.Version | Should -Be '1.1.8'
        $d.Healthy | Should -BeTrue
    }

    It 'Invoke-Rollback returns to 1.1.7 and the first backup''s graph, every post-upgrade check passing' {
        $first = @(Get-Infrahub | Get-UpgradeHistory | Where-Object { $_.From -eq '1.1.7' -and $_.To -eq '1.1.8' })[0]
        $rollback = Invoke-Rollback -Deployment (Get-Infrahub) -UpgradeId $first.Id -Force -ErrorAction Stop
        $rollback.Status | Should -Be 'Succeeded' -Because $rollback.Error
        Get-GraphFingerprint -Password $password | Should -Be $fingerprint117
        $d = Get-Infrahub
        $d.Version | Should -Be '1.1.7'
        $validation = $d | Test-PostUpgrade -ExpectedVersion 1.1.7
        foreach ($check in $validation.Checks) { $check.Status | Should -BeIn @('Passed') -Because "$($check.Name): $($check.Detail)" }
    }

    It 'an upgrade killed (kill -9) while infrahub upgrade runs is finished by -Resume, which waits for that migration instead of starting another' -Tag 'Fault' {
        # The stand-in's migration lasts 20 s (its test knob on the root node), so the kill lands inside it.
        $null = docker exec (Get-InfrahubContainer database) cypher-shell -u neo4j -p $password 'MATCH (n:Root) SET n.standin_migration_seconds = 20'
        $command = "Import-Module '$env:UPGRADEOPS_MODULE'; Get-UpgradeDeployment -ComposeFile '$composeFile' -WarningAction SilentlyContinue | " +
            "Test-UpgradePath -To 1.1.8 -AvailableVersion 1.1.8 | Invoke-Upgrade -SkipBackup -Force"
        $session = Start-Process -FilePath (Join-Path $PSHOME 'pwsh') -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command -PassThru `
            -RedirectStandardOutput (Join-Path $TestDrive 'killed.out') -RedirectStandardError (Join-Path $TestDrive 'killed.err')
        $migrations = { @(docker exec (Get-InfrahubContainer database) cypher-shell -u neo4j -p $password --format plain 'MATCH (n:GraphMigration) RETURN n' | Select-String "'1.1.8'").Count }
        $deadline = (Get-Date).AddSeconds(90)
        while ((& $migrations) -eq 0 -and -not $session.HasExited -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 250 }
        $session.HasExited | Should -BeFalse -Because "the upgrade must still run when the migration starts: $(Get-Content -Raw (Join-Path $TestDrive 'killed.err'))"
        & kill -9 $session.Id
        $session.WaitForExit(10000) | Should -BeTrue
        docker ps --filter "name=$project-upgradeops-migrate-1" --format '{{.Status}}' | Should -Match '^Up'

        $result = Invoke-Upgrade -Deployment (Get-Infrahub) -Resume -Force -WarningVariable warnings -WarningAction SilentlyContinue
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        ($warnings -join "`n") | Should -Match 'The migration to 1.1.8 that an interrupted session started still runs .*waiting for it to finish'
        & $migrations | Should -Be 1 -Because 'the migration the killed session started was waited for, not killed and run again'
        (Get-Infrahub).Version | Should -Be '1.1.8'
        $history = @(Get-Infrahub | Get-UpgradeHistory)
        @($history | Where-Object Status -eq 'Interrupted').Count | Should -Be 0
        foreach ($check in (Get-Infrahub | Test-PostUpgrade).Checks) { $check.Status | Should -Be 'Passed' -Because "$($check.Name): $($check.Detail)" }
    }

    It 'a backup killed (kill -9) in the middle of the Neo4j dump: the next one says Neo4jLeftStopped and brings Infrahub back, the one after succeeds' -Tag 'Fault' {
        $killRoot = Join-Path $TestDrive 'killed'
        $before = Get-GraphFingerprint -Password $password
        try { $killed = Invoke-KilledAtGate "New-DeploymentBackup -Deployment `$d -Path '$killRoot' -Force" }
        finally { Set-AdminGate -Remove }
        $killed.HeldState | Should -BeLike 'T*' -Because 'the database server was held stopped for the offline dump'
        # What the admin finds: no backup listed, a hidden partial folder, the API stopped by the dump.
        Get-DeploymentBackup -Path $killRoot | Should -BeNullOrEmpty
        @(Get-ChildItem -Force $killRoot -Filter '.*.partial').Count | Should -Be 1
        docker inspect -f '{{.State.Running}}' (Get-InfrahubContainer infrahub-server) | Should -Be 'false'

        $d = Get-Infrahub
        $err = try { $d | New-DeploymentBackup -Path $killRoot -Force -ErrorAction Stop | Out-Null; $null } catch { $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'Neo4jLeftStopped,*'
        $err.TargetObject | Should -Be 'database'
        $err.Exception.Message | Should -Match 'run the backup again'
        Wait-InfrahubHealthy
        Get-GraphFingerprint -Password $password | Should -Be $before

        $backup = Get-Infrahub | New-DeploymentBackup -Path $killRoot -Force -ErrorAction Stop
        @(Get-DeploymentBackup -Path $killRoot).Id | Should -Be $backup.Id
        Get-ChildItem -Force $killRoot -Filter '.*.partial' | Should -BeNullOrEmpty
        Wait-InfrahubHealthy
        Get-GraphFingerprint -Password $password | Should -Be $before
    }

    It 'wrote none of the deployment''s secrets into journals, manifests or reports' {
        $text = Get-WrittenText
        $text | Should -Not -BeNullOrEmpty
        foreach ($secret in $password, $token, $brokerPassword) { $text | Should -Not -Match ([regex]::Escape($secret)) }
    }
}

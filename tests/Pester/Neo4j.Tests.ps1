# Neo4j data stores on Compose, with the real cmdlets, on the graph sandbox (tests/Sandbox/graph: Infrahub's database,
# infrahub-server and task-worker services on the Neo4j 5 stand-in, tests/Sandbox/images/neo4j): Community's offline
# dump with the API and worker stopped, restore, Test-DeploymentBackup, Enterprise's online backup, and bad input.
# Tagged GraphSandbox, not Sandbox: the graph sandbox has its own project and ports (7474, 18000), so this file runs in a
# process beside the Compose sandbox's files, one after the other with the other files on those ports.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'GraphFixture.ps1')
    $script:project = 'upgradeops-graph'
    $script:folder = Join-Path $TestDrive 'graph'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Pester/Fixtures/graph-profile.yml'
    $script:password = 'graph-' + [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes(8)).ToLower()
    $script:template = Get-Content -Raw (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/graph/docker-compose.yml')
    $script:composeFile = Join-Path $folder 'docker-compose.yml'

    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action; $null } catch { $_ } }
    function Invoke-Observed([scriptblock] $Action) {
        # What the database container was doing when a backup or restore that must succeed failed: each process's
        # state and kernel wait channel, and its last log lines (one CI run saw the server ignore SIGTERM for 120 s).
        try { & $Action }
        catch {
            $database = Get-GraphContainer database
            $processes = docker exec $database sh -c 'for p in /proc/[0-9]*; do echo "$(basename $p):$(cat $p/comm):$(sed -n "s/^State:	\(.\).*//p" $p/status):$(cat $p/wchan)"; done 2>/dev/null' 2>&1
            $state = docker inspect -f '{{.State.Status}} restarts={{.RestartCount}} exit={{.State.ExitCode}} started={{.State.StartedAt}} finished={{.State.FinishedAt}}' $database 2>&1
            $log = (docker logs --tail 12 $database 2>&1) -join ' / '
            throw [Exception]::new("$($_.Exception.Message) [database: $state; processes: $($processes -join ' '); log: $log]", $_.Exception)
        }
    }
    function Invoke-GraphCompose { docker-compose -p $project -f $composeFile @args 2>&1 | Out-String }
    function Get-GraphContainer([string] $Service) {
        docker ps -a --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$Service" --format '{{.Names}}' | Select-Object -First 1
    }
    function Start-EngineEventWatch {
        # Streams the engine's events (by default container creates and volume mounts) into a file from now on (or from
        # -Since, Unix seconds). `docker events --since` alone reads only the engine's last 256 events: the other test
        # processes' healthcheck execs pushed a restore's helper creates, and a container's restarts, out of them in CI.
        param([string[]] $Filter = @('type=container', 'type=volume', 'event=create', 'event=mount'),
            [string] $Format = '{{.Type}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "name"}} {{index .Actor.Attributes "container"}} {{index .Actor.Attributes "org.upgradeops.purpose"}}',
            [string] $Since = ([DateTimeOffset]::UtcNow.ToUnixTimeSeconds() - 1))
        $file = Join-Path $TestDrive "events-$([guid]::NewGuid().ToString('N')).txt"
        # Arguments one by one (the format has spaces and quotes); bash only sends the output to the file.
        $start = [System.Diagnostics.ProcessStartInfo]::new('bash')
        foreach ($argument in @('-c', 'file=$0; exec docker events "$@" > "$file"', $file, '--since', $Since) + @($Filter | ForEach-Object { '--filter', $_ }) +
            @('--format', $Format)) { $start.ArgumentList.Add([string]$argument) }
        [pscustomobject]@{ Process = [System.Diagnostics.Process]::Start($start); File = $file }
    }
    function Stop-EngineEventWatch($Watch) {
        # The lines streamed so far: an event reaches the stream a moment after it happened.
        Start-Sleep -Seconds 1
        Stop-Process -Id $Watch.Process.Id
        $Watch.Process.WaitForExit(10000) | Out-Null
        @(Get-Content $Watch.File)
    }
    function Get-RestoreHelperVolume($Watch) {
        # The anonymous volumes Docker gave this project's volume-restore helpers while $Watch ran (their image, the Neo4j
        # stand-in, declares /data and /logs besides the volume they mount), and those still there. From the engine's
        # events, not by counting its volumes: the tests in the other processes make and remove their own meanwhile.
        $lines = @(Stop-EngineEventWatch $Watch | ForEach-Object { , ($_ -split ' ') })
        $helpers = @($lines | Where-Object { $_[0] -eq 'container' -and $_[1] -eq 'create' -and $_[5] -eq 'volume-restore' -and $_[3] -like "$project-upgradeops-restore-*" } | ForEach-Object { $_[2] })
        $anonymous = @($lines | Where-Object { $_[0] -eq 'volume' -and $_[1] -eq 'mount' -and $_[4] -in $helpers } | ForEach-Object { $_[2] } |
                Where-Object { $_ -match '^[0-9a-f]{64}$' } | Sort-Object -Unique)
        $volumes = @(docker volume ls -q)
        [pscustomobject]@{ Helpers = $helpers.Count; Anonymous = $anonymous.Count; Left = @($anonymous | Where-Object { $_ -in $volumes }) }
    }
    function Get-StartedAt([string] $Service) { docker inspect -f '{{.State.StartedAt}}' (Get-GraphContainer $Service) }
    function Wait-GraphHealthy([int] $Seconds = 60) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            $states = @('database', 'infrahub-server', 'task-worker', 'task-manager-db' | ForEach-Object { docker inspect -f '{{.State.Health.Status}}' (Get-GraphContainer $_) })
            if (@($states | Where-Object { $_ -ne 'healthy' }).Count -eq 0) { return }
            Start-Sleep -Milliseconds 250
        }
        throw "The graph sandbox is not healthy after $Seconds s: $(docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}} {{.Status}}')"
    }
    function Invoke-Cypher([string[]] $Statement) {
        $output = docker exec (Get-GraphContainer database) cypher-shell -u neo4j -p $password --format plain @Statement 2>&1
        if ($LASTEXITCODE -ne 0) { throw "cypher-shell: $output" }
        $output
    }
    function Get-SideFingerprint {
        # The rest of what the built-in profile backs up beside Neo4j: the task manager's PostgreSQL (rows of a table in
        # its prefect database) and the files of the storage and git volumes.
        $rows = docker exec (Get-GraphContainer task-manager-db) psql -X -h /run/postgresql -p 15432 -U postgres -d prefect -tAc `
            "select coalesce(string_agg(id || ':' || name, ',' order by id), '') from flow_run" 2>&1
        $storage = docker exec (Get-GraphContainer infrahub-server) sh -c 'cd /opt/infrahub/storage && find . -type f -exec sha256sum {} + | sort -k2' 2>&1
        $git = docker exec (Get-GraphContainer task-worker) sh -c 'cd /opt/infrahub/git && find . -type f -exec sha256sum {} + | sort -k2' 2>&1
        "rows=$rows storage=$($storage -join ';') git=$($git -join ';')"
    }
    function Set-Database([string] $Image, [string[]] $Environment = @(), [string] $AuthPassword = $password) {
        # The database service recreated with another image, other environment or NEO4J_AUTH, on the same volume.
        $extra = ($Environment | ForEach-Object { "`n      $_" }) -join ''
        $text = $template.Replace('NEO4J_dbms_security_auth__minimum__password__length: 4', "NEO4J_dbms_security_auth__minimum__password__length: 4$extra")
        @("COMPOSE_PROJECT_NAME=$project", "INFRAHUB_DB_PASSWORD=$password", "NEO4J_DOCKER_IMAGE=$Image") | Set-Content (Join-Path $folder '.env')
        # Only the database's NEO4J_AUTH may differ: the API and the worker keep the password the store has.
        [IO.File]::WriteAllText($composeFile, $text.Replace('NEO4J_AUTH: neo4j/${INFRAHUB_DB_PASSWORD:-admin}', "NEO4J_AUTH: neo4j/$AuthPassword"))
        $out = Invoke-GraphCompose up -d --no-deps database
        if ($LASTEXITCODE -ne 0) { throw "docker-compose up database: $out" }
        Wait-GraphHealthy
        Get-UpgradeDeployment -ComposeFile $composeFile -Profile $profilePath -WarningAction SilentlyContinue
    }

    $null = New-Item -ItemType Directory -Force $folder
    [IO.File]::WriteAllText($composeFile, $template)
    @("COMPOSE_PROJECT_NAME=$project", "INFRAHUB_DB_PASSWORD=$password") | Set-Content (Join-Path $folder '.env')
    $null = Invoke-GraphCompose down -v --remove-orphans
    $out = Invoke-GraphCompose up -d
    if ($LASTEXITCODE -ne 0) { throw "docker-compose up: $out" }
    Wait-GraphHealthy
    $null = Invoke-Cypher "UNWIND range(1, 300) AS i CREATE (:Device {id: i, name: 'device', role: 'edge'})"
    $null = Invoke-Cypher "MATCH (a:Device {id: 1}), (b:Device {id: 2}) CREATE (a)-[:CONNECTED {port: 1}]->(b)"
    $null = Invoke-Cypher "MATCH (a:Device {id: 2}), (b:Device {id: 3}) CREATE (a)-[:CONNECTED {port: 2}]->(b)"
    $script:seeded = Get-GraphFingerprint -Password $password
    $null = docker exec (Get-GraphContainer task-manager-db) psql -X -h /run/postgresql -p 15432 -U postgres -d prefect -v ON_ERROR_STOP=1 -qc `
        "create table flow_run (id int primary key, name text); insert into flow_run select i, 'run-' || i from generate_series(1, 50) i"
    if ($LASTEXITCODE -ne 0) { throw 'seeding the task manager database failed' }
    docker exec (Get-GraphContainer infrahub-server) sh -c 'mkdir -p /opt/infrahub/storage/artifacts && echo rendered-config > /opt/infrahub/storage/artifacts/device-1.cfg'
    docker exec (Get-GraphContainer task-worker) sh -c 'mkdir -p /opt/infrahub/git/repo && echo "schema: 1" > /opt/infrahub/git/repo/schema.yml'
    $script:sideSeeded = Get-SideFingerprint
    $script:d = Get-UpgradeDeployment -ComposeFile $composeFile -Profile $profilePath -WarningAction SilentlyContinue
    $script:backupRoot = Join-Path $TestDrive 'backups'

    # Kill and bad-input tests of the Community dump and load (Describe blocks tagged Fault and BadInput).
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    # Outside TestDrive (which Pester empties at the end of each Describe): the backup the kill tests end with is also the
    # one the store-in-use tests restore. Removed by AfterAll.
    $script:killRoot = Join-Path ([IO.Path]::GetTempPath()) "upgradeops-neo4j-killed-$([guid]::NewGuid().ToString('N'))"
    # The gate (GraphFixture.ps1): the database container, and what the killed pwsh runs before the command.
    $script:GateDatabase = { Get-GraphContainer database }
    $script:GatePrelude = "Import-Module '$env:UPGRADEOPS_MODULE'; " +
        "`$d = Get-UpgradeDeployment -ComposeFile '$composeFile' -Profile '$profilePath' -WarningAction SilentlyContinue; "
    # Another process takes the database's store while the server is held stopped for UpgradeOps' neo4j-admin, as a
    # second backup tool's neo4j-admin (infrahub-backup's dump, a check run by hand) does: the stand-in's own store lock,
    # held until $taken is removed or the container restarts (60 s at most).
    $script:taken = '/tmp/upgradeops-test-store-taken'
    function Lock-Store {
        $db = Get-GraphContainer database
        $holder = "import os, sys, time`nsys.path.insert(0, '/opt/neo4j-standin')`nimport graphstore`nlock = graphstore.StoreLock(graphstore.default_database())`n" +
            "open('$taken', 'w').close()`nend = time.time() + 60`nwhile os.path.exists('$taken') and time.time() < end: time.sleep(0.1)"
        docker exec -d $db python3 -c $holder
        $deadline = (Get-Date).AddSeconds(10)
        do { Start-Sleep -Milliseconds 100; docker exec $db test -e $taken } while ($LASTEXITCODE -ne 0 -and (Get-Date) -lt $deadline)
        $LASTEXITCODE | Should -Be 0 -Because 'the other process must hold the store'
    }
    function Get-Running([string] $Service) { docker inspect -f '{{.State.Running}}' (Get-GraphContainer $Service) }
}

AfterAll {
    if ($script:killRoot -and (Test-Path $script:killRoot)) { Remove-Item -Recurse -Force $script:killRoot }
    if ($script:composeFile -and (Test-Path $script:composeFile)) { $null = Invoke-GraphCompose down -v --remove-orphans }
    # The tag without an edition the bad-input cases made (the image itself stays, under its own tags).
    docker image rm 127.0.0.1:5000/upgradeops/neo4j:5 2>&1 | Out-Null
}

Describe 'Neo4j Community on Compose' -Tag 'GraphSandbox', 'Backup', 'Neo4j' {
    It 'dumps offline with the API and worker stopped and started again, the dump''s SHA-256 in the manifest, encrypted with -EncryptionKey' {
        $before = @{ api = Get-StartedAt infrahub-server; worker = Get-StartedAt task-worker; database = Get-StartedAt database }
        $key = ConvertTo-SecureString 'correct horse battery staple' -AsPlainText -Force
        $script:encrypted = Invoke-Observed { $d | New-DeploymentBackup -Path (Join-Path $TestDrive 'encrypted') -EncryptionKey $key -Force -ErrorAction Stop }
        $dump = $encrypted.Components | Where-Object Kind -eq 'Neo4jDump'
        # Everything the built-in profile declares for Infrahub: the graph, the task manager's database, the two volumes.
        $components = @($encrypted.Components | ForEach-Object { "$($_.Name)=$($_.Kind)" })
        foreach ($expected in 'database=Neo4jDump', 'task-manager-db=PostgresDump', 'storage=Volume', 'git=Volume') { $components | Should -Contain $expected }
        $dump.Neo4jEdition | Should -Be 'Community'
        $dump.Source | Should -Match 'Community offline dump'
        $file = Join-Path $encrypted.Path $dump.File
        $file | Should -BeLike '*.enc'
        (Get-FileHash $file -Algorithm SHA256).Hash.ToLower() | Should -Be $dump.Sha256
        (Get-Content -Raw (Join-Path $encrypted.Path 'manifest.json')) | Should -Match $dump.Sha256
        [Text.Encoding]::ASCII.GetString([IO.File]::ReadAllBytes($file), 0, 26) | Should -Not -Be 'UPGRADEOPS-GRAPHSTORE-DUMP'
        # Stopped (not paused) and started again; the database held stopped, resumed, restarted by its restart policy.
        Get-StartedAt infrahub-server | Should -Not -Be $before.api
        Get-StartedAt task-worker | Should -Not -Be $before.worker
        Get-StartedAt database | Should -Not -Be $before.database
        Wait-GraphHealthy 10
        Get-GraphFingerprint -Password $password | Should -Be $seeded
        $verification = $encrypted | Test-DeploymentBackup -Deployment $d -EncryptionKey $key
        $verification.Passed | Should -BeTrue -Because ($verification.Checks | Format-Table -AutoSize | Out-String)
        Get-Content -Raw (Join-Path $encrypted.Path 'manifest.json') | Should -Not -Match ([regex]::Escape($password))
    }

    It 'restores the graph it dumped after the graph changed: counts and content checksum equal' {
        $script:backup = Invoke-Observed { $d | New-DeploymentBackup -Path $backupRoot -Force -ErrorAction Stop }
        $dump = $backup.Components | Where-Object Kind -eq 'Neo4jDump'
        [Text.Encoding]::ASCII.GetString([IO.File]::ReadAllBytes((Join-Path $backup.Path $dump.File)), 0, 26) | Should -Be 'UPGRADEOPS-GRAPHSTORE-DUMP'
        # -RestoreTest loads the dump into a scratch container of the database's image (its own volume, no network, its
        # server never started) and checks it there; the live database is not touched and nothing is left behind.
        $started = Get-StartedAt database
        $verification = $backup | Test-DeploymentBackup -Deployment $d -RestoreTest
        $verification.Passed | Should -BeTrue -Because ($verification.Checks | Format-Table -AutoSize | Out-String)
        $verification.RestoreTested | Should -BeTrue
        ($verification.Checks | Where-Object Name -eq 'Dump database').Detail | Should -Match 'Nodes: 300'
        $restoreTest = $verification.Checks | Where-Object Name -eq 'RestoreTest database'
        $restoreTest.Status | Should -Be 'Passed'
        $restoreTest.Detail | Should -Match 'scratch container'
        $restoreTest.Detail | Should -Match 'Nodes: 300; Relationships: 2'
        Get-StartedAt database | Should -Be $started
        # By label, not by counting the engine's volumes: the tests in the other processes make and remove their own meanwhile.
        docker ps -a -q --filter label=org.upgradeops.purpose=neo4j-restore-test | Should -BeNullOrEmpty
        docker volume ls -q --filter label=org.upgradeops.purpose=neo4j-restore-test | Should -BeNullOrEmpty
        $null = Invoke-Cypher "UNWIND range(1, 20) AS i CREATE (:Rogue {id: i})"
        Get-GraphFingerprint -Password $password | Should -Not -Be $seeded
        $null = docker exec (Get-GraphContainer task-manager-db) psql -X -h /run/postgresql -p 15432 -U postgres -d prefect -qc "delete from flow_run where id > 25"
        docker exec (Get-GraphContainer infrahub-server) sh -c 'echo changed > /opt/infrahub/storage/artifacts/device-1.cfg'
        docker exec (Get-GraphContainer task-worker) sh -c 'rm -rf /opt/infrahub/git/repo'
        Get-SideFingerprint | Should -Not -Be $sideSeeded
        $watch = Start-EngineEventWatch
        try {
            $restored = Invoke-Observed { $backup | Restore-DeploymentBackup -Deployment $d -Force -ErrorAction Stop }
            $restored.Id | Should -Be $backup.Id
            Wait-GraphHealthy 10
            Get-GraphFingerprint -Password $password | Should -Be $seeded
            Get-SideFingerprint | Should -Be $sideSeeded
            # The helpers that put the storage and git volumes back are gone with the anonymous volumes of their image.
            $helperVolumes = Get-RestoreHelperVolume $watch
            $helperVolumes.Helpers | Should -BeGreaterOrEqual 2 -Because 'the storage and git volumes are each put back by a helper'
            $helperVolumes.Anonymous | Should -Be (2 * $helperVolumes.Helpers) -Because 'each helper got one for /data and one for /logs'
            $helperVolumes.Left | Should -BeNullOrEmpty
        }
        finally { if (-not $watch.Process.HasExited) { Stop-Process -Id $watch.Process.Id } }
    }

    It 'holds a server that exits before the watchdog froze it again once it answers: the backup goes on and says so' {
        Wait-GraphHealthy 20
        $atStart = Get-GraphFingerprint -Password $password
        $database = Get-GraphContainer database
        # Counted from the engine's events, not RestartCount: UpgradeOps restarts a container Docker's restart delay holds back.
        $since = ([DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() / 1000).ToString('F3', [Globalization.CultureInfo]::InvariantCulture)
        $starts = Start-EngineEventWatch -Filter "container=$database", 'event=start' -Format '{{.Action}}' -Since $since
        try {
            # The stand-in's one-shot fault: its next shutdown ends the process before its pid file goes, so the watchdog
            # cannot freeze it and the container restarts (what a server that outruns the watchdog does).
            docker exec $database touch /data/upgradeops-standin-exit-early
            $taken = $d | New-DeploymentBackup -Path (Join-Path $TestDrive 'exited') -Force -ErrorAction Stop -WarningVariable exitWarnings -WarningAction SilentlyContinue
            $warned = $exitWarnings -join "`n"
            Write-Host "warnings: $warned"
            $warned | Should -Match 'The Neo4j server \(process \d+\) in container \w+ exited before it could be held stopped, so its container restarts; nothing was done yet\. Waiting for it to answer, then holding it again \(attempt 2 of 3\)'
            ($taken.Components | Where-Object Kind -eq 'Neo4jDump').Neo4jEdition | Should -Be 'Community'
            # Two restarts: the exit, then the end of the shutdown the second, held, stop was resumed into. The second can
            # come after the backup has returned, later still on a loaded machine.
            $deadline = (Get-Date).AddSeconds(30)
            while (@(Get-Content $starts.File).Count -lt 2 -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }
            @(Stop-EngineEventWatch $starts).Count | Should -Be 2
        }
        finally { if (-not $starts.Process.HasExited) { Stop-Process -Id $starts.Process.Id } }
        docker exec $database test -e /data/upgradeops-standin-exit-early
        $LASTEXITCODE | Should -Be 1 -Because 'the fault fires once'
        Wait-GraphHealthy 20
        Get-GraphFingerprint -Password $password | Should -Be $atStart
        $verification = $taken | Test-DeploymentBackup -Deployment $d
        $verification.Passed | Should -BeTrue -Because ($verification.Checks | Format-Table -AutoSize | Out-String)
    }

    It 'refuses a dump truncated in the backup with BackupTruncated before anything stops; with -Force neo4j-admin refuses it (Neo4jLoadFailed), nothing is loaded and it serves again' {
        $copy = Join-Path $TestDrive 'truncated'
        Copy-Item -Recurse $backup.Path $copy
        $file = Join-Path $copy ($backup.Components | Where-Object Kind -eq 'Neo4jDump').File
        $bytes = [IO.File]::ReadAllBytes($file); [IO.File]::WriteAllBytes($file, $bytes[0..([int]($bytes.Length / 2))])
        $null = Invoke-Cypher "CREATE (:AfterBackup {id: 1})"
        $changed = Get-GraphFingerprint -Password $password
        $started = Get-StartedAt database
        $api = Get-StartedAt infrahub-server
        $err = Get-ErrorFrom { Restore-DeploymentBackup -Path $copy -Deployment $d -Confirm:$false -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupTruncated,*'
        $err.TargetObject | Should -Be $copy
        Get-StartedAt database | Should -Be $started
        Get-StartedAt infrahub-server | Should -Be $api
        Get-GraphFingerprint -Password $password | Should -Be $changed
        # -Force restores a backup that failed verification: the truncated archive reaches neo4j-admin, which refuses it whole.
        $err = Get-ErrorFrom { Restore-DeploymentBackup -Path $copy -Deployment $d -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'Neo4jLoadFailed,*'
        $err.Exception.Message | Should -Match 'truncated'
        Wait-GraphHealthy 20
        Get-GraphFingerprint -Password $password | Should -Be $changed
    }
}

Describe 'Neo4j Community killed in the middle of a dump or a load' -Tag 'GraphSandbox', 'Backup', 'Neo4j', 'Fault' {
    AfterAll {
        if (Get-GraphContainer database) { Set-AdminGate -Remove }
    }

    It 'a backup killed while the server is held: the next one says Neo4jLeftStopped and brings it back, the one after succeeds' {
        Wait-GraphHealthy 20
        $script:atBackup = Get-GraphFingerprint -Password $password
        $killed = Invoke-KilledAtGate "New-DeploymentBackup -Deployment `$d -Path '$killRoot' -Force"
        Write-Host "killed backup: server state $($killed.HeldState); neo4j-admin ended afterwards: $($killed.AdminEnded)"
        $killed.HeldState | Should -BeLike 'T*'
        # What the admin finds: no backup listed, a hidden partial folder, the API and the worker stopped by the dump.
        Get-DeploymentBackup -Path $killRoot | Should -BeNullOrEmpty
        $partials = @(Get-ChildItem -Force $killRoot -Filter '.*.partial' | ForEach-Object Name)
        $partials.Count | Should -Be 1
        Write-Host "after the kill: partial folders [$($partials -join ', ')]; infrahub-server running $(Get-Running infrahub-server), task-worker running $(Get-Running task-worker), database $(docker inspect -f '{{.State.Health.Status}}' (Get-GraphContainer database))"
        Get-Running infrahub-server | Should -Be 'false'
        Get-Running task-worker | Should -Be 'false'

        $err = $null
        try { New-DeploymentBackup -Deployment $d -Path $killRoot -Force -ErrorAction Stop -WarningVariable resumeWarnings -WarningAction SilentlyContinue }
        catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'Neo4jLeftStopped,*'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err.TargetObject | Should -Be 'database'
        Write-Host "the next backup: $($err.Exception.Message)"
        # The Neo4j steps log through the cmdlet like the rest (they were silent before): the resume is a warning too.
        ($resumeWarnings -join "`n") | Should -Match 'Neo4j \(process \d+\) in .+ was left stopped by an interrupted backup or restore and has been resumed'
        # It resumed the server, waited for its container to be back, started the API and the worker the killed run had
        # stopped, and says so: the deployment serves again, the admin runs the backup again.
        $err.Exception.Message | Should -Match 'was resumed and its container is back\. The containers that run had stopped were started again\. Nothing else was done: run the backup again\.'
        Wait-GraphHealthy 10
        Get-GraphFingerprint -Password $password | Should -Be $atBackup
        # Nothing was written by it: the partial folder is still the killed run's only.
        @(Get-ChildItem -Force $killRoot -Filter '.*.partial' | ForEach-Object Name) | Should -Be $partials

        $script:afterKill = New-DeploymentBackup -Deployment $d -Path $killRoot -Force
        @(Get-DeploymentBackup -Path $killRoot).Id | Should -Be $afterKill.Id
        # The killed run's partial folder (its lock file no longer held) was removed by this one.
        Get-ChildItem -Force $killRoot -Filter '.*.partial' | Should -BeNullOrEmpty
        Wait-GraphHealthy 20
        Get-GraphFingerprint -Password $password | Should -Be $atBackup
    }

    It 'a restore killed while its load runs: the next one says Neo4jLeftStopped and brings it back, the one after finishes it (the backup''s graph)' {
        $null = Invoke-Cypher "UNWIND range(1, 7) AS i CREATE (:Rogue {id: i})"
        $changed = Get-GraphFingerprint -Password $password
        $changed | Should -Not -Be $atBackup
        $killed = Invoke-KilledAtGate "Restore-DeploymentBackup -Path '$($afterKill.Path)' -Deployment `$d -Force"
        Write-Host "killed restore: server state $($killed.HeldState); neo4j-admin ended afterwards: $($killed.AdminEnded)"
        $killed.HeldState | Should -BeLike 'T*'
        Get-Running infrahub-server | Should -Be 'false'
        Get-Running task-worker | Should -Be 'false'
        $helpers = { docker ps -a -q --filter label=org.upgradeops.purpose=volume-restore --filter "name=^/$project-upgradeops-restore-" }
        & $helpers | Should -Not -BeNullOrEmpty -Because 'the volumes were staged before the load, each by a helper kept for its swap'

        $err = Get-ErrorFrom { Restore-DeploymentBackup -Path $afterKill.Path -Deployment $d -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'Neo4jLeftStopped,*'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err.TargetObject | Should -Be 'database'
        $err.Exception.Message | Should -Match 'The containers that run had stopped were started again\. Nothing else was done: run the restore again\.'
        & $helpers | Should -BeNullOrEmpty -Because 'the next restore removes the helpers a killed one left'
        # Serving again, on one whole graph: neo4j-admin loads an archive whole or not at all. Which one depends on how much of
        # the archive had reached the container when the cmdlet died: a small dump is all in the pipe's buffers before the
        # load reads it, so the load the gate lets go on finishes alone (seen here), the server still held until now.
        Wait-GraphHealthy 10
        $between = Get-GraphFingerprint -Password $password
        Write-Host "after the killed load: $(if ($between -eq $atBackup) { 'the backup''s graph (the load finished alone)' } elseif ($between -eq $changed) { 'the graph before it (nothing loaded)' } else { $between })"
        $between | Should -BeIn @($changed, $atBackup)

        $restored = Restore-DeploymentBackup -Path $afterKill.Path -Deployment $d -Force
        $restored.Id | Should -Be $afterKill.Id
        Wait-GraphHealthy 10
        Get-GraphFingerprint -Password $password | Should -Be $atBackup
    }
}

Describe 'Neo4j Community store in use by another process' -Tag 'GraphSandbox', 'Backup', 'Neo4j', 'BadInput' {
    # The realistic way to Neo4jDatabaseRunning through the cmdlets: UpgradeOps always holds the server stopped before
    # neo4j-admin runs, so the store lock can only be held by another process that took the store in that window (a second
    # backup tool run by cron, a neo4j-admin run by hand). The gate makes that window certain.
    BeforeAll {
        # A backup to restore: the kill tests' last when they ran, else one taken here.
        $script:inUse = if (Get-Variable -Scope Script -Name afterKill -ValueOnly -ErrorAction SilentlyContinue) { $afterKill } else { New-DeploymentBackup -Deployment $d -Path (Join-Path $TestDrive 'in-use-source') -Force }
        # Runs $Command up to the gate, lets another process take the store, then neo4j-admin: the cmdlet's error, checked,
        # once the deployment serves again.
        function Invoke-WithStoreTaken([string] $Command) {
            $run = Start-AtGate $Command
            Get-HeldState | Should -BeLike 'T*'
            Lock-Store
            Open-AdminGate
            $run.Process.WaitForExit(120000) | Should -BeTrue
            $err = Get-Content -Raw $run.Result | ConvertFrom-Json
            Write-Host "$($err.Id): $($err.Message)"
            $err.Id | Should -BeLike 'Neo4jDatabaseRunning,*'
            $err.Category | Should -Be 'ResourceBusy'
            $err.Target | Should -Be 'database'
            $err.Message | Should -Match 'in use by another process: .* Nothing was changed\. .* Let it finish or stop it, then run it again\.$'
            # The server was resumed, and its restart ended the other process.
            Wait-GraphHealthy 10
            Set-AdminGate -Remove
        }
    }

    AfterAll {
        if (Get-GraphContainer database) { docker exec (Get-GraphContainer database) rm -f $taken; Set-AdminGate -Remove }
    }

    It 'refuses a dump with Neo4jDatabaseRunning and a next step; nothing is written, the deployment serves again' {
        Wait-GraphHealthy 20
        $graph = Get-GraphFingerprint -Password $password
        $root = Join-Path $TestDrive 'store-in-use'
        Invoke-WithStoreTaken "New-DeploymentBackup -Deployment `$d -Path '$root' -Force"
        # Nothing half-written: no backup, no partial folder.
        Get-ChildItem -Force $root -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-GraphFingerprint -Password $password | Should -Be $graph
    }

    It 'refuses a load with Neo4jDatabaseRunning and a next step; the graph is unchanged and the deployment serves again' {
        $null = Invoke-Cypher "CREATE (:InUse {id: 1})"
        $graph = Get-GraphFingerprint -Password $password
        Invoke-WithStoreTaken "Restore-DeploymentBackup -Path '$($inUse.Path)' -Deployment `$d -Force"
        Get-GraphFingerprint -Password $password | Should -Be $graph
    }
}

Describe 'Neo4j bad input on Compose' -Tag 'GraphSandbox', 'Backup', 'Neo4j', 'BadInput' {
    It 'names a wrong Neo4j password Neo4jAuthenticationFailed, without the password, and stops nothing' {
        # NEO4J_AUTH changed after the store was created does not change its password (as Neo4j): the tool's is wrong.
        $wrongPassword = 'not-the-' + $password
        docker tag 127.0.0.1:5000/upgradeops/neo4j:5-community 127.0.0.1:5000/upgradeops/neo4j:5
        $target = Set-Database -Image 127.0.0.1:5000/upgradeops/neo4j:5 -AuthPassword $wrongPassword
        $api = Get-StartedAt infrahub-server
        $err = Get-ErrorFrom { $target | New-DeploymentBackup -Path (Join-Path $TestDrive 'wrong-password') -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'Neo4jAuthenticationFailed,*'
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
        $err.Exception.Message | Should -Match 'NEO4J_AUTH'
        $err.Exception.Message | Should -Not -Match ([regex]::Escape($wrongPassword))
        Get-StartedAt infrahub-server | Should -Be $api
        Join-Path $TestDrive 'wrong-password' | Get-ChildItem -ErrorAction SilentlyContinue | Where-Object Name -notlike '.*' | Should -BeNullOrEmpty
    }

    It 'refuses an edition nothing tells with Neo4jEditionUnknown (no edition in the tag, no license variable, cypher-shell cannot connect)' {
        $graph = Get-GraphFingerprint -Password $password
        $target = Set-Database -Image 127.0.0.1:5000/upgradeops/neo4j:5 -Environment 'NEO4J_server_bolt_enabled: "false"'
        $api = Get-StartedAt infrahub-server
        $err = Get-ErrorFrom { $target | New-DeploymentBackup -Path (Join-Path $TestDrive 'unknown-edition') -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'Neo4jEditionUnknown,*'
        $err.TargetObject | Should -Be 'database'
        $err.Exception.Message | Should -Match "edition: Community"
        Get-StartedAt infrahub-server | Should -Be $api
        Get-GraphFingerprint -Password $password | Should -Be $graph
    }
}

Describe 'A restore whose volume has no room for the staged copy' -Tag 'GraphSandbox', 'Backup', 'Neo4j', 'Fault' {
    BeforeAll {
        # The storage volume on a 1 MiB file system of its own: a tmpfs mounted over the volume's folder on the host, seen
        # by every container started after it (the API restarted here, the restore's helper). The live content takes
        # 700 KB, the backup's copy 400 KB, so staging the copy beside it runs out of space half-way.
        # The Community database as the file starts it (the bad-input cases before change its image and environment).
        $script:d = Set-Database -Image 127.0.0.1:5000/upgradeops/neo4j:5-community
        $script:small = docker volume inspect -f '{{.Mountpoint}}' "$($project)_storage_data"
        $LASTEXITCODE | Should -Be 0
        $null = Invoke-GraphCompose stop infrahub-server
        mount -t tmpfs -o size=1m tmpfs $small
        $null = Invoke-GraphCompose start infrahub-server
        Wait-GraphHealthy
    }
    AfterAll {
        $null = Invoke-GraphCompose stop infrahub-server
        umount $small
        $null = Invoke-GraphCompose start infrahub-server
        Wait-GraphHealthy
    }

    It 'fails with VolumeRestoreFailed while staging, before anything live is replaced: graph, task manager database and volume unchanged, serving' {
        $server = Get-GraphContainer infrahub-server
        docker exec $server sh -c 'head -c 409600 /dev/urandom > /opt/infrahub/storage/blob.bin'
        $backup = $d | New-DeploymentBackup -Path (Join-Path $TestDrive 'small-backups') -Force
        docker exec $server sh -c 'rm /opt/infrahub/storage/blob.bin; head -c 716800 /dev/urandom > /opt/infrahub/storage/live.bin'
        $null = Invoke-Cypher "CREATE (:AfterBackup {id: 2})"
        $null = docker exec (Get-GraphContainer task-manager-db) psql -X -h /run/postgresql -p 15432 -U postgres -d prefect -qc "insert into flow_run values (1000, 'after-backup')"
        $graph = Get-GraphFingerprint -Password $password
        $side = Get-SideFingerprint

        $err = Get-ErrorFrom { $backup | Restore-DeploymentBackup -Deployment $d -Force -ErrorAction Stop }

        $err.FullyQualifiedErrorId | Should -BeLike 'VolumeRestoreFailed,*'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err.TargetObject | Should -Be 'storage'
        $err.Exception.Message | Should -Match 'no space left'
        $err.Exception.Message | Should -Not -Match '"message"'
        $err.Exception.Message | Should -Match 'live content was not changed'
        $err.Exception.Message | Should -Match 'free space there, then run the restore again'
        Wait-GraphHealthy 30
        Get-GraphFingerprint -Password $password | Should -Be $graph
        Get-SideFingerprint | Should -Be $side
        @(Get-ChildItem -Force $small | ForEach-Object Name) | Should -Be @('live.bin')
        # This project's helpers only (PROJECT-upgradeops-restore-*): the Compose sandbox restores volumes in another process.
        docker ps -a -q --filter label=org.upgradeops.purpose=volume-restore --filter "name=^/$project-upgradeops-restore-" | Should -BeNullOrEmpty
    }
}

Describe 'Neo4j Enterprise on Compose' -Tag 'GraphSandbox', 'Backup', 'Neo4j' {
    It 'backs up online without stopping the API, and restores with STOP/START DATABASE' {
        $target = Set-Database -Image 127.0.0.1:5000/upgradeops/neo4j:5-enterprise -Environment 'NEO4J_ACCEPT_LICENSE_AGREEMENT: "yes"'
        $before = @{ api = Get-StartedAt infrahub-server; worker = Get-StartedAt task-worker; database = Get-StartedAt database }
        $online = $target | New-DeploymentBackup -Path (Join-Path $TestDrive 'enterprise') -Force
        $dump = $online.Components | Where-Object Kind -eq 'Neo4jDump'
        $dump.Neo4jEdition | Should -Be 'Enterprise'
        $dump.Source | Should -Match 'Enterprise online backup'
        (Get-FileHash (Join-Path $online.Path $dump.File) -Algorithm SHA256).Hash.ToLower() | Should -Be $dump.Sha256
        Get-StartedAt infrahub-server | Should -Be $before.api
        Get-StartedAt task-worker | Should -Be $before.worker
        Get-StartedAt database | Should -Be $before.database
        $expected = Get-GraphFingerprint -Password $password
        $verification = $online | Test-DeploymentBackup -Deployment $target -RestoreTest
        $verification.Passed | Should -BeTrue -Because ($verification.Checks | Format-Table -AutoSize | Out-String)
        ($verification.Checks | Where-Object Name -eq 'RestoreTest database').Status | Should -Be 'Passed'
        $null = Invoke-Cypher "UNWIND range(1, 5) AS i CREATE (:Rogue {id: i})"
        $null = $online | Restore-DeploymentBackup -Deployment $target -Force
        Wait-GraphHealthy 10
        Get-GraphFingerprint -Password $password | Should -Be $expected
        Get-StartedAt database | Should -Be $before.database
    }
}

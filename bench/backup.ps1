#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Backup and restore of the sandbox database against raw pg_dump / pg_restore, side by side in one run.
.DESCRIPTION
    Brings up the sandbox with a database of at least -MinimumGigabytes, then, interleaved -Runs times:
      - raw:        docker exec DB pg_dump -Fc > file                        (the baseline the issue names)
      - UpgradeOps: New-DeploymentBackup -Component database                 (exec API, streamed, hashed, manifest, paused writers)
      - raw:        drop/create the database, docker exec -i DB pg_restore < file
      - UpgradeOps: Restore-DeploymentBackup of that backup                  (verification, stop/start, wait for health;
                    the time until its data is swapped in is printed apart from the containers' start and health)
      - by hand:    what an admin types for the same restore: docker stop the application, drop/create the database,
                    docker exec -i DB pg_restore < file, docker start the application, wait until docker says healthy
                    (a second baseline: the issue's raw pg_restore does not stop or start anything)
    and emits the medians and the ratios as bench/run.ps1's rows (goals 0.8 for the backup, 0.9 whole restore, 1.10 data phase).
    Then, on the graph sandbox (tests/Sandbox/graph, the Neo4j 5 stand-in, a store of -GraphNodes nodes), interleaved:
      - UpgradeOps: New-DeploymentBackup -Component database (Community: API and worker stopped, the server held
                    stopped, neo4j-admin database dump --to-stdout streamed, hashed and written, everything brought back)
      - by hand:    the same steps typed: docker stop the API and worker, the same watchdog and SIGTERM, then
                    docker exec DB neo4j-admin database dump --to-stdout neo4j > file, SIGCONT, wait until the database
                    container restarted and is healthy, docker start the API and worker, wait until healthy
    Three rows: the whole backup against the whole by-hand run (goal 1.05); neo4j-admin's dump through UpgradeOps (its
    -Verbose from "Dumping Neo4j database" to the dump's end: the engine API, SHA-256 and the file as it streams) against
    the by-hand docker exec dump into a file (goal 1.05, the issue's figure); and the held phase (from "Capturing
    database" to the component's size: hold the server, dump, resume it) against the same steps by hand (no goal).
.EXAMPLE
    dotnet pwsh ./bench/backup.ps1 -Runs 3
#>
param(
    [int] $Runs = 3,
    [double] $MinimumGigabytes = 1.0,
    [long] $SeedRows = 9500000,
    # Nodes in the graph sandbox's store for the Neo4j rows (about 0.5 KB each in the stand-in's store).
    [int] $GraphNodes = 400000,
    # Which parts to run: PostgreSQL (the 1 GB sandbox database) and Neo4j (the graph sandbox).
    [ValidateSet('Postgres', 'Neo4j')][string[]] $Part = @('Postgres', 'Neo4j'),
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1'),
    # Where bench/run.ps1 collects this benchmark's figures (JSON).
    [string] $ResultFile
)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
. (Join-Path $PSScriptRoot 'Figures.ps1')
Import-Module (Resolve-Path $ModulePath).Path -Force
Import-Module (Join-Path $root 'tests/Sandbox/Sandbox.psm1') -Force
$profilePath = Join-Path $root 'tests/Sandbox/profile.yml'
$work = Join-Path $root 'out/bench/backup'
Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
$null = New-Item -ItemType Directory -Force $work

Initialize-SandboxHost | Out-Null
Build-SandboxImage | Out-Null
function Measure-Seconds([scriptblock] $Action) { $w = [Diagnostics.Stopwatch]::StartNew(); & $Action | Out-Null; $w.Elapsed.TotalSeconds }
$figures = [System.Collections.Generic.List[object]]::new()
if ('Postgres' -in $Part) {
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -SeedRows $SeedRows -Force
$db = $sandbox.ServiceContainers['database'][0]
$psql = @('exec', $db, 'psql', '-h', '/run/postgresql', '-p', '55432', '-U', $sandbox.DatabaseUser, '-d', 'postgres', '-tAc')
$bytes = [long](docker @psql "select pg_database_size('$($sandbox.DatabaseName)')")
Write-Host ("Database {0}: {1:N2} GB ({2:N0} bulk rows)" -f $sandbox.DatabaseName, ($bytes / 1GB), $SeedRows)
if ($bytes / 1GB -lt $MinimumGigabytes) { throw "The database is smaller than $MinimumGigabytes GB: raise -SeedRows." }

$d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue

$times = @{ RawDump = @(); Backup = @(); RawRestore = @(); Restore = @(); DataBack = @(); ByHand = @(); RawBytes = @(); BackupBytes = @() }
$serverVersion = (docker @psql 'show server_version') -join ''
$app = @(docker ps --filter "label=com.docker.compose.project=$($sandbox.ProjectName)" --format '{{.Names}} {{.Label "com.docker.compose.service"}}' |
    Where-Object { $_ -notmatch ' (database|cache)$' } | ForEach-Object { ($_ -split ' ')[0] })
for ($i = 1; $i -le $Runs; $i++) {
    $rawFile = Join-Path $work "raw-$i.dump"
    $times.RawDump += Measure-Seconds {
        & bash -c "docker exec $db pg_dump -Fc -h /run/postgresql -p 55432 -U $($sandbox.DatabaseUser) -d $($sandbox.DatabaseName) > '$rawFile'"
        if ($LASTEXITCODE -ne 0) { throw 'raw pg_dump failed' }
    }
    $backup = $null
    $times.Backup += Measure-Seconds { $script:backup = $d | New-DeploymentBackup -Path $work -Component database -Force }
    $times.RawBytes += (Get-Item $rawFile).Length
    $times.BackupBytes += (Get-ChildItem -Recurse -File $script:backup.Path | Measure-Object -Property Length -Sum).Sum
    $times.RawRestore += Measure-Seconds {
        docker @psql "DROP DATABASE IF EXISTS bench_raw WITH (FORCE)" | Out-Null
        docker @psql "CREATE DATABASE bench_raw" | Out-Null
        & bash -c "docker exec -i $db pg_restore --no-owner -h /run/postgresql -p 55432 -U $($sandbox.DatabaseUser) -d bench_raw < '$rawFile'"
        if ($LASTEXITCODE -ne 0) { throw 'raw pg_restore failed' }
    }
    docker @psql "DROP DATABASE IF EXISTS bench_raw WITH (FORCE)" | Out-Null
    $times.ByHand += Measure-Seconds {
        docker stop $app | Out-Null
        docker @psql "DROP DATABASE $($sandbox.DatabaseName) WITH (FORCE)" | Out-Null
        docker @psql "CREATE DATABASE $($sandbox.DatabaseName)" | Out-Null
        & bash -c "docker exec -i $db pg_restore --no-owner -h /run/postgresql -p 55432 -U $($sandbox.DatabaseUser) -d $($sandbox.DatabaseName) < '$rawFile'"
        if ($LASTEXITCODE -ne 0) { throw 'pg_restore by hand failed' }
        docker start $app | Out-Null
        Wait-DockerHealthy $app
    }
    # The restore's own progress says when the data is back (swapped in), before the stopped containers start again.
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $script:dataBack = $null
    $script:backup | Restore-DeploymentBackup -Deployment $d -Force -Verbose 4>&1 | ForEach-Object {
        if ($_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match 'Data restored; starting the stopped containers' -and -not $script:dataBack) {
            $script:dataBack = $watch.Elapsed.TotalSeconds
        }
    }
    $times.Restore += $watch.Elapsed.TotalSeconds
    $times.DataBack += $script:dataBack
    Write-Host ("run {0}: raw pg_dump {1:N1} s, New-DeploymentBackup {2:N1} s, raw pg_restore {3:N1} s, by hand with stop/start {6:N1} s, Restore-DeploymentBackup {4:N1} s (data back after {5:N1} s)" -f $i,
        $times.RawDump[-1], $times.Backup[-1], $times.RawRestore[-1], $times.Restore[-1], $times.DataBack[-1], $times.ByHand[-1])
    Remove-Item -Force $rawFile
    Remove-Item -Recurse -Force $script:backup.Path
}

$rawDump = Get-BenchMedian $times.RawDump; $backup = Get-BenchMedian $times.Backup
$rawRestore = Get-BenchMedian $times.RawRestore; $restore = Get-BenchMedian $times.Restore
$dataBack = Get-BenchMedian $times.DataBack; $byHand = Get-BenchMedian $times.ByHand
$sizeRatio = (Get-BenchMedian $times.BackupBytes) / (Get-BenchMedian $times.RawBytes)
$context = "PostgreSQL $serverVersion, $('{0:N2}' -f ($bytes / 1GB)) GB database, median of $Runs"
Write-Host ''
$figures.AddRange([object[]]@(
    New-BenchFigure -Figure 'New-DeploymentBackup (PostgreSQL) / raw pg_dump -Fc' -UpgradeOps $backup -Baseline $rawDump -Goal 0.8 `
        -Note ("$context; backup {0:N0} MB = {1:N2} x the raw dump's size" -f ((Get-BenchMedian $times.BackupBytes) / 1MB), $sizeRatio)
    New-BenchFigure -Figure 'Restore-DeploymentBackup, whole / the same restore by hand' -UpgradeOps $restore -Baseline $byHand -Goal 0.9 `
        -Note 'by hand: stop the app, drop/create, pg_restore, start, wait until docker says healthy'
    New-BenchFigure -Figure 'Restore, data phase / raw drop/create + pg_restore' -UpgradeOps $dataBack -Baseline $rawRestore -Goal 1.10 `
        -Note 'until the data is swapped in (the rest is starting services and their health)'
))
Stop-Sandbox -RemoveVolumes | Out-Null
}

if ('Neo4j' -in $Part) {
    # The graph sandbox in its own folder, seeded with one bulk statement; its project is removed at the end.
    $graph = Join-Path $work 'graph'
    $null = New-Item -ItemType Directory -Force $graph
    $composeFile = Join-Path $graph 'docker-compose.yml'
    Copy-Item (Join-Path $root 'tests/Sandbox/graph/docker-compose.yml') $composeFile
    $graphPassword = 'bench-' + [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes(8)).ToLower()
    @('COMPOSE_PROJECT_NAME=upgradeops-graph', "INFRAHUB_DB_PASSWORD=$graphPassword") | Set-Content (Join-Path $graph '.env')
    $compose = @('-p', 'upgradeops-graph', '-f', $composeFile)
    docker-compose @compose down -v 2>&1 | Out-Null
    docker-compose @compose up -d 2>&1 | Out-Null
    $names = @('database', 'infrahub-server', 'task-worker' | ForEach-Object {
        docker ps -a --filter 'label=com.docker.compose.project=upgradeops-graph' --filter "label=com.docker.compose.service=$_" --format '{{.Names}}' })
    $graphDb, $graphApp = $names[0], $names[1..2]
    Wait-DockerHealthy $names
    $payload = 'x' * 400
    docker exec $graphDb cypher-shell -u neo4j -p $graphPassword "UNWIND range(1, $GraphNodes) AS i CREATE (:Device {id: i, payload: '$payload'})" | Out-Null
    if ($LASTEXITCODE -ne 0) { throw 'seeding the graph failed' }
    $storeBytes = [long](docker exec $graphDb stat -c %s /data/databases/neo4j/graph.json)
    Write-Host ("Graph store: {0:N0} nodes, {1:N1} MB" -f $GraphNodes, ($storeBytes / 1MB))
    $g = Get-UpgradeDeployment -ComposeFile $composeFile -Profile (Join-Path $root 'tests/Pester/Fixtures/graph-profile.yml') -WarningAction SilentlyContinue
    $pidFile = '/var/lib/neo4j/run/neo4j.pid'
    # The engine's watchdog (Neo4jTarget.WatchdogScript): freezes the server once it removed its pid file.
    $watchdog = '(while [ -e "$2" ]; do :; done; kill -STOP "$1") </dev/null >/dev/null 2>&1 & echo $!'
    $graphTimes = @{ Backup = @(); HeldPhase = @(); DumpPhase = @(); ByHand = @(); ByHandHeld = @(); ByHandDump = @(); Bytes = @() }
    for ($i = 1; $i -le $Runs; $i++) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        # Marks from the backup's -Verbose: held = from the capture's start (server held stopped, dump, server resumed) to
        # the component's size; dump = neo4j-admin's own run, from 'Dumping' to its end, what the by-hand dump also times.
        $script:marks = @{}
        $script:graphBackup = $null
        $g | New-DeploymentBackup -Path $work -Component database -Force -Verbose 4>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.VerboseRecord]) {
                $mark = switch -Regex ($_.Message) { '^Capturing database' { 'HeldStart' } '^Dumping Neo4j database' { 'DumpStart' }
                    '^neo4j-admin database dump of .+ ended' { 'DumpEnd' } 'database: [\d,]+ bytes' { 'HeldEnd' } }
                if ($mark -and -not $script:marks.ContainsKey($mark)) { $script:marks[$mark] = $watch.Elapsed.TotalSeconds }
            } else { $script:graphBackup = $_ }
        }
        $graphTimes.Backup += $watch.Elapsed.TotalSeconds
        $graphTimes.HeldPhase += $script:marks.HeldEnd - $script:marks.HeldStart
        $graphTimes.DumpPhase += $script:marks.DumpEnd - $script:marks.DumpStart
        $graphTimes.Bytes += ($script:graphBackup.Components | Where-Object Kind -eq 'Neo4jDump').SizeBytes
        Remove-Item -Recurse -Force $script:graphBackup.Path

        $rawFile = Join-Path $work "graph-$i.dump"
        $watch.Restart()
        docker stop $graphApp | Out-Null
        $held = [Diagnostics.Stopwatch]::StartNew()
        $serverPid = (docker exec $graphDb cat $pidFile).Trim()
        $started = docker inspect -f '{{.State.StartedAt}}' $graphDb
        $watchdogPid = (docker exec $graphDb sh -c $watchdog upgradeops-bench $serverPid $pidFile).Trim()
        docker exec $graphDb kill $serverPid | Out-Null
        while ((docker exec $graphDb sed -n 's/^State:\t//p' "/proc/$serverPid/status") -notmatch '^T') { Start-Sleep -Milliseconds 100 }
        $graphTimes.ByHandDump += Measure-Seconds {
            & bash -c "docker exec $graphDb neo4j-admin database dump --to-stdout neo4j > '$rawFile'"
            if ($LASTEXITCODE -ne 0) { throw 'neo4j-admin dump by hand failed' }
        }
        docker exec $graphDb kill $watchdogPid 2>$null | Out-Null
        docker exec $graphDb kill -CONT $serverPid | Out-Null
        $graphTimes.ByHandHeld += $held.Elapsed.TotalSeconds
        while ((docker inspect -f '{{.State.StartedAt}}' $graphDb) -eq $started) { Start-Sleep -Milliseconds 100 }
        Wait-DockerHealthy @($graphDb)
        docker start $graphApp | Out-Null
        Wait-DockerHealthy $names
        $graphTimes.ByHand += $watch.Elapsed.TotalSeconds
        Write-Host ("graph run {0}: New-DeploymentBackup {1:N2} s (held {2:N2} s, dump {3:N2} s), by hand {4:N2} s (held {5:N2} s, docker exec dump {6:N2} s, {7:N1} MB)" -f $i,
            $graphTimes.Backup[-1], $graphTimes.HeldPhase[-1], $graphTimes.DumpPhase[-1], $graphTimes.ByHand[-1], $graphTimes.ByHandHeld[-1], $graphTimes.ByHandDump[-1],
            ((Get-Item $rawFile).Length / 1MB))
        Remove-Item -Force $rawFile
    }
    $graphContext = ("Neo4j 5 stand-in (not a real Neo4j), {0:N0} nodes, {1:N0} MB dump, median of {2}" -f $GraphNodes, ((Get-BenchMedian $graphTimes.Bytes) / 1MB), $Runs)
    $figures.AddRange([object[]]@(
        New-BenchFigure -Figure 'New-DeploymentBackup (Neo4j Community) / the same steps by hand' -UpgradeOps (Get-BenchMedian $graphTimes.Backup) `
            -Baseline (Get-BenchMedian $graphTimes.ByHand) -Goal 1.05 -Note "$graphContext; by hand: stop API and worker, hold the server, docker exec dump, resume, wait healthy, start, wait healthy"
        New-BenchFigure -Figure 'Neo4j dump (neo4j-admin through the engine API, SHA-256 as it streams) / the same dump by hand through docker exec' `
            -UpgradeOps (Get-BenchMedian $graphTimes.DumpPhase) -Baseline (Get-BenchMedian $graphTimes.ByHandDump) -Goal 1.05 -Note $graphContext
        New-BenchFigure -Figure 'Neo4j held phase (hold the server, dump, resume it) / the same steps by hand' -UpgradeOps (Get-BenchMedian $graphTimes.HeldPhase) `
            -Baseline (Get-BenchMedian $graphTimes.ByHandHeld) -Note "$graphContext; by hand: watchdog, kill, wait until held, docker exec dump, kill the watchdog, kill -CONT"
    ))
    docker-compose @compose down -v 2>&1 | Out-Null
}
$figures | Write-BenchResult -Path $ResultFile

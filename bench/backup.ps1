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
                    the time until its data is back is printed apart from the health wait)
      - by hand:    what an admin types for the same restore: docker stop the application, drop/create the database,
                    docker exec -i DB pg_restore < file, docker start the application, wait until docker says healthy
                    (a second baseline: the issue's raw pg_restore does not stop or start anything)
    and emits the medians and the ratios as bench/run.ps1's rows (goals 0.8 for the backup, 0.9 whole restore, 1.10 data phase).
.EXAMPLE
    dotnet pwsh ./bench/backup.ps1 -Runs 3
#>
param(
    [int] $Runs = 3,
    [double] $MinimumGigabytes = 1.0,
    [long] $SeedRows = 9500000,
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
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -SeedRows $SeedRows -Force
$db = $sandbox.ServiceContainers['database'][0]
$psql = @('exec', $db, 'psql', '-h', '/run/postgresql', '-p', '55432', '-U', $sandbox.DatabaseUser, '-d', 'postgres', '-tAc')
$bytes = [long](docker @psql "select pg_database_size('$($sandbox.DatabaseName)')")
Write-Host ("Database {0}: {1:N2} GB ({2:N0} bulk rows)" -f $sandbox.DatabaseName, ($bytes / 1GB), $SeedRows)
if ($bytes / 1GB -lt $MinimumGigabytes) { throw "The database is smaller than $MinimumGigabytes GB: raise -SeedRows." }

$d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue
function Measure-Seconds([scriptblock] $Action) { $w = [Diagnostics.Stopwatch]::StartNew(); & $Action | Out-Null; $w.Elapsed.TotalSeconds }

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
    # The restore's own progress says when the data is back and the wait for the services' health begins.
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $script:dataBack = $null
    $script:backup | Restore-DeploymentBackup -Deployment $d -Force -Verbose 4>&1 | ForEach-Object {
        if ($_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match 'Waiting for the services to be healthy' -and -not $script:dataBack) {
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
@(
    New-BenchFigure -Figure 'New-DeploymentBackup (PostgreSQL) / raw pg_dump -Fc' -UpgradeOps $backup -Baseline $rawDump -Goal 0.8 `
        -Note ("$context; backup {0:N0} MB = {1:N2} x the raw dump's size" -f ((Get-BenchMedian $times.BackupBytes) / 1MB), $sizeRatio)
    New-BenchFigure -Figure 'Restore-DeploymentBackup, whole / the same restore by hand' -UpgradeOps $restore -Baseline $byHand -Goal 0.9 `
        -Note 'by hand: stop the app, drop/create, pg_restore, start, wait until docker says healthy'
    New-BenchFigure -Figure 'Restore, data phase / raw drop/create + pg_restore' -UpgradeOps $dataBack -Baseline $rawRestore -Goal 1.10 `
        -Note 'until the data is swapped in (the rest is starting services and their health)'
) | Write-BenchResult -Path $ResultFile
Stop-Sandbox -RemoveVolumes | Out-Null

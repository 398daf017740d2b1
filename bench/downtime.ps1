#!/usr/bin/env pwsh
<#
.SYNOPSIS
    API downtime of a Standard upgrade (1.7.5 -> 1.7.6) against the upgrade guide's manual sequence, same hop, same data.
.DESCRIPTION
    Both runs start from a fresh sandbox at 1.7.5 (same seed) and are measured by the same probe: /api/info through
    the load balancer every 20 ms; downtime is the sum of the spans from a failed request to the next good one.
      manual:     edit .env, then docker-compose down; docker-compose run --rm server-a sandbox upgrade;
                  docker-compose up -d   (the 1.7.6 image is removed first, so its pull happens inside the window)
      UpgradeOps: Invoke-Upgrade -Strategy Standard (pulls before stopping anything)
      floor:      what no tool can go under, on the same data: the migration alone (image present, app stopped) plus one
                  API container's start until docker says healthy
    Emits both ratios as bench/run.ps1's rows. Goals: at most 0.5 of the manual sequence, at most 1.2 of the floor.
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1'),
    # Where bench/run.ps1 collects this benchmark's figures (JSON).
    [string] $ResultFile
)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
. (Join-Path $PSScriptRoot 'Probe.ps1')
. (Join-Path $PSScriptRoot 'Figures.ps1')
Import-Module (Resolve-Path $ModulePath).Path -Force
Import-Module (Join-Path $root 'tests/Sandbox/Sandbox.psm1') -Force
Initialize-SandboxHost | Out-Null
Build-SandboxImage | Out-Null
$profilePath = Join-Path $root 'tests/Sandbox/profile.yml'
$newImage = '127.0.0.1:5000/upgradeops/sandbox:1.7.6'

function Wait-Serving {
    $deadline = (Get-Date).AddSeconds(120)
    do {
        try { if ((Invoke-WebRequest -Uri http://127.0.0.1:58000/api/info -TimeoutSec 2 -SkipHttpErrorCheck).StatusCode -eq 200) { return } } catch { }
        Start-Sleep -Milliseconds 200
    } while ((Get-Date) -lt $deadline)
    throw 'the API did not come back within 120 s'
}

# The guide's manual sequence.
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
docker rmi $newImage | Out-Null
$envFile = Join-Path $sandbox.Path '.env'
(Get-Content -Raw $envFile) -replace '(?m)^VERSION=.*$', 'VERSION=1.7.6' | Set-Content -NoNewline $envFile
$probe = Start-ApiProbe
Start-Sleep -Seconds 1
$watch = [Diagnostics.Stopwatch]::StartNew()
(Invoke-SandboxCompose -Arguments down).ExitCode | Out-Null
$run = Invoke-SandboxCompose -Arguments run, --rm, -T, server-a, sandbox, upgrade
if ($run.ExitCode -ne 0) { throw "manual migration failed: $($run.Output | Select-Object -Last 5)" }
(Invoke-SandboxCompose -Arguments up, -d).ExitCode | Out-Null
Wait-Serving
$manualSeconds = $watch.Elapsed.TotalSeconds
Start-Sleep -Seconds 1
$manual = Stop-ApiProbe $probe
Write-Host ("manual sequence: API down {0:N2} s ({1} failed of {2} probes), whole sequence {3:N1} s" -f ($manual.DowntimeMs / 1000), $manual.Failures, $manual.Requests, $manualSeconds)

# The floor, from the same starting point: the migration alone, then one API container from start to healthy.
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
(Get-Content -Raw $envFile) -replace '(?m)^VERSION=.*$', 'VERSION=1.7.6' | Set-Content -NoNewline $envFile
(Invoke-SandboxCompose -Arguments stop, lb, server-a, server-b, worker).ExitCode | Out-Null
$watch = [Diagnostics.Stopwatch]::StartNew()
$run = Invoke-SandboxCompose -Arguments run, --rm, -T, server-a, sandbox, upgrade
if ($run.ExitCode -ne 0) { throw "floor migration failed: $($run.Output | Select-Object -Last 5)" }
$migrationSeconds = $watch.Elapsed.TotalSeconds
$watch.Restart()
(Invoke-SandboxCompose -Arguments up, -d, --no-deps, server-a).ExitCode | Out-Null
$serverA = docker ps -q --filter "label=com.docker.compose.project=$($sandbox.ProjectName)" --filter 'label=com.docker.compose.service=server-a'
Wait-DockerHealthy $serverA -IntervalMs 50
$startSeconds = $watch.Elapsed.TotalSeconds
Write-Host ("floor: migration alone {0:N2} s + one API container start-to-healthy {1:N2} s = {2:N2} s" -f $migrationSeconds, $startSeconds, ($migrationSeconds + $startSeconds))

# UpgradeOps, from the same starting point.
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
$d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue
$backup = $d | New-DeploymentBackup -Path (Join-Path $root 'out/bench/downtime') -Force
$probe = Start-ApiProbe
Start-Sleep -Seconds 1
$result = $d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $backup -Force
Start-Sleep -Seconds 1
$ours = Stop-ApiProbe $probe
Write-Host ("Invoke-Upgrade (Standard): {0}; API down {1:N2} s ({2} failed of {3} probes; its own probe measured {4:N2} s), whole upgrade {5:N1} s" -f $result.Status,
    ($ours.DowntimeMs / 1000), $ours.Failures, $ours.Requests, $result.Downtime.TotalSeconds, $result.Duration.TotalSeconds)
$floor = $migrationSeconds + $startSeconds
@(
    New-BenchFigure -Figure 'Standard upgrade, API downtime / the guide''s manual down; upgrade; up -d' -UpgradeOps ($ours.DowntimeMs / 1000) -Baseline ($manual.DowntimeMs / 1000) -Goal 0.5 `
        -Note "1.7.5 -> 1.7.6, pull inside the manual window; $($ours.Failures) of $($ours.Requests) probes failed during Invoke-Upgrade"
    New-BenchFigure -Figure 'Standard upgrade, API downtime / its floor (migration + one API start-to-healthy)' -UpgradeOps ($ours.DowntimeMs / 1000) -Baseline $floor -Goal 1.2 `
        -Note ('migration {0:N2} s + start-to-healthy {1:N2} s, same run' -f $migrationSeconds, $startSeconds)
) | Write-BenchResult -Path $ResultFile
Stop-Sandbox -RemoveVolumes | Out-Null

#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Failed requests through the load balancer during a Rolling upgrade (1.7.5 -> 1.7.6), at 300 requests/s or more.
.DESCRIPTION
    Starts the sandbox at 1.7.5, takes a backup, starts -Probes probes that each request /api/info through the load
    balancer every -IntervalMs, runs Invoke-Upgrade -Strategy Rolling, and keeps the probes going until at least
    -MinimumRequests were sent and the upgrade is done. Goal: 0 failed of at least 6,000 at 300 requests/s or more
    (the rate is reported beside the count: a row whose rate fell short does not hold).
#>
param(
    [int] $MinimumRequests = 6000,
    [ValidateRange(1, 5)][int] $Probes = 4,
    [int] $IntervalMs = 3,
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
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
$profilePath = Join-Path $root 'tests/Sandbox/profile.yml'
$d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue
$backup = $d | New-DeploymentBackup -Path (Join-Path $root 'out/bench/rolling') -Force

# The control: the same probes for 10 s with nothing changing, so that a failure during the upgrade can be told from the
# client's or the load balancer's own.
$control = @(1..$Probes | ForEach-Object { Start-ApiProbe -IntervalMs $IntervalMs })
Start-Sleep -Seconds 10
$controlResults = @($control | ForEach-Object { Stop-ApiProbe $_ })
$controlRequests = ($controlResults.Requests | Measure-Object -Sum).Sum
$controlFailures = ($controlResults.Failures | Measure-Object -Sum).Sum
Write-Host ("Control, no upgrade: {0} requests in 10 s, failed: {1} {2}" -f $controlRequests, $controlFailures, (($controlResults.Errors | Where-Object { $_ }) -join ', '))

$running = @(1..$Probes | ForEach-Object { Start-ApiProbe -IntervalMs $IntervalMs })
$watch = [Diagnostics.Stopwatch]::StartNew()
$result = $d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $backup -Strategy Rolling -Force
$upgradeSeconds = $watch.Elapsed.TotalSeconds
while (($running.State.Requests | Measure-Object -Sum).Sum -lt $MinimumRequests) { Start-Sleep -Milliseconds 200 }
$measured = @($running | ForEach-Object { Stop-ApiProbe $_ })
$requests = ($measured.Requests | Measure-Object -Sum).Sum
$failures = ($measured.Failures | Measure-Object -Sum).Sum
$rate = $requests / $watch.Elapsed.TotalSeconds
$errors = ($measured.Errors | Where-Object { $_ }) -join ', '

Write-Host ("Rolling upgrade 1.7.5 -> 1.7.6: {0} in {1:N1} s" -f $result.Status, $upgradeSeconds)
Write-Host ("Requests through the load balancer: {0} in {1:N1} s ({2:N0}/s); failed: {3} {4} (goal: 0)" -f $requests, $watch.Elapsed.TotalSeconds, $rate, $failures, $errors)
$figure = New-BenchFigure -Figure 'Rolling upgrade, failed requests' -UpgradeOps $failures -Unit 'requests' -GoalKind 'at most' -Goal 0 `
    -Note ("{0} requests at {1:N0}/s during a {2} upgrade of {3:N1} s{4}; control without an upgrade: {5} of {6} failed" -f $requests, $rate, $result.Status, $upgradeSeconds, $(if ($errors) { "; $errors" }), $controlFailures, $controlRequests)
if ($rate -lt 300 -or $requests -lt 6000 -or $result.Status -ne 'Succeeded') { $figure.Held = $false; $figure.Note += ' (short of 6,000 requests at 300/s, or the upgrade failed)' }

# One replica's start-to-healthy on the upgraded version, the unit a rolling replacement cannot go under.
$serverA = docker ps -q --filter "label=com.docker.compose.project=$($sandbox.ProjectName)" --filter 'label=com.docker.compose.service=server-a'
docker stop $serverA | Out-Null
$watch.Restart()
docker start $serverA | Out-Null
Wait-DockerHealthy $serverA -IntervalMs 50
$oneReplica = $watch.Elapsed.TotalSeconds
$replace = ($result.Steps | Where-Object Name -eq 'recreate API' | Select-Object -First 1).Duration.TotalSeconds
@(
    $figure
    New-BenchFigure -Figure 'Rolling upgrade, API replacement, N = 2 replicas / 2 x one replica''s start-to-healthy' -UpgradeOps $replace -Baseline (2 * $oneReplica) -Goal 1.2 `
        -Note ('one replica {0:N2} s; each replica also pays its stop and its container''s creation (the baseline starts a stopped container), and the sandbox profile waits rolling.minReadySeconds = 3 s between replicas (its nginx keeps a failed backend out for 2 s)' -f $oneReplica)
) | Write-BenchResult -Path $ResultFile
Stop-Sandbox -RemoveVolumes | Out-Null

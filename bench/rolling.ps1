#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Failed requests through the load balancer during a Rolling upgrade (1.7.5 -> 1.7.6), at about 100 requests/s.
.DESCRIPTION
    Starts the sandbox at 1.7.5, takes a backup, starts a probe that requests /api/info through the load balancer
    every 10 ms, runs Invoke-Upgrade -Strategy Rolling, and keeps the probe going until at least -MinimumRequests
    were sent and the upgrade is done. Goal: 0 failed requests.
#>
param(
    [int] $MinimumRequests = 2000,
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1')
)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
. (Join-Path $PSScriptRoot 'Probe.ps1')
Import-Module (Resolve-Path $ModulePath).Path -Force
Import-Module (Join-Path $root 'tests/Sandbox/Sandbox.psm1') -Force
Initialize-SandboxHost | Out-Null
Build-SandboxImage | Out-Null
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
$profilePath = Join-Path $root 'tests/Sandbox/profile.yml'
$d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue
$backup = $d | New-DeploymentBackup -Path (Join-Path $root 'out/bench/rolling') -Force

$probe = Start-ApiProbe -IntervalMs 10
$watch = [Diagnostics.Stopwatch]::StartNew()
$result = $d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $backup -Strategy Rolling -Force
$upgradeSeconds = $watch.Elapsed.TotalSeconds
while ($probe.State.Requests -lt $MinimumRequests) { Start-Sleep -Milliseconds 200 }
$measured = Stop-ApiProbe $probe

Write-Host ("Rolling upgrade 1.7.5 -> 1.7.6: {0} in {1:N1} s" -f $result.Status, $upgradeSeconds)
Write-Host ("Requests through the load balancer: {0} in {1:N1} s ({2:N0}/s); failed: {3} {4} (goal: 0)" -f $measured.Requests, $watch.Elapsed.TotalSeconds,
    ($measured.Requests / $watch.Elapsed.TotalSeconds), $measured.Failures, $measured.Errors)
Stop-Sandbox -RemoveVolumes | Out-Null
if ($result.Status -ne 'Succeeded') { exit 1 }

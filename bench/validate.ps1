#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Test-PostUpgrade's wall time against its slowest single check, on the sandbox.
.DESCRIPTION
    Brings up the seeded sandbox, then runs every check of Test-PostUpgrade -Runs times and prints, for each run,
    the wall time of the whole validation, the slowest check and their ratio, then the median ratio.
    The checks run in parallel, so the ratio shows what running them together costs. Goal: at most 1.5.
.EXAMPLE
    dotnet pwsh ./bench/validate.ps1 -Runs 5
#>
param(
    [int] $Runs = 5,
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1'),
    # Where bench/run.ps1 collects this benchmark's figures (JSON).
    [string] $ResultFile
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Figures.ps1')
$root = Split-Path $PSScriptRoot
Import-Module (Resolve-Path $ModulePath).Path -Force
Import-Module (Join-Path $root 'tests/Sandbox/Sandbox.psm1') -Force
Initialize-SandboxHost | Out-Null
Build-SandboxImage | Out-Null
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
$d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile (Join-Path $root 'tests/Sandbox/profile.yml') -WarningAction SilentlyContinue

$ratios = @(); $walls = @(); $slowests = @()
for ($i = 1; $i -le $Runs; $i++) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $report = $d | Test-PostUpgrade
    $wall = $watch.Elapsed.TotalSeconds
    $slowest = $report.Checks | Sort-Object Duration -Descending | Select-Object -First 1
    $sum = ($report.Checks | Measure-Object -Property { $_.Duration.TotalSeconds } -Sum).Sum
    $ratios += $wall / $slowest.Duration.TotalSeconds
    $walls += $wall; $slowests += $slowest.Duration.TotalSeconds
    Write-Host ("run {0}: all {1} checks {2:N2} s (sum of checks {3:N2} s), slowest {4} {5:N2} s, ratio {6:N2}, passed {7}" -f $i,
        $report.Checks.Count, $wall, $sum, $slowest.Name, $slowest.Duration.TotalSeconds, $ratios[-1], $report.Passed)
}
$median = Get-BenchMedian $ratios
Write-Host ''
Write-Host ("Validation: wall time / slowest check = {0:N2} (median of {1}; goal <= 1.5)" -f $median, $Runs)
New-BenchFigure -Figure 'Test-PostUpgrade, all checks / its slowest single check' -UpgradeOps (Get-BenchMedian $walls) -Baseline (Get-BenchMedian $slowests) -Goal 1.5 `
    -Note "$($report.Checks.Count) checks, median of $Runs runs (the ratio of medians; the median of the runs' ratios is $('{0:N2}' -f $median))" |
    Write-BenchResult -Path $ResultFile
Stop-Sandbox -RemoveVolumes | Out-Null

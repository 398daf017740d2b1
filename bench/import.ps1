#!/usr/bin/env pwsh
<#
.SYNOPSIS
    How long Import-Module UpgradeOps adds to pwsh start-up.
.DESCRIPTION
    Starts pwsh -NoProfile N times with nothing to do, and N times importing the built module (and once
    more importing it and running Test-UpgradePath, the first engine call), interleaved so both see the
    same machine. Prints the medians and the difference: the goal is under 150 ms added. A module with nothing
    in it is imported the same way, as the floor: what Import-Module itself costs a fresh pwsh (its module
    machinery loaded and compiled on first use), which no module can go below.
#>
param(
    [int] $Runs = 15,
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1'),
    # Where bench/run.ps1 collects this benchmark's figures (JSON).
    [string] $ResultFile
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Figures.ps1')
$ModulePath = (Resolve-Path $ModulePath).Path
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

function Measure-Start([string] $Command) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & $pwsh -NoProfile -NonInteractive -Command $Command | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "pwsh failed running: $Command" }
    $watch.Elapsed.TotalMilliseconds
}


# The floor: a manifest and an empty script module, in a folder of its own for this run.
$emptyModule = Join-Path ([IO.Path]::GetTempPath()) "upgradeops-bench-empty-$PID"
$null = New-Item -ItemType Directory -Force -Path $emptyModule
Set-Content -Path (Join-Path $emptyModule 'Empty.psm1') -Value ''
Set-Content -Path (Join-Path $emptyModule 'Empty.psd1') -Value "@{ ModuleVersion = '1.0.0'; RootModule = 'Empty.psm1' }"

$cases = [ordered]@{
    'pwsh -NoProfile (baseline)'          = 'exit 0'
    'Import-Module of an empty module'    = "Import-Module '$(Join-Path $emptyModule 'Empty.psd1')'"
    'Import-Module UpgradeOps'            = "Import-Module '$ModulePath'"
    'Import + first Test-UpgradePath'     = "Import-Module '$ModulePath'; `$null = Test-UpgradePath -From 1.0.0 -To 1.0.1"
}
$null = Measure-Start 'exit 0' # warm the disk cache
$times = @{}
foreach ($name in $cases.Keys) { $times[$name] = [System.Collections.Generic.List[double]]::new() }
for ($i = 0; $i -lt $Runs; $i++) {
    foreach ($name in $cases.Keys) { $times[$name].Add((Measure-Start $cases[$name])) }
}

Remove-Item -Recurse -Force $emptyModule
$baseline = Get-BenchMedian $times['pwsh -NoProfile (baseline)']
$rows = foreach ($name in $cases.Keys) {
    $median = Get-BenchMedian $times[$name]
    [pscustomobject]@{
        Case          = $name
        MedianMs      = [math]::Round($median)
        AddedMs       = [math]::Round($median - $baseline)
        RatioToPwsh   = [math]::Round($median / $baseline, 2)
    }
}
$rows | Format-Table -AutoSize | Out-String | Write-Host
$added = (Get-BenchMedian $times['Import-Module UpgradeOps']) - $baseline
$floor = (Get-BenchMedian $times['Import-Module of an empty module']) - $baseline
Write-Host ("Import-Module adds {0:N0} ms to pwsh start-up (goal: under 150 ms; {1} runs each); an empty module adds {2:N0} ms, so UpgradeOps' own part is {3:N0} ms" -f $added, $Runs, $floor, ($added - $floor))
New-BenchFigure -Figure 'Import-Module UpgradeOps / pwsh -NoProfile start-up' -UpgradeOps (Get-BenchMedian $times['Import-Module UpgradeOps']) -Baseline $baseline `
    -Unit 'ms' -GoalKind 'added' -Goal 150 -Note ("{0:N0} ms added, median of {1}; an empty module adds {3:N0} ms (Import-Module's own floor); with the first Test-UpgradePath {2:N0} ms" -f $added, $Runs, (Get-BenchMedian $times['Import + first Test-UpgradePath']), $floor) |
    Write-BenchResult -Path $ResultFile

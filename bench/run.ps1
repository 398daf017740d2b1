#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs every benchmark side by side on the sandbox and prints one table: figure, UpgradeOps, baseline, ratio, goal,
    held or not. Writes the table as JSON beside it, with the machine's cores, memory, engine and database versions.
.DESCRIPTION
    Each benchmark runs in its own pwsh, one after the other on the same machine, and measures its figure and its
    baseline in that same run and on the same data (bench/*.ps1 say how). A benchmark that fails gives a row that says
    so and the others still run. Figures that cannot be measured here get a row that says why. Timings are never
    asserted in tests: this table is what the notes and the changelog report.
.EXAMPLE
    dotnet pwsh ./bench/run.ps1
    The whole run (about 15 minutes on 2 cores, most of it the 1 GB backup benchmark). Table on screen,
    JSON in out/bench/results.json.
.EXAMPLE
    dotnet pwsh ./bench/run.ps1 -Quick -Only import, validate
    A smoke run: smaller data and fewer repetitions (the backup benchmark's 1 GB goal is not met by -Quick's data).
#>
param(
    # Smaller data and fewer runs, to check the benchmarks themselves; not figures to report.
    [switch] $Quick,
    # Benchmarks to run, by name (import, validate, downtime, rolling, backup); all when omitted.
    [ValidateSet('import', 'validate', 'downtime', 'rolling', 'backup')][string[]] $Only,
    [string] $OutputPath = (Join-Path $PSScriptRoot '../out/bench/results.json'),
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1')
)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
. (Join-Path $PSScriptRoot 'Figures.ps1')
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
if (-not (Test-Path $ModulePath)) { throw "The module is not built at ${ModulePath}: run 'dotnet pwsh ./build.ps1 -Task Build' first." }
$ModulePath = (Resolve-Path $ModulePath).Path
$work = Join-Path $root 'out/bench'
$null = New-Item -ItemType Directory -Force $work

# Cheapest first: the module's import cost before any container loads the machine.
$benchmarks = [ordered]@{
    import   = $Quick ? @('-Runs', '5') : @()
    validate = $Quick ? @('-Runs', '2') : @()
    downtime = @()
    rolling  = @()
    backup   = $Quick ? @('-Runs', '1', '-MinimumGigabytes', '0.01', '-SeedRows', '200000', '-GraphNodes', '50000') : @()
}
$started = Get-Date
$figures = [System.Collections.Generic.List[object]]::new()
foreach ($name in $benchmarks.Keys) {
    if ($Only -and $name -notin $Only) { continue }
    $resultFile = Join-Path $work "$name.json"
    Remove-Item $resultFile -ErrorAction SilentlyContinue
    Write-Host "==== bench/$name.ps1 $($benchmarks[$name] -join ' ')" -ForegroundColor Cyan
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & $pwsh -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot "$name.ps1") -ModulePath $ModulePath -ResultFile $resultFile @($benchmarks[$name]) | Out-Host
    $exit = $LASTEXITCODE
    Write-Host ("==== bench/{0}.ps1: exit {1} after {2:N0} s" -f $name, $exit, $watch.Elapsed.TotalSeconds) -ForegroundColor Cyan
    if ($exit -eq 0 -and (Test-Path $resultFile)) { Get-Content -Raw $resultFile | ConvertFrom-Json | ForEach-Object { $figures.Add($_) } }
    else { $figures.Add((New-BenchFigure -Figure "bench/$name.ps1" -Note "failed (exit $exit): its output above says why")) }
}
if (-not $Only) {
    $figures.Add((New-BenchFigure -Figure 'Rolling upgrade time for N = 1 and 4 API replicas' -Goal 1.2 -Unit '' `
        -Note 'not measured: N = 1 is refused by design (a rolling upgrade needs two API servers: RollingNotPossible), and the sandbox has two API services (server-a, server-b), not four'))
}

function Get-Text([string[]] $Command) { try { (& $Command[0] $Command[1..($Command.Count - 1)] 2>$null | Select-Object -First 1) -join '' } catch { '' } }
$memoryKb = (Get-Content /proc/meminfo -ErrorAction SilentlyContinue | Select-String '^MemTotal:\s+(\d+)').Matches.Groups[1].Value
$machine = [ordered]@{
    Cores          = [Environment]::ProcessorCount
    MemoryGiB      = if ($memoryKb) { [math]::Round([long]$memoryKb / 1MB, 1) } else { $null }
    OS             = [Runtime.InteropServices.RuntimeInformation]::OSDescription
    DockerEngine   = Get-Text @('docker', 'version', '--format', '{{.Server.Version}}')
    PostgreSQL     = Get-Text @('docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'postgres', '127.0.0.1:5000/upgradeops/postgres:15', '--version')
    Redis          = Get-Text @('docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'redis-server', '127.0.0.1:5000/upgradeops/redis:7', '--version')
    PowerShell     = $PSVersionTable.PSVersion.ToString()
    DotNet         = [Environment]::Version.ToString()
    Commit         = Get-Text @('git', '-C', $root, 'rev-parse', '--short', 'HEAD')
}
$table = $figures | Select-Object Figure, UpgradeOps, Baseline, Unit, Ratio, Goal, @{ n = 'Held'; e = { if ($null -eq $_.Held) { '-' } elseif ($_.Held) { 'yes' } else { 'NO' } } }
Write-Host ''
Write-Host ("Benchmarks of {0}, {1} cores, {2} GiB, Docker Engine {3}, {4}; {5:N0} min" -f $machine.Commit, $machine.Cores, $machine.MemoryGiB, $machine.DockerEngine, $machine.PostgreSQL, ((Get-Date) - $started).TotalMinutes)
$table | Format-Table -AutoSize -Wrap | Out-String -Width 200 | Write-Host
$figures | Where-Object Note | ForEach-Object { Write-Host "  $($_.Figure): $($_.Note)" }
[ordered]@{ Started = $started.ToString('o'); Quick = [bool]$Quick; Machine = $machine; Figures = $figures } |
    ConvertTo-Json -Depth 5 | Set-Content -Path $OutputPath -Encoding utf8
Write-Host "JSON: $((Resolve-Path $OutputPath).Path)"

#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests, packages and demonstrates UpgradeOps.
.DESCRIPTION
    Tasks:
      Build    module into out/UpgradeOps (cmdlets at the root, engine and third-party DLLs in Dependencies/,
               MAML help generated from the cmdlets' XML doc comments)
      Test     Build, then xunit (engine) and Pester (the built module as users see it);
               closes with one line 'N passed, N failed'
      Package  Build, then out/UpgradeOps-<version>.zip (Azure Automation: UpgradeOps/ at the zip root) and a .nupkg
      Demo     Build, start the Infrahub sandbox, run the whole upgrade runbook on it (examples/Demo-Runbook.ps1), remove it
      Sandbox  install and start what the sandbox needs (Docker Engine, registry), build its images, and bring
               up the sandbox deployment at -Version (default 1.7.5), seeded with data
      SandboxDown  stop the sandbox deployment and remove its volumes
      Check    Build, then only the Pester files of -PesterPath, without the sandbox (for tests that need no
               Docker Engine: planning, help, the bad-input corpus)
      Clean    remove build output
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Check', 'Package', 'Demo', 'Sandbox', 'SandboxDown', 'Clean')]
    [string[]] $Task = @('Build'),
    # Sandbox task: the version of the sandbox application to deploy.
    [string] $Version = '1.7.5',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Pester tag filter for quick local runs (e.g. -PesterTag Help); CI runs everything.
    [string[]] $PesterTag,
    # Check task: the Pester files or folders to run (default: the bad-input corpus).
    [string[]] $PesterPath = @('tests/Reliability'),
    # Check task: run the tests on the module already built (the Test task's other processes use it).
    [switch] $NoBuild,
    # Check task: also write the counts as JSON to this file (read by the Test task).
    [string] $SummaryPath,
    # Check task: run the xunit tests first and count them in the summary (one of the Test task's processes does).
    [switch] $Xunit,
    # Check task: before the xunit tests that need the sandbox images (Category=Docker) and before the Pester files, wait
    # until this file exists; it says 'ready', or why the images could not be built (the Test task writes it).
    [string] $WaitForImages
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$Root = $PSScriptRoot
$OutDir = Join-Path $Root 'out'
$ModuleOut = Join-Path $OutDir 'UpgradeOps'
$Manifest = Import-PowerShellDataFile (Join-Path $Root 'UpgradeOps.psd1')
$SandboxVersion = $Version
$ModuleVersion = $Manifest.ModuleVersion
# The longest release notes written into the manifest itself (characters); see Get-ChangelogSection.
$MaxManifestReleaseNotes = 4000
# Child processes run the same PowerShell as this one (under `dotnet pwsh` the process itself is dotnet).
$PwshPath = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

function Invoke-Native {
    param([string] $Command, [string[]] $Arguments)
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-ToolPackagePath {
    param([string] $Id, [string] $PackageVersion)
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $path = Join-Path $packages "$($Id.ToLowerInvariant())/$PackageVersion"
    if (-not (Test-Path $path)) {
        Invoke-Native dotnet @('restore', (Join-Path $Root 'build/tools.proj'), '--nologo', '-v', 'quiet')
    }
    $path
}

function Get-ChangelogSection {
    # The release notes of this version (or Unreleased) for the manifest's PSData.
    $changelog = Get-Content -Raw (Join-Path $Root 'CHANGELOG.md')
    $match = [regex]::Match($changelog, "(?ms)^## \[(?:$([regex]::Escape($ModuleVersion))|Unreleased)\][^\n]*\n(.*?)(?=^## \[|\z)")
    $pointer = "See CHANGELOG.md in the module folder, or $($Manifest.PrivateData.PSData.ProjectUri)/blob/main/CHANGELOG.md"
    if (-not $match.Success) { return $pointer }
    # Every Import-Module parses the manifest, and a long string costs start-up time (80 KB of notes added about
    # 40 ms): longer notes are pointed to, in the CHANGELOG.md that ships beside the manifest.
    $section = $match.Groups[1].Value.Trim()
    if ($section.Length -le $MaxManifestReleaseNotes) { $section } else { $pointer }
}

function Invoke-Build {
    Write-Host "Building UpgradeOps $ModuleVersion ($Configuration)" -ForegroundColor Cyan
    if (Test-Path $ModuleOut) { Remove-Item $ModuleOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Force -Path $ModuleOut, (Join-Path $ModuleOut 'Dependencies'), (Join-Path $ModuleOut 'en-US')

    $common = @('-c', $Configuration, "-p:Version=$ModuleVersion", '--nologo', '-v', 'quiet')
    Invoke-Native dotnet (@('publish', (Join-Path $Root 'src/UpgradeOps.Engine'), '-o', (Join-Path $ModuleOut 'Dependencies')) + $common)
    Invoke-Native dotnet (@('build', (Join-Path $Root 'src/UpgradeOps')) + $common)
    Invoke-Native dotnet (@('build', (Join-Path $Root 'src/UpgradeOps.Loader')) + $common)

    $cmdletBin = Join-Path $Root "src/UpgradeOps/bin/$Configuration/net8.0"
    Copy-Item (Join-Path $cmdletBin 'UpgradeOps.dll'), (Join-Path $cmdletBin 'UpgradeOps.pdb') $ModuleOut
    Copy-Item (Join-Path $Root "src/UpgradeOps.Loader/bin/$Configuration/net8.0/UpgradeOps.Loader.dll") $ModuleOut
    # The engine's XML docs and deps file are not needed at run time.
    Get-ChildItem (Join-Path $ModuleOut 'Dependencies') -Include '*.xml', '*.deps.json' -Recurse | Remove-Item

    Copy-Item (Join-Path $Root 'src/UpgradeOps/UpgradeOps.Format.ps1xml'), (Join-Path $Root 'src/UpgradeOps/UpgradeOps.Types.ps1xml') $ModuleOut
    Copy-Item (Join-Path $Root 'en-US/*.txt') (Join-Path $ModuleOut 'en-US')
    Copy-Item (Join-Path $Root 'CHANGELOG.md') $ModuleOut
    $manifestText = Get-Content -Raw (Join-Path $Root 'UpgradeOps.psd1')
    $notes = (Get-ChangelogSection) -replace "'", "''"
    $manifestText = $manifestText -replace "ReleaseNotes = ''", "ReleaseNotes = '$notes'"
    Set-Content -Path (Join-Path $ModuleOut 'UpgradeOps.psd1') -Value $manifestText -NoNewline

    # Help is generated in a child process so this session never loads the module it is building.
    $helpScript = Join-Path $Root 'build/New-MamlHelp.ps1'
    Invoke-Native $PwshPath @('-NoProfile', '-NonInteractive', '-File', $helpScript,
        '-ModulePath', (Join-Path $ModuleOut 'UpgradeOps.psd1'),
        '-XmlDocPath', (Join-Path $cmdletBin 'UpgradeOps.xml'),
        '-OutFile', (Join-Path $ModuleOut 'en-US/UpgradeOps.dll-Help.xml'))
    Write-Host "Module: $ModuleOut" -ForegroundColor Green
}

function Invoke-XunitTests {
    # -Filter and -Name (the results file's name) split the run: the Test task runs the tests that need no sandbox image
    # while the images build, and those that do (Category=Docker) after.
    param([string] $Filter, [string] $Name = 'xunit', [switch] $NoBuild)
    $results = Join-Path $OutDir 'test-results'
    $trx = Join-Path $results "$Name.trx"
    if (Test-Path $trx) { Remove-Item $trx }
    $arguments = @((Join-Path $Root 'tests/UpgradeOps.Engine.Tests'), '-c', $Configuration, '--nologo',
        '--logger', "trx;LogFileName=$Name.trx", '--logger', 'console;verbosity=minimal', '--results-directory', $results) +
        @(if ($Filter) { '--filter', $Filter }) + @(if ($NoBuild) { '--no-build' })
    & dotnet test @arguments | Out-Host
    if (-not (Test-Path $trx)) { throw "xunit produced no results ($Name): the test project did not build or run." }
    $counters = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary.Counters
    [pscustomobject]@{
        Passed  = [int]$counters.passed
        Failed  = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        # A skipped test is counted neither as executed nor as notExecuted: the difference to the total is what was skipped.
        Skipped = [Math]::Max([int]$counters.total - [int]$counters.executed, [int]$counters.notExecuted)
    }
}

function Wait-SandboxImage([Parameter(Mandatory)][string] $Path) {
    # The Test task writes the file once Build-SandboxImage has ended; an hour is far beyond any build seen (130-210 s).
    $deadline = (Get-Date).AddHours(1)
    while (-not (Test-Path -LiteralPath $Path)) {
        if ((Get-Date) -gt $deadline) { throw "The sandbox images were not reported built within an hour ($Path was never written)." }
        Start-Sleep -Milliseconds 500
    }
    $state = (Get-Content -Raw -LiteralPath $Path).Trim()
    if ($state -ne 'ready') { throw "The sandbox images are not there ($state): the Test task's own output shows the build's error." }
}

function Invoke-PesterTests {
    param([string[]] $Path = @((Join-Path $Root 'tests/Pester'), (Join-Path $Root 'tests/Reliability')),
        # The caller writes the summary (Write-PesterSummary) itself, after what it still has to show.
        [switch] $DeferSummary)
    $pester = Join-Path (Get-ToolPackagePath 'Pester' '5.7.1') 'tools/Pester.psd1'
    Import-Module $pester -MinimumVersion 5.7.1 -Force
    $config = New-PesterConfiguration
    $config.Run.Path = $Path
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    # No NUnit XML: nothing reads it, and a failure message holding an escape character (a child's coloured output)
    # made its export throw and lose the whole run's counts.
    $config.TestResult.Enabled = $false
    if ($PesterTag) { $config.Filter.Tag = $PesterTag -split ',' }
    $env:UPGRADEOPS_MODULE = Join-Path $ModuleOut 'UpgradeOps.psd1'
    $env:UPGRADEOPS_ROOT = $Root
    $result = Invoke-Pester -Configuration $config
    if ($null -eq $result -or -not $result.PSObject.Properties['PassedCount']) { throw "Pester returned no results for $($Path -join ', '): see its errors above." }
    if (-not $DeferSummary) { Write-PesterSummary $result }
    [pscustomobject]@{
        Result      = $result
        Passed      = $result.PassedCount
        Failed      = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        Skipped     = $result.SkippedCount + $result.NotRunCount
        Reliability = Get-ReliabilitySummary $result
        Faults      = Get-FaultResult $result
    }
}

function Invoke-WithTestCache([string] $Name, [scriptblock] $ScriptBlock) {
    # Runs ScriptBlock with a cache folder of the named test process's own, for it and the pwsh it starts. Every
    # non-interactive pwsh replays the startup JIT profile in it (powershell/StartupProfileData-NonInteractive) and
    # rewrites it at exit, so with one folder the processes running side by side read what the others' last pwsh wrote
    # (and race on the file), and what a fresh pwsh loads depended on which test ran last in the other process.
    $folder = Join-Path $OutDir "test-results/$Name.cache"
    if (Test-Path $folder) { Remove-Item $folder -Recurse -Force }
    $null = New-Item -ItemType Directory -Force -Path $folder
    $saved = $env:XDG_CACHE_HOME
    $env:XDG_CACHE_HOME = $folder
    try { & $ScriptBlock }
    finally { $env:XDG_CACHE_HOME = $saved }
}

function Start-PesterProcess {
    # Tests that do not use the Compose sandbox (xunit, the bad-input corpus, the Helm tests on their own API server and
    # ports) run in processes beside those that do, which spend most of their time waiting on containers. The
    # output of each goes to a log, shown when it is done.
    param([Parameter(Mandatory)][string[]] $Path, [Parameter(Mandatory)][string] $Name, [switch] $Xunit,
        # Started before the sandbox images are built: what needs them waits for this file (Wait-SandboxImage).
        [string] $WaitForImages,
        # A test lane (Start-SandboxLane): the process runs in its network namespace, against its Docker Engine and project.
        $Lane)
    $results = Join-Path $OutDir 'test-results'
    $null = New-Item -ItemType Directory -Force -Path $results
    $side = [pscustomobject]@{ Name = $Name; Log = (Join-Path $results "$Name.log"); Summary = (Join-Path $results "$Name.json"); Process = $null }
    Remove-Item -LiteralPath $side.Log, "$($side.Log).err", $side.Summary -ErrorAction SilentlyContinue
    $arguments = @('-NoProfile', '-NonInteractive', '-File', (Join-Path $Root 'build.ps1'), '-Task', 'Check', '-NoBuild',
        '-Configuration', $Configuration, '-PesterPath', ($Path -join ','), '-SummaryPath', $side.Summary) + @(if ($Xunit) { '-Xunit' }) +
        @(if ($WaitForImages) { '-WaitForImages', $WaitForImages }) |
        ForEach-Object { '"' + $_ + '"' }
    # At a lower CPU priority where nice exists: the sandbox files' timings (rolling upgrade, performance baseline) are
    # what the machine's two cores must keep steady; the others only have to finish before them.
    $nice = if (-not $IsWindows) { Get-Command nice -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 }
    $file, $arguments = if ($nice) { $nice.Source, (@('-n', '10', "`"$PwshPath`"") + $arguments) } else { $PwshPath, $arguments }
    if ($Lane) {
        $arguments = @("--net=$($Lane.NetnsPath)", 'env', "DOCKER_HOST=$($Lane.DockerHost)", "UPGRADEOPS_SANDBOX_PROJECT=$($Lane.Project)", "`"$file`"") + $arguments
        # First match only: with a merged /usr, /bin/nsenter and /usr/bin/nsenter are both found.
        $file = (Get-Command nsenter -CommandType Application | Select-Object -First 1).Source
    }
    $side.Process = Invoke-WithTestCache $Name {
        Start-Process -FilePath $file -ArgumentList $arguments -RedirectStandardOutput $side.Log -RedirectStandardError "$($side.Log).err" -PassThru
    }
    $side
}

function Receive-PesterProcess {
    param([Parameter(Mandatory)] $Side)
    $Side.Process.WaitForExit()
    Write-Host "---- $($Side.Name) (run beside the tests above) ----"
    Get-Content -LiteralPath $Side.Log, "$($Side.Log).err" -ErrorAction SilentlyContinue | Out-Host
    if (-not (Test-Path -LiteralPath $Side.Summary)) {
        Write-Host "  failed: the $($Side.Name) process ended (exit code $($Side.Process.ExitCode)) without its results"
        return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0; Reliability = $null; Xunit = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 } }
    }
    Get-Content -Raw -LiteralPath $Side.Summary | ConvertFrom-Json
}

function Write-PesterSummary {
    # CI shows only the end of the output: what took the time, and every failure by name, come last.
    param($Result)
    Write-Host 'Pester files by time:'
    foreach ($container in @($Result.Containers | Sort-Object Duration -Descending)) {
        $name = [IO.Path]::GetFileName([string]$container.Item)
        Write-Host ('  {0,7:N1} s  {1} ({2})' -f $container.Duration.TotalSeconds, $name, $container.Result)
    }
    foreach ($test in @($Result.Failed)) {
        $message = @($test.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join ' | '
        if ($message.Length -gt 1200) { $message = $message.Substring(0, 1200) + '…' }
        Write-Host "  failed: $($test.ExpandedPath): $message"
    }
    foreach ($block in @($Result.FailedBlocks)) {
        Write-Host "  failed block: $($block.ExpandedPath): $(@($block.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join ' | ')"
    }
    foreach ($container in @($Result.FailedContainers)) {
        Write-Host "  failed file: $($container.Item): $(@($container.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join ' | ')"
    }
}

function Get-TaggedTest {
    # The tests of a run that carry -Tag themselves or through their block.
    param($Result, [Parameter(Mandatory)][string] $Tag)
    @($Result.Tests | Where-Object { $_.Tag -contains $Tag -or $_.Block.Tag -contains $Tag })
}

function Get-ReliabilitySummary {
    # The bad-input corpus in one figure: cases tried, held, and every one that did not, by name.
    param($Result)
    $cases = @(Get-TaggedTest $Result 'BadInput')
    if ($cases.Count -eq 0) { return $null }
    $held = @($cases | Where-Object Result -eq 'Passed')
    $notHeld = @($cases | Where-Object Result -ne 'Passed')
    @("Bad-input corpus: $($cases.Count) cases tried, $($held.Count) held, $($notHeld.Count) did not") +
        @(foreach ($case in $notHeld) { "  did not hold: $($case.ExpandedName) ($($case.Result))" }) -join "`n"
}

function Get-FaultResult {
    # The fault matrix: every test tagged Fault (a failure injected into a running operation: a kill, Ctrl+C, a full disk,
    # a registry or database gone, a broken version, damaged files), with its file and result.
    param($Result)
    @(Get-TaggedTest $Result 'Fault' | ForEach-Object {
        [pscustomobject]@{ File = [IO.Path]::GetFileName([string]$_.ScriptBlock.File); Name = $_.ExpandedPath; Result = [string]$_.Result }
    })
}

function Format-FaultMatrix {
    # One figure for the fault matrix, the faults per file, and every one that did not hold, by name.
    param([object[]] $Fault)
    $Fault = @($Fault | Where-Object { $_ })
    if ($Fault.Count -eq 0) { return $null }
    $notHeld = @($Fault | Where-Object Result -ne 'Passed')
    $perFile = ($Fault | Group-Object File | Sort-Object Name | ForEach-Object { "$($_.Name -replace '\.Tests\.ps1$') $($_.Count)" }) -join ', '
    @("Fault matrix: $($Fault.Count) faults injected, $($Fault.Count - $notHeld.Count) held, $($notHeld.Count) did not ($perFile)") +
        @(foreach ($case in $notHeld) { "  did not hold: $($case.Name) ($($case.Result))" }) -join "`n"
}

function Invoke-Check {
    if (-not $NoBuild) { Invoke-Build }
    # With -WaitForImages, xunit runs in two parts: the tests that need no sandbox image while the images build, then the
    # rest (Category=Docker) once they are there.
    $xunitRuns = @(if ($Xunit) { Invoke-XunitTests -Filter ($WaitForImages ? 'Category!=Docker' : $null) -Name ($WaitForImages ? 'xunit-host' : 'xunit') })
    if ($WaitForImages) { Wait-SandboxImage $WaitForImages }
    if ($Xunit -and $WaitForImages) { $xunitRuns += Invoke-XunitTests -Filter 'Category=Docker' -Name 'xunit-docker' -NoBuild }
    $xunitCounts = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($run in $xunitRuns) { foreach ($count in 'Passed', 'Failed', 'Skipped') { $xunitCounts.$count += $run.$count } }
    # 'a,b' arrives as one string from a shell (dotnet pwsh ./build.ps1 -PesterPath a,b): split it.
    $paths = @($PesterPath | ForEach-Object { $_ -split ',' } | Where-Object { $_ } | ForEach-Object { Join-Path $Root $_.Trim() })
    $pester = Invoke-PesterTests -Path $paths
    if ($pester.Reliability) { Write-Host $pester.Reliability }
    if ($matrix = Format-FaultMatrix $pester.Faults) { Write-Host $matrix }
    if ($Xunit) { Write-Host "xunit: $($xunitCounts.Passed) passed, $($xunitCounts.Failed) failed, $($xunitCounts.Skipped) skipped" }
    Write-Host "Pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped"
    if ($SummaryPath) {
        [pscustomobject]@{
            Passed = $pester.Passed; Failed = $pester.Failed; Skipped = $pester.Skipped; Reliability = $pester.Reliability
            Faults = @($pester.Faults)
            Xunit = $xunitCounts
            # Repeated at the very end of the Test task's output, where CI's tail shows them.
            FailedTests = @(@($pester.Result.Failed) + @($pester.Result.FailedBlocks) + @($pester.Result.FailedContainers) | ForEach-Object {
                $path = if ($_.PSObject.Properties['ExpandedPath']) { $_.ExpandedPath } else { [string]$_.Item }
                $message = @($_.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join ' | '
                "${path}: $(if ($message.Length -gt 1200) { $message.Substring(0, 1200) + '…' } else { $message })"
            })
        } | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $SummaryPath
    }
    if ($pester.Failed + $xunitCounts.Failed -gt 0) { exit 1 }
}

function Initialize-Sandbox {
    # The sandbox is a real deployment on a real Docker Engine: install and start what it needs, build its images.
    Import-Module (Join-Path $Root 'tests/Sandbox/Sandbox.psm1') -Force
    Initialize-SandboxHost | Out-Host
    Build-SandboxImage | Out-Host
}

function Invoke-Sandbox {
    Invoke-Build
    Initialize-Sandbox
    Start-Sandbox -Version $SandboxVersion -Seed | Format-List | Out-Host
}

function Invoke-SandboxDown {
    Import-Module (Join-Path $Root 'tests/Sandbox/Sandbox.psm1') -Force
    Stop-Sandbox -RemoveVolumes | Out-Host
}

function Invoke-Test {
    Invoke-Build
    # The package test checks the zip; made here so no test rebuilds the module it has loaded.
    New-Package
    Import-Module (Join-Path $Root 'tests/Sandbox/Sandbox.psm1') -Force
    Initialize-SandboxHost | Out-Host
    # The sandboxes use fixed ports on the host network, so one network namespace runs one sandbox of a kind at a time.
    # Three processes run side by side:
    # - this one: the Compose sandbox files (a block tagged Sandbox), one after the other;
    # - 'xunit-and-helm': xunit, started before the sandbox images are built (its tests that need them, Category=Docker,
    #   wait for them), then the Helm files (each on its own test API server and free ports) and every file that needs
    #   no sandbox of ours;
    # - 'graph-and-corpus': the files on the Infrahub and graph sandboxes (tagged GraphSandbox: they share ports 7474 and
    #   15432, so one process runs them one after the other), then the bad-input corpus.
    # Two processes, with xunit run after the images, left the CPU 25-45 % idle and took 1,231 s on a fresh machine; the
    # second process, the longer one, ended 2.5 minutes after this one. Three took 1,094 s (images removed, Debian
    # packages installed), the two beside this one ending about 5.5 minutes before it.
    # With UPGRADEOPS_TEST_LANES=1, part of the sandbox files run in test lanes instead (Start-SandboxLane: a network
    # namespace with its own Docker Engine and registry, where a second sandbox with the same fixed ports runs beside the
    # first). Not the default: on this 2-core machine it took 1,762 s with the CPU 91 % busy, against 1,645-1,714 s without
    # it (83 % busy by /proc/stat): the lane's engine, pulls and polling fill the idle time rather than shorten the run (README).
    $files = @(Get-ChildItem (Join-Path $Root 'tests/Pester') -Filter '*.Tests.ps1' | Sort-Object Name)
    $tagged = { param($file, $tag) (Get-Content -Raw $file.FullName) -match "-Tag\s[^{]*'$tag'" }
    $relative = { param($file) [IO.Path]::GetRelativePath($Root, $file.FullName) }
    # Chosen by the files' times (the last run's "Pester files by time") so the lanes end together.
    $laneFiles = if ($env:UPGRADEOPS_TEST_LANES -eq '1') {
        [ordered]@{
            sandbox2 = @('Backup', 'Rehearsal', 'EngineRestart', 'Diagnostic', 'Neo4j', 'InfrahubDemo')
        }
    }
    else { [ordered]@{} }
    $inLane = { param($file) $laneFiles.Values | ForEach-Object { $_ } | Where-Object { "$_.Tests.ps1" -eq $file.Name } }
    $processOf = { param($file) if (& $inLane $file) { 'lane' } elseif (& $tagged $file 'Sandbox') { 'here' } elseif (& $tagged $file 'GraphSandbox') { 'graph' } else { 'helm' } }
    $here = @($files | Where-Object { (& $processOf $_) -eq 'here' } | ForEach-Object FullName)
    $graph = @($files | Where-Object { (& $processOf $_) -eq 'graph' } | ForEach-Object { & $relative $_ })
    $helm = @($files | Where-Object { (& $processOf $_) -eq 'helm' } | ForEach-Object { & $relative $_ })
    $imagesReady = Join-Path $OutDir 'test-results/sandbox-images.state'
    $null = New-Item -ItemType Directory -Force -Path (Split-Path $imagesReady)
    Remove-Item -LiteralPath $imagesReady -ErrorAction SilentlyContinue
    $sides = [System.Collections.Generic.List[object]]::new()
    $lanes = [System.Collections.Generic.List[string]]::new()
    $main = $null
    try {
        $sides.Add((Start-PesterProcess -Path $helm -Name 'xunit-and-helm' -Xunit -WaitForImages $imagesReady))
        try { Build-SandboxImage | Out-Host }
        catch { Set-Content -LiteralPath $imagesReady -Value "the build failed: $_"; throw }
        Set-Content -LiteralPath $imagesReady -Value 'ready'
        $sides.Add((Start-PesterProcess -Path ($graph + @('tests/Reliability')) -Name 'graph-and-corpus'))
        foreach ($name in $laneFiles.Keys) {
            $paths = @($files | Where-Object { $_.BaseName -replace '\.Tests$' -in $laneFiles[$name] } | ForEach-Object { & $relative $_ })
            if ($paths.Count -eq 0) { continue }
            $lane = Start-SandboxLane -Name $name
            $lanes.Add($name)
            $sides.Add((Start-PesterProcess -Path $paths -Name "lane-$name" -Lane $lane))
        }
        $main = Invoke-WithTestCache 'compose-sandbox' { Invoke-PesterTests -Path $here -DeferSummary }
    }
    finally {
        # The tests share one sandbox deployment per lane; it goes when they are done (the machine's engine and registry stay).
        Stop-Sandbox -RemoveVolumes -RemoveFolder -ErrorAction Continue | Out-Null
        $others = @(foreach ($side in $sides) { Receive-PesterProcess $side })
        foreach ($name in $lanes) { Stop-SandboxLane -Name $name -ErrorAction Continue }
    }
    # Last, where CI's tail shows it: what took the time and every failure of the main run.
    Write-Host '---- tests/Pester (Compose sandbox) ----'
    Write-PesterSummary $main.Result
    for ($i = 0; $i -lt $others.Count; $i++) {
        foreach ($failure in @($others[$i].PSObject.Properties['FailedTests'] ? $others[$i].FailedTests : @())) { Write-Host "  failed ($($sides[$i].Name)): $failure" }
    }
    $xunit = $others[0].Xunit
    $pester = [pscustomobject]@{
        Passed  = $main.Passed + ($others | Measure-Object Passed -Sum).Sum
        Failed  = $main.Failed + ($others | Measure-Object Failed -Sum).Sum
        Skipped = $main.Skipped + ($others | Measure-Object Skipped -Sum).Sum
    }
    foreach ($summary in @($main.Reliability) + @($others | ForEach-Object Reliability) | Where-Object { $_ }) { Write-Host $summary }
    $faults = @($main.Faults) + @($others | ForEach-Object { $_.PSObject.Properties['Faults'] ? $_.Faults : @() })
    if ($matrix = Format-FaultMatrix $faults) { Write-Host $matrix }
    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    $skipped = $xunit.Skipped + $pester.Skipped
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped; Pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped"
    $line = "$passed passed, $failed failed"
    if ($skipped -gt 0) { $line += ", $skipped skipped" }
    Write-Host $line
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Package {
    Invoke-Build
    New-Package
}

function New-Package {
    $zip = Join-Path $OutDir "UpgradeOps-$ModuleVersion.zip"
    if (Test-Path $zip) { Remove-Item $zip }
    # Azure Automation wants the module folder, named like the .psd1, at the zip root, with no version folder.
    Compress-Archive -Path $ModuleOut -DestinationPath $zip
    $nupkgDir = Join-Path $OutDir 'nupkg'
    $null = New-Item -ItemType Directory -Force -Path $nupkgDir
    Get-ChildItem $nupkgDir -Filter *.nupkg | Remove-Item
    Compress-PSResource -Path $ModuleOut -DestinationPath $nupkgDir
    Write-Host "Packages: $zip; $((Get-ChildItem $nupkgDir -Filter *.nupkg).FullName)" -ForegroundColor Green
}

function Invoke-Demo {
    # The whole runbook on the sandbox, as a user types it; the sandbox is removed at the end.
    Invoke-Build
    Initialize-Sandbox
    & $PwshPath -NoProfile -File (Join-Path $Root 'examples/Demo-Runbook.ps1') -ModulePath (Join-Path $ModuleOut 'UpgradeOps.psd1')
    if ($LASTEXITCODE -ne 0) { throw "The demo failed with exit code $LASTEXITCODE" }
}

function Invoke-Clean {
    foreach ($path in @($OutDir) + (Get-ChildItem -Path (Join-Path $Root 'src'), (Join-Path $Root 'tests') -Directory -Recurse -Include bin, obj).FullName) {
        if ($path -and (Test-Path $path)) { Remove-Item $path -Recurse -Force }
    }
}

Push-Location $Root
try {
    foreach ($name in $Task) {
        switch ($name) {
            'Build' { Invoke-Build }
            'Test' { Invoke-Test }
            'Check' { Invoke-Check }
            'Package' { Invoke-Package }
            'Demo' { Invoke-Demo }
            'Sandbox' { Invoke-Sandbox }
            'SandboxDown' { Invoke-SandboxDown }
            'Clean' { Invoke-Clean }
        }
    }
}
finally {
    Pop-Location
}

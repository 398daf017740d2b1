# The Azure Automation package: build.ps1 -Task Package's zip, checked against what Azure Automation's module import
# requires (module folder named like the .psd1 at the zip root, no version folder, under 100 MB, every path under
# 140 characters), then unpacked and imported by name in a fresh pwsh, as Automation does. No sandbox.
BeforeAll {
    $script:root = $env:UPGRADEOPS_ROOT
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $version = (Import-PowerShellDataFile (Join-Path $root 'UpgradeOps.psd1')).ModuleVersion
    $script:zipPath = Join-Path $root "out/UpgradeOps-$version.zip"
    $built = Join-Path $root 'out/UpgradeOps/UpgradeOps.dll'

    # Use the zip when it was made from the current build; otherwise make it (a rebuild of the same sources).
    $fresh = (Test-Path $zipPath) -and (Test-Path $built) -and ((Get-Item $zipPath).LastWriteTimeUtc -ge (Get-Item $built).LastWriteTimeUtc)
    if (-not $fresh) {
        $output = & $pwsh -NoProfile -NonInteractive -File (Join-Path $root 'build.ps1') -Task Package 2>&1
        if ($LASTEXITCODE -ne 0) { throw "build.ps1 -Task Package failed:`n$($output -join "`n")" }
    }

    Add-Type -AssemblyName System.IO.Compression.FileSystem
    $zip = [System.IO.Compression.ZipFile]::OpenRead($zipPath)
    try { $script:entries = @($zip.Entries | ForEach-Object FullName) }
    finally { $zip.Dispose() }

    $script:unpacked = Join-Path $TestDrive 'modules'
    Expand-Archive -Path $zipPath -DestinationPath $unpacked
}

Describe 'Azure Automation package' -Tag 'Package' {
    It 'has the UpgradeOps folder at the zip root with UpgradeOps.psd1 in it, and no version folder' {
        $entries | Should -Contain 'UpgradeOps/UpgradeOps.psd1'
        $entries | Should -Contain 'UpgradeOps/UpgradeOps.dll'
        $entries | Should -Contain 'UpgradeOps/Dependencies/UpgradeOps.Engine.dll'
        $entries | Should -Contain 'UpgradeOps/en-US/about_UpgradeOps.help.txt'
        $entries | Should -Contain 'UpgradeOps/en-US/UpgradeOps.dll-Help.xml'
        ($entries | ForEach-Object { ($_ -split '[/\\]')[0] } | Sort-Object -Unique) | Should -Be 'UpgradeOps'
        $entries | Where-Object { $_ -match '^UpgradeOps/\d+\.\d+' } | Should -BeNullOrEmpty
        $entries | Where-Object { $_ -match '\\' } | Should -BeNullOrEmpty -Because 'zip entries use / as the separator'
    }

    It 'is under 100 MB' {
        (Get-Item $zipPath).Length | Should -BeLessThan 100MB
    }

    It 'keeps every path under 140 characters' {
        $entries | Where-Object { $_.Length -ge 140 } | Should -BeNullOrEmpty
    }

    It 'holds no build leftovers' {
        $entries | Where-Object { $_ -match '\.(deps\.json|nupkg)$|/obj/|/bin/' } | Should -BeNullOrEmpty
    }

    It 'imports by name from the unpacked zip in a fresh pwsh and plans an upgrade offline' {
        $script = @'
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$env:PSModulePath = '{0}' + [IO.Path]::PathSeparator + $env:PSModulePath
Import-Module UpgradeOps
$module = Get-Module UpgradeOps
$path = Test-UpgradePath -From 1.6.4 -To 1.7.6 -AvailableVersion 1.6.4, 1.7.0, 1.7.6
[pscustomobject]@{ ModuleBase = $module.ModuleBase; Commands = $module.ExportedCmdlets.Count; Supported = $path.IsSupported; Route = $path.Route } |
    ConvertTo-Json -Compress
'@ -replace '\{0\}', ($unpacked -replace "'", "''")
        $output = & $pwsh -NoProfile -NonInteractive -Command $script 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $result = ($output | Select-Object -Last 1) | ConvertFrom-Json
        $result.ModuleBase | Should -Be (Join-Path $unpacked 'UpgradeOps')
        # Every cmdlet the manifest exports, and only those.
        $result.Commands | Should -Be (Import-PowerShellDataFile (Join-Path $env:UPGRADEOPS_ROOT 'UpgradeOps.psd1')).CmdletsToExport.Count
        $result.Supported | Should -BeTrue
        $result.Route | Should -Be '1.6.4 → 1.7.6'
    }
}

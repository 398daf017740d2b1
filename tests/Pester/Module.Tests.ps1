# Module hygiene: stands in for PSScriptAnalyzer, which is not available here.
BeforeDiscovery {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    $script:cmdlets = Get-Command -Module UpgradeOps | ForEach-Object { @{ Name = $_.Name; Command = $_ } }
}

BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    $script:moduleBase = Split-Path $env:UPGRADEOPS_MODULE
}

Describe 'Module manifest' -Tag 'Module' {
    It 'passes Test-ModuleManifest' {
        { Test-ModuleManifest -Path $env:UPGRADEOPS_MODULE -ErrorAction Stop } | Should -Not -Throw
    }

    It 'declares what the design card asks for' {
        $manifest = Import-PowerShellDataFile $env:UPGRADEOPS_MODULE
        $manifest.RootModule | Should -Be 'UpgradeOps.dll'
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $manifest.PowerShellVersion | Should -Be '7.4'
        $manifest.FunctionsToExport.Count | Should -Be 0
        $manifest.VariablesToExport.Count | Should -Be 0
        $manifest.AliasesToExport.Count | Should -Be 0
        $manifest.CmdletsToExport | Should -Not -Contain '*'
        $manifest.PrivateData.PSData.Tags | Should -Contain 'Upgrade'
        $manifest.PrivateData.PSData.ProjectUri | Should -Not -BeNullOrEmpty
        # The notes themselves, or (when long, since every import parses them) a pointer to the CHANGELOG.md shipped beside the manifest.
        $manifest.PrivateData.PSData.ReleaseNotes | Should -Match 'Test-UpgradePath|CHANGELOG\.md'
        $manifest.PrivateData.PSData.ReleaseNotes.Length | Should -BeLessOrEqual 4000
        Join-Path (Split-Path $env:UPGRADEOPS_MODULE) 'CHANGELOG.md' | Should -FileContentMatch 'Test-UpgradePath'
    }

    It 'exports exactly the cmdlets it lists' {
        $manifest = Import-PowerShellDataFile $env:UPGRADEOPS_MODULE
        (Get-Command -Module UpgradeOps).Name | Sort-Object | Should -Be ($manifest.CmdletsToExport | Sort-Object)
    }

    It 'has the version of the repository manifest' {
        $source = Import-PowerShellDataFile (Join-Path $env:UPGRADEOPS_ROOT 'UpgradeOps.psd1')
        (Get-Module UpgradeOps).Version | Should -Be ([version]$source.ModuleVersion)
        $engine = Get-Item (Join-Path $moduleBase 'Dependencies/UpgradeOps.Engine.dll')
        $engine.VersionInfo.FileVersion | Should -BeLike "$($source.ModuleVersion)*"
    }
}

Describe 'Module layout' -Tag 'Module' {
    It 'keeps the cmdlets at the root and every other assembly in Dependencies' {
        (Get-ChildItem $moduleBase -Filter *.dll).Name | Sort-Object | Should -Be @('UpgradeOps.dll', 'UpgradeOps.Loader.dll')
        foreach ($name in 'UpgradeOps.Engine', 'YamlDotNet', 'KubernetesClient', 'Npgsql', 'Markdig', 'Semver', 'Docker.DotNet', 'Microsoft.Extensions.Logging.Abstractions') {
            Join-Path $moduleBase "Dependencies/$name.dll" | Should -Exist
        }
    }

    It 'loads the engine into its own load context' {
        $null = Test-UpgradePath -From 1.0.0 -To 1.0.1
        $engine = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'UpgradeOps.Engine'
        $engine | Should -Not -BeNullOrEmpty
        $engine.Assemblies.GetName().Name | Should -Contain 'UpgradeOps.Engine'
        [System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies.GetName().Name | Should -Not -Contain 'UpgradeOps.Engine'
    }

    It 'does not load the engine at Import-Module, only when a cmdlet first runs' {
        # Loading it (and the first use of the load context) was a large part of what importing cost.
        $script = "Import-Module '$env:UPGRADEOPS_MODULE'; 'imported=' + ([AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -join ','); " +
            "`$null = Test-UpgradePath -From 1.0.0 -To 1.0.1; 'ran=' + ([AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -join ',')"
        # A cache folder of its own: pwsh replays a startup JIT profile (StartupProfileData-NonInteractive) that the
        # machine's last non-interactive pwsh wrote, loading on a background thread what that process used. The other
        # tests' pwsh processes write it, so without this the assemblies loaded "at import" depend on which ran last.
        $savedCache = $env:XDG_CACHE_HOME
        $env:XDG_CACHE_HOME = Join-Path $TestDrive 'cold-cache'
        try { $loaded = & (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')) -NoProfile -NonInteractive -Command $script }
        finally { $env:XDG_CACHE_HOME = $savedCache }
        $LASTEXITCODE | Should -Be 0
        (($loaded -match '^imported=') -replace '^imported=') -split ',' | Should -Not -Contain 'UpgradeOps.Engine'
        (($loaded -match '^ran=') -replace '^ran=') -split ',' | Should -Contain 'UpgradeOps.Engine'
    }

    It 'does not load Docker, Kubernetes or Npgsql until a cmdlet needs them' {
        $script = "Import-Module '$env:UPGRADEOPS_MODULE'; `$null = Test-UpgradePath -From 1.0.0 -To 1.0.1; " +
            "[AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -join ','"
        $loaded = & (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')) -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be 0
        $loaded | Should -Not -Match 'Docker\.DotNet|KubernetesClient|Npgsql'
    }
}

Describe '<Name>' -Tag 'Module' -ForEach $cmdlets {
    It 'uses an approved verb' {
        (Get-Verb).Verb | Should -Contain $Command.Verb
    }

    It 'declares its output type' {
        $Command.OutputType | Should -Not -BeNullOrEmpty
    }

    It 'has a default view for its output type' {
        foreach ($type in $Command.OutputType) {
            Get-FormatData -TypeName $type.Name | Should -Not -BeNullOrEmpty -Because "$($type.Name) needs a default view"
        }
    }

    # Read-only cmdlets never prompt; anything that changes state (or writes a file with -OutFile) supports -WhatIf,
    # -Confirm and -Force.
    It 'supports ShouldProcess exactly when it changes state' {
        $changesState = $Command.Verb -notin 'Get', 'Test' -or $Command.Parameters.ContainsKey('OutFile')
        if ($changesState) {
            $Command.Parameters.Keys | Should -Contain 'WhatIf'
            $Command.Parameters.Keys | Should -Contain 'Force'
        }
        else {
            $Command.Parameters.Keys | Should -Not -Contain 'WhatIf'
        }
    }
}

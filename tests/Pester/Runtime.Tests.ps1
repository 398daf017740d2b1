# The manifest says PowerShell 7.4, which runs on .NET 8. No PowerShell 7.4 and no .NET 8 runtime can be had on this machine
# (NuGet serves the PowerShell tool from 7.6.9 on; only the .NET 10 runtime is installed), so the module is run on 7.6 over
# .NET 10 only. What can be proven here is that nothing it ships needs more than 7.4's runtime: every assembly targets
# .NET 8 or older, references framework assemblies of 8.0 or older, and the cmdlets compile against PowerShellStandard 5.1.
BeforeDiscovery {
    $moduleBase = Split-Path $env:UPGRADEOPS_MODULE
    $script:assemblies = Get-ChildItem $moduleBase -Recurse -Filter '*.dll' | ForEach-Object { @{ Name = $_.Name; Path = $_.FullName } }
}

BeforeAll {
    $script:moduleBase = Split-Path $env:UPGRADEOPS_MODULE
    $script:shipped = @(Get-ChildItem $moduleBase -Recurse -Filter '*.dll' | ForEach-Object BaseName)

    # The assembly's TargetFrameworkAttribute and references, read from its metadata without loading it.
    function Get-AssemblyFacts([string] $Path) {
        $stream = [IO.File]::OpenRead($Path)
        try {
            $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            $reader = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            $references = foreach ($handle in $reader.AssemblyReferences) {
                $reference = $reader.GetAssemblyReference($handle)
                [pscustomobject]@{ Name = $reader.GetString($reference.Name); Version = $reference.Version }
            }
            $framework = foreach ($handle in $reader.CustomAttributes) {
                $attribute = $reader.GetCustomAttribute($handle)
                if ($attribute.Constructor.Kind -ne 'MemberReference') { continue }
                $constructor = $reader.GetMemberReference($attribute.Constructor)
                if ($constructor.Parent.Kind -ne 'TypeReference') { continue }
                if ($reader.GetString($reader.GetTypeReference($constructor.Parent).Name) -ne 'TargetFrameworkAttribute') { continue }
                $blob = $reader.GetBlobReader($attribute.Value)
                $null = $blob.ReadUInt16()   # the custom attribute prolog
                $blob.ReadSerializedString()
            }
            [pscustomobject]@{ Framework = @($framework)[0]; References = @($references) }
        }
        finally { $stream.Dispose() }
    }
}

Describe 'The runtime the manifest claims (PowerShell 7.4 on .NET 8)' -Tag 'Module' {
    It '<Name> targets .NET 8 or older' -ForEach $assemblies {
        $facts = Get-AssemblyFacts $Path
        $facts.Framework | Should -Match '^\.NET(CoreApp,Version=v(?<v>\d+\.\d+)|Standard,Version=v2\.[01])$'
        if ($facts.Framework -match 'CoreApp,Version=v(?<v>\d+\.\d+)') { [version]$Matches.v | Should -BeLessOrEqual ([version]'8.0') }
    }

    It '<Name> references no framework assembly newer than .NET 8' -ForEach $assemblies {
        $newer = @((Get-AssemblyFacts $Path).References |
            Where-Object { $_.Name -match '^(System|Microsoft)\.' -and $_.Name -notin $shipped -and $_.Name -ne 'System.Management.Automation' -and $_.Version.Major -gt 8 } |
            ForEach-Object { "$($_.Name) $($_.Version)" })
        $newer | Should -BeNullOrEmpty
    }

    It 'the cmdlets compile against PowerShellStandard (System.Management.Automation 3.0), not a newer PowerShell' {
        foreach ($name in 'UpgradeOps.dll', 'UpgradeOps.Loader.dll') {
            $sma = (Get-AssemblyFacts (Join-Path $moduleBase $name)).References | Where-Object Name -eq 'System.Management.Automation'
            $sma.Version | Should -Be ([version]'3.0.0.0')
        }
    }
}

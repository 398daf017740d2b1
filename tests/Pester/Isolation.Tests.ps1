# UpgradeOps must import and work in a session that already loaded other versions of the libraries it
# ships, and such libraries must still load and work after UpgradeOps. Each case runs in a fresh pwsh.
BeforeAll {
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $script:otherYaml = Join-Path $packages 'yamldotnet/16.3.0/lib/net8.0/YamlDotNet.dll'
    $script:pwsh = (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh'))

    # Loads YamlDotNet 16 into the default context and uses it; prints its version.
    $script:useOtherYaml = @"
Add-Type -Path '$otherYaml'
`$doc = [YamlDotNet.Serialization.DeserializerBuilder]::new().Build().Deserialize[object]("a: 1")
if (`$doc['a'] -ne '1') { throw 'YamlDotNet 16 did not work' }
'yaml16=' + [YamlDotNet.Serialization.Deserializer].Assembly.GetName().Version
"@
    # Uses Newtonsoft.Json (PowerShell's own copy, in the default context) through ConvertTo-Json and directly.
    $script:useNewtonsoft = @"
'newtonsoft=' + [Newtonsoft.Json.JsonConvert].Assembly.GetName().Version
'json=' + [Newtonsoft.Json.JsonConvert]::SerializeObject(@{ ok = 1 })
"@
    # Uses UpgradeOps: the built-in profile is YAML read by the engine's own YamlDotNet 18.
    $script:useUpgradeOps = @"
Import-Module '$env:UPGRADEOPS_MODULE'
`$path = Test-UpgradePath -From 1.5.2 -To 1.7.6 -AvailableVersion 1.6.3,1.7.6
'route=' + `$path.Route
'pathjson=' + (`$path | ConvertTo-Json -Depth 3 -Compress).Length
`$engineYaml = ([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'UpgradeOps.Engine').Assemblies |
    Where-Object { `$_.GetName().Name -eq 'YamlDotNet' }
'engineyaml=' + `$engineYaml.GetName().Version
'notes=' + @(Get-UpgradeReleaseNote -Path '$env:UPGRADEOPS_ROOT/tests/Pester/Fixtures/CHANGELOG.md' -From 1.7.0 -To 1.7.6).Count
"@

    function Invoke-Fresh([string] $Script) {
        $output = & $pwsh -NoProfile -NonInteractive -Command "`$ErrorActionPreference = 'Stop'; $Script" 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $output -join "`n"
    }
}

Describe 'Dependency isolation' -Tag 'Isolation' {
    It 'works after YamlDotNet 16 and Newtonsoft.Json were loaded into the default context' {
        $output = Invoke-Fresh ($useOtherYaml + "`n" + $useNewtonsoft + "`n" + $useUpgradeOps + "`n" + $useOtherYaml)
        $output | Should -Match 'yaml16=16\.0\.0\.0'
        $output | Should -Match 'json=\{"ok":1\}'
        $output | Should -Match 'route=1\.5\.2 → 1\.6\.3 → 1\.7\.6'
        $output | Should -Match 'engineyaml=18\.'
        $output | Should -Match 'notes=2'
    }

    It 'leaves YamlDotNet 16 and Newtonsoft.Json loadable and working when imported first' {
        $output = Invoke-Fresh ($useUpgradeOps + "`n" + $useOtherYaml + "`n" + $useNewtonsoft + "`n" + $useUpgradeOps)
        $output | Should -Match 'yaml16=16\.0\.0\.0'
        $output | Should -Match 'json=\{"ok":1\}'
        $output | Should -Match 'engineyaml=18\.'
        $output | Should -Match 'route=1\.5\.2 → 1\.6\.3 → 1\.7\.6'
    }
}

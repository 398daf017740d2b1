# Convert-UpgradeConfiguration and the values migration inside Invoke-Upgrade, on the sandbox chart installed by the
# real helm v4 into the test API server (tests/KubeApiServer), plus Convert-UpgradeConfiguration on a Compose .env
# (no Docker needed: it only reads the compose file). Verified against the test server only, never a real cluster.
BeforeAll {
    # Saved first: if anything below fails, AfterAll still restores it and stops the test server.
    $script:savedDataHome = $env:XDG_DATA_HOME
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:helm = Get-Helm
    $script:server = Start-KubeTestServer
    $install = Invoke-TestHelm $server install cfg $chart -n config --create-namespace --wait --timeout 30s
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }
    # Journals of Helm releases live in the user's data folder: a folder of this test's own.
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
    function Get-Cfg { Get-UpgradeDeployment -Namespace config -Release cfg -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
    # -WhatIf writes to the host: the command runs in a fresh pwsh, where $d is the release.
    function Invoke-WhatIfCommand([string] $Command) { Invoke-KubeTestWhatIf $server config cfg $profilePath $Command }
    $script:valuesText = @"
# Production overrides for the sandbox release.
server:
  replicas: 2   # two API servers behind the service

cache:
  # The old name of the Redis host (before 1.7.6).
  address: 127.0.0.9
  port: 56379
"@ + "`n"
}
AfterAll {
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
}

Describe 'Convert-UpgradeConfiguration on a Helm release' -Tag 'Kubernetes', 'Helm' {
    BeforeEach {
        $script:values = Join-Path $TestDrive 'values-prod.yaml'
        [IO.File]::WriteAllText($values, $valuesText)
    }

    It 'shows the diff with -WhatIf and leaves the file byte-identical' {
        $before = [IO.File]::ReadAllBytes($values)
        $output = Invoke-WhatIfCommand "`$d | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile '$values' -WhatIf"
        $output | Should -Match 'What if'
        $output | Should -Match '\-  address: 127\.0\.0\.9'
        $output | Should -Match '\+  host: 127\.0\.0\.9'
        [IO.File]::ReadAllBytes($values) | Should -Be $before
        (Get-ChildItem (Split-Path $values)).Name | Should -Be 'values-prod.yaml'
    }

    It 'moves the old key to the new one, keeping the comments and the rest of the file' {
        $changes = Get-Cfg | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile $values -Force
        $changes.RuleId | Should -Be 'cache-host'
        $changes.Action | Should -Be 'Moved'
        $changes.MovedFrom | Should -Be 'cache.address'
        $changes.Applied | Should -BeTrue
        $changes.Diff | Should -Match '\+  host: 127\.0\.0\.9'
        $text = Get-Content -Raw $values
        $text | Should -BeLike "# Production overrides for the sandbox release.`nserver:`n  replicas: 2   # two API servers behind the service`n`ncache:`n  port: 56379`n*"
        $text | Should -Match '(?m)^  # The old name of the Redis host \(before 1\.7\.6\)\.\n  host: 127\.0\.0\.9$'
        $text | Should -Not -Match 'address'

        $again = Get-Cfg | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile $values -Force
        $again.Action | Should -Be 'AlreadySet'
        Get-Content -Raw $values | Should -Be $text
    }

    It 'takes the deployment and the version from an upgrade path, and masks a given value' {
        [IO.File]::WriteAllText($values, "server:`n  replicas: 2`n")
        $changes = Get-Cfg | Test-UpgradePath -To 1.7.6 | Convert-UpgradeConfiguration -ValuesFile $values -ConfigurationValue @{ 'cache.host' = 'redis-secret-host' } -Confirm:$false
        $changes.Action | Should -Be 'Added'
        $changes.Diff | Should -Match '\+  host: \*\*\*'
        $changes.Diff | Should -Not -Match 'redis-secret-host'
        Get-Content -Raw $values | Should -Be "server:`n  replicas: 2`ncache:`n  host: `"redis-secret-host`"`n"
    }

    It 'needs -ValuesFile on a Helm release' {
        $err = { Get-Cfg | Convert-UpgradeConfiguration -To 1.7.6 -Force -ErrorAction Stop } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'ValuesFileRequired,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}

Describe 'Invoke-Upgrade applies the values migration on a Helm release' -Tag 'Kubernetes', 'Helm' {
    It 'shows the migration with -WhatIf and changes nothing' {
        $values = Join-Path $TestDrive 'values-whatif.yaml'
        [IO.File]::WriteAllText($values, $valuesText)
        $output = Invoke-WhatIfCommand "`$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart '$chart' -SkipBackup -HelmPath '$helm' -ValuesFile '$values' -WhatIf"
        $output | Should -Match 'configuration: cache-host: cache\.host Moved from cache\.address'
        $output | Should -Match "-f $([regex]::Escape($values))"
        Get-Content -Raw $values | Should -Be $valuesText
        (Get-Cfg).Revision | Should -Be 1
    }

    It 'upgrades 1.7.5 to 1.7.6 with the edited values file, journalled, and the release has the new key' {
        $values = Join-Path $TestDrive 'values-upgrade.yaml'
        [IO.File]::WriteAllText($values, $valuesText)
        $result = Get-Cfg | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -SkipBackup -HelmPath $helm -ValuesFile $values -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        $result.Steps.Name | Should -Be @('configuration', 'helm upgrade', 'rollout', 'verify release')
        ($result.Steps | Where-Object Name -eq 'configuration').Detail | Should -Match 'cache\.host: Moved from cache\.address'
        (Get-Content -Raw $result.JournalPath | ConvertFrom-Json).addedVariables | Should -Be 'cache.host'
        Get-Content -Raw $values | Should -Match '(?m)^  host: 127\.0\.0\.9$'
        (Get-Cfg).Version | Should -Be '1.7.6'
        $got = Invoke-TestHelm $server get values cfg -n config -o json
        $got.ExitCode | Should -Be 0 -Because $got.Error
        ($got.Output | ConvertFrom-Json).cache.host | Should -Be '127.0.0.9'
        $manifest = Invoke-TestHelm $server get manifest cfg -n config
        ($manifest.Output -join "`n") | Should -Match 'APP_CACHE_HOST: "127\.0\.0\.9"'
    }

    It 'stops before anything changes when a rule has no value' {
        $strict = Join-Path $TestDrive 'strict-profile.yml'
        # The sandbox rule, moved to 1.7.7 and without a default, on a key the release does not have yet.
        (Get-Content -Raw $profilePath) -replace '    defaultValue: 127\.0\.0\.1\r?\n', '' -replace 'appVersion: 1\.7\.6(\r?\n    )requiresValuesKey: cache\.host', 'appVersion: 1.7.7$1requiresValuesKey: cache.password' |
            Set-Content $strict
        $values = Join-Path $TestDrive 'values-empty.yaml'
        [IO.File]::WriteAllText($values, "server:`n  replicas: 2`n")
        $d = Get-UpgradeDeployment -Namespace config -Release cfg -Kubeconfig $server.KubeconfigPath -Profile $strict -WarningAction SilentlyContinue
        $revision = $d.Revision
        $err = $null
        try { Invoke-Upgrade -Deployment $d -To 1.7.7 -AvailableVersion 1.7.7 -Chart $chart -SkipBackup -HelmPath $helm -ValuesFile $values -Force -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ConfigurationValueRequired,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.TargetObject | Should -Be $values
        $err.Exception.Message | Should -Match "-ConfigurationValue @\{ 'cache.password' = '\.\.\.' \}"
        Get-Content -Raw $values | Should -Be "server:`n  replicas: 2`n"
        (Get-Cfg).Revision | Should -Be $revision
    }
}

Describe 'Convert-UpgradeConfiguration on a Compose deployment' -Tag 'Compose' {
    BeforeAll {
        $script:composeDir = Join-Path $TestDrive 'compose'
        $null = New-Item -ItemType Directory $composeDir
        Set-Content (Join-Path $composeDir 'docker-compose.yml') "services:`n  server:`n    image: 127.0.0.1:5000/upgradeops/sandbox:`${VERSION:-1.9.0}`n    network_mode: host`n"
        $script:envFile = Join-Path $composeDir '.env'
        # Engine types live in the module's own load context: the deployment is built from the engine assembly.
        $type = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.Deployment')
        $script:compose = [Activator]::CreateInstance($type)
        $compose.Name = 'sbx'; $compose.Platform = 'Compose'; $compose.Profile = $profilePath
        $compose.Version = '1.9.0'; $compose.Location = Join-Path $composeDir 'docker-compose.yml'
    }

    It 'adds the generated secret to .env, masked in the diff, and -WhatIf writes nothing' {
        [IO.File]::WriteAllText($envFile, "# versions`nVERSION=1.9.0`n")
        $compose | Convert-UpgradeConfiguration -To 2.0.0 -WhatIf | Should -BeNullOrEmpty
        Get-Content -Raw $envFile | Should -Be "# versions`nVERSION=1.9.0`n"

        $change = $compose | Convert-UpgradeConfiguration -To 2.0.0 -Force
        $change.Setting | Should -Be 'APP_SIGNING_KEY'
        $change.Action | Should -Be 'Added'
        $change.Diff | Should -Match '\+APP_SIGNING_KEY=\*\*\*'
        Get-Content -Raw $envFile | Should -Match "^# versions`nVERSION=1\.9\.0`nAPP_SIGNING_KEY=[0-9a-f]{64}`n$"
        ($compose | Convert-UpgradeConfiguration -To 2.0.0 -Force).Action | Should -Be 'AlreadySet'
    }
}

# Test-UpgradePath with chart versions (the profile's version.helmCharts) and Invoke-Upgrade installing each hop's chart
# version, on the sandbox chart installed by the real helm v4 into the test API server (tests/KubeApiServer). Newer chart
# versions are copies of the sandbox chart with another version in Chart.yaml, served as a chart repository by an
# HttpListener of this test's own (in this process, on a free port in 56700-56799). Verified against the test server only,
# never a real cluster or a public chart repository.
BeforeAll {
    # Saved first: if anything below fails, AfterAll still restores it and stops the test server.
    $script:savedDataHome = $env:XDG_DATA_HOME
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:helm = Get-Helm
    $script:server = Start-KubeTestServer
    # Installed at 1.6.4 (image.tag), so that paths to 1.8.0 have two hops.
    $install = Invoke-TestHelm $server install sbx $chart -n charts --create-namespace --wait --timeout 30s --set image.tag=1.6.4
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }

    # Chart 0.4.0 ships 1.7.6 and chart 1.0.0 (a new chart major) ships 1.8.0; from 1.0.0 on a values key is required.
    function New-ChartVersion([string] $Version, [string] $AppVersion) {
        $copy = Join-Path $TestDrive "chart-$Version"
        Copy-Item -Recurse $chart $copy
        $file = Join-Path $copy 'Chart.yaml'
        (Get-Content -Raw $file) -replace '(?m)^version: .*$', "version: $Version" -replace '(?m)^appVersion: .*$', "appVersion: `"$AppVersion`"" |
            Set-Content -NoNewline $file
        $copy
    }
    $script:chart040 = New-ChartVersion 0.4.0 1.7.6
    $script:chart100 = New-ChartVersion 1.0.0 1.8.0
    $charts = @'
  helmCharts:
    - version: 0.3.0
      appVersion: 1.7.5
      appVersionRange: ">=1.6.4 <1.7.6"
    - version: 0.4.0
      appVersion: 1.7.6
    - version: 1.0.0
      appVersion: 1.8.0
'@
    $rule = @'
  - id: cache-ttl
    description: Chart 1.0.0 and later read the cache TTL from cache.ttlSeconds.
    chartVersion: 1.0.0
    requiresValuesKey: cache.ttlSeconds
    defaultValue: "300"

'@
    $sandbox = Get-Content -Raw $profilePath
    $script:chartedProfile = Join-Path $TestDrive 'charted.yml'
    $sandbox -replace '(?s)  helmCharts:\n.*?(?=\n\S)', $charts.TrimEnd() -replace '(?m)^(# Invoke-UpgradeRehearsal)', "$rule`$1" |
        Set-Content $chartedProfile
    # The profile as it was before version.helmCharts: Invoke-Upgrade must behave as it did.
    $script:unmappedProfile = Join-Path $TestDrive 'unmapped.yml'
    $sandbox -replace '(?s)  helmCharts:\n.*?(?=\n\S)', '' | Set-Content $unmappedProfile

    function Get-Sbx([string] $Profile = $profilePath) {
        Get-UpgradeDeployment -Namespace charts -Release sbx -Kubeconfig $server.KubeconfigPath -Profile $Profile -WarningAction SilentlyContinue
    }
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    # -WhatIf writes to the host: the commands run in a fresh pwsh, where $d is the release.
    function Invoke-WhatIf([string] $Profile, [string] $Command) { Invoke-KubeTestWhatIf $server charts sbx $Profile $Command }
    # Journals of Helm releases live in the user's data folder: a folder of this test's own.
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
}
AfterAll {
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
}

Describe 'Test-UpgradePath on a Helm release with chart versions' -Tag 'Kubernetes', 'Helm', 'Planning' {
    It 'gives every hop the chart version it installs, shown in the default views' {
        $path = Get-Sbx | Test-UpgradePath -To 2.0.0
        $path.IsSupported | Should -BeTrue
        $path.Route | Should -Be '1.6.4 → 1.7.6 → 1.8.0 → 2.0.0'
        $path.Steps.ToChartVersion | Should -Be @('0.3.0', '0.3.0', '0.3.0')
        $path.Steps[0].FromChartVersion | Should -Be '0.3.0'
        $path.FromChartVersion | Should -Be '0.3.0'
        $path.ToChartVersion | Should -Be '0.3.0'
        $path.ChartRoute | Should -Be '0.3.0'
        ($path | Format-Table | Out-String -Width 200) | Should -Match '1\.6\.4 → 1\.7\.6 → 1\.8\.0 → 2\.0\.0 \(chart 0\.3\.0\)'
        $steps = $path.Steps | Format-Table | Out-String -Width 200
        $steps | Should -Match '\bChart\b'
        $steps | Should -Match '1\.8\.0\s+2\.0\.0\s+Major\s+True\s+\S+ min\s+0\.3\.0'
    }

    It 'takes the target as a chart version: the app version that chart ships' {
        $path = Get-Sbx | Test-UpgradePath -ToChartVersion 0.3.0
        $path.IsSupported | Should -BeTrue
        $path.To | Should -Be '1.7.5'
        $path.Route | Should -Be '1.6.4 → 1.7.5'
        $path.Steps.ToChartVersion | Should -Be '0.3.0'
        $path.ToChartVersion | Should -Be '0.3.0'
    }

    It 'refuses a chart version the profile does not list, saying what to do' {
        $err = Get-ErrorFrom { Get-Sbx | Test-UpgradePath -ToChartVersion 0.9.9 -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ChartVersionNotMapped,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be '0.9.9'
        $err.Exception.Message | Should -Match "version\.helmCharts of profile 'upgradeops-sandbox'.*Give the app version with -To"
    }

    It 'plans the newest chart of each hop and warns of a chart major and the values it requires' {
        $path = Get-Sbx $chartedProfile | Test-UpgradePath -To 1.8.0 -WarningVariable warnings -WarningAction SilentlyContinue
        $path.Route | Should -Be '1.6.4 → 1.7.6 → 1.8.0'
        $path.Steps.ToChartVersion | Should -Be @('0.4.0', '1.0.0')
        $path.ChartRoute | Should -Be '0.3.0 → 0.4.0 → 1.0.0'
        $path.Steps[0].ChartNotes | Should -BeNullOrEmpty
        $path.Steps[1].ChartNotes[0] | Should -Match 'Chart 0\.4\.0 → 1\.0\.0 is a new chart major version'
        $path.Steps[1].ChartNotes[1] | Should -Match 'cache-ttl.*cache\.ttlSeconds'
        $warnings.Count | Should -Be 1
        "$($warnings[0])" | Should -Match '^Hop 1\.7\.6 → 1\.8\.0 \(chart 0\.4\.0 → 1\.0\.0\): '
        ($path.Steps | Format-Table | Out-String -Width 200) | Should -Match '0\.4\.0 → 1\.0\.0\s+2\b'
    }

    It 'goes to the app version a target chart ships' {
        $path = Get-Sbx $chartedProfile | Test-UpgradePath -ToChartVersion 0.4.0
        $path.To | Should -Be '1.7.6'
        $path.Route | Should -Be '1.6.4 → 1.7.6'
        $path.Steps.ToChartVersion | Should -Be '0.4.0'
    }

    It 'refuses a hop whose app version no listed chart installs' {
        $err = Get-ErrorFrom { Get-Sbx $chartedProfile | Test-UpgradePath -To 2.0.0 -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'NoChartForVersion,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be '2.0.0'
        $err.Exception.Message | Should -Match 'hop 1\.8\.0 → 2\.0\.0.*Add the chart version that ships 2\.0\.0'
    }

    It 'plans without a release too: chart versions only for a target chart' {
        (Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile $chartedProfile).Steps.ToChartVersion | Should -BeNullOrEmpty
        $path = Test-UpgradePath -From 1.7.5 -ToChartVersion 0.4.0 -Profile $chartedProfile
        $path.To | Should -Be '1.7.6'
        $path.Steps.ToChartVersion | Should -Be '0.4.0'
    }
}

Describe 'Invoke-Upgrade installs the chart version of each hop' -Tag 'Kubernetes', 'Helm' {
    It 'refuses a local chart of another version than the hop''s, before anything changes' {
        $err = Get-ErrorFrom { Get-Sbx $chartedProfile | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -SkipBackup -HelmPath $helm -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ChartVersionMismatch,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -Match 'installs chart 0\.4\.0.*is version 0\.3\.0.*Nothing was changed'
        (Get-Sbx).Revision | Should -Be 1
    }

    It 'shows each hop''s chart version in -WhatIf, and no --version without a chart map' {
        $output = Invoke-WhatIf $chartedProfile "`$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart '$chart040' -SkipBackup -HelmPath '$helm' -WhatIf"
        $output | Should -Match "helm upgrade sbx $([regex]::Escape($chart040)) -n charts .*--version 0\.4\.0 .*--set image\.tag=1\.7\.6"
        $output = Invoke-WhatIf $unmappedProfile "`$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart '$chart' -SkipBackup -HelmPath '$helm' -WhatIf"
        $output | Should -Match 'helm upgrade sbx .* --set image\.tag=1\.7\.6'
        $output | Should -Not -Match '--version'
        (Get-Sbx).Revision | Should -Be 1
    }

    It 'warns when -ChartVersion replaces the chart versions of the path' {
        $null = Get-Sbx $chartedProfile | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -ChartVersion 0.3.0 -SkipBackup -HelmPath $helm -WhatIf `
            -WarningVariable warnings -WarningAction SilentlyContinue
        "$warnings" | Should -Be '-ChartVersion 0.3.0 replaces the chart version the path gives hop 1.6.4 → 1.7.6 (0.4.0).'
        (Get-Sbx).Revision | Should -Be 1
    }

    It 'upgrades from a chart repository, each hop with its chart version and the values its chart requires' {
        # A chart repository with the three chart versions, and helm's repository settings of the test server's own.
        $repository = Start-KubeTestChartRepository $server -Chart $chart, $chart040, $chart100 -Folder (Join-Path $TestDrive 'repo') -Name sbxrepo
        $saved = @{}
        try {
            foreach ($e in $server.Environment.GetEnumerator()) { $saved[$e.Key] = [Environment]::GetEnvironmentVariable($e.Key); Set-Item "env:$($e.Key)" $e.Value }

            $results = Get-Sbx $chartedProfile | Test-UpgradePath -To 1.8.0 -WarningAction SilentlyContinue |
                Invoke-Upgrade -Chart sbxrepo/upgradeops-sandbox -SkipBackup -HelmPath $helm -Force
            $results.Status | Should -Be @('Succeeded', 'Succeeded') -Because "$($results.Error)"
            $results[0].Steps.Name | Should -Contain 'repo update'
            ($results[0].Steps | Where-Object Name -eq 'verify release').Detail | Should -Match 'chart upgradeops-sandbox 0\.4\.0, app 1\.7\.6'
            ($results[1].Steps | Where-Object Name -eq 'verify release').Detail | Should -Match 'chart upgradeops-sandbox 1\.0\.0, app 1\.8\.0'
            ($results[1].Steps | Where-Object Name -eq 'configuration').Detail | Should -Match 'cache\.ttlSeconds: Added'
            $d = Get-Sbx $chartedProfile
            $d.ChartVersion | Should -Be '1.0.0'
            $d.Version | Should -Be '1.8.0'
            "$(((Invoke-TestHelm $server get values sbx -n charts -o json).Output | ConvertFrom-Json).cache.ttlSeconds)" | Should -Be '300'
            (Get-Sbx $chartedProfile | Test-UpgradePath -ToChartVersion 1.0.0).Reason | Should -Be 'Already at 1.8.0 with chart 1.0.0: nothing to upgrade.'
        }
        finally {
            foreach ($e in $saved.GetEnumerator()) {
                if ($null -eq $e.Value) { Remove-Item "env:$($e.Key)" -ErrorAction SilentlyContinue } else { Set-Item "env:$($e.Key)" $e.Value }
            }
            $repository | Stop-KubeTestChartRepository
        }
    }
}

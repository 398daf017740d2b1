# The built-in profile's Helm knowledge checked against the real opsmill/infrahub-helm chart it names: the corpus copy of
# chart 4.1.13 (shared/corpus/infrahub-helm/chart-4.1.13 beside the checkout, read there, copied only into TestDrive) rendered with the
# real helm binary (`helm template`, no cluster). Its subcharts (neo4j, redis, rabbitmq, nats, prefect-server, common)
# are not in the corpus: our stand-ins of the same name and version (tests/Sandbox/infrahub-helm-subcharts, Copy-InfrahubChart)
# let helm render the whole chart; these checks read the chart's own templates (it includes no subchart template).
# Skipped where the corpus is not on the machine.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    $script:corpusMissing = -not (Find-SharedCorpus 'infrahub-helm/chart-4.1.13/Chart.yaml')
}
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    $script:helm = Get-Helm
    foreach ($name in 'HELM_CONFIG_HOME', 'HELM_CACHE_HOME', 'HELM_DATA_HOME') { Set-Item "env:$name" (Join-Path $TestDrive $name) }

    $script:chart = Copy-InfrahubChart (Join-Path $TestDrive 'infrahub')
    $chartYaml = Get-Content -Raw (Join-Path $chart 'Chart.yaml')
    $script:chartVersion = [regex]::Match($chartYaml, '(?m)^version:\s*"?([^"\s]+)').Groups[1].Value
    $script:appVersion = [regex]::Match($chartYaml, '(?m)^appVersion:\s*"?([^"\s]+)').Groups[1].Value

    # The manifests helm renders for release 'infrahub' with the given --set arguments.
    # A dotted key and its value go in a values file, as Invoke-Upgrade writes a rule's default (--set would parse braces).
    function Invoke-Render([string[]] $Set = @()) {
        $arguments = @('template', 'infrahub', $chart, '-n', 'infrahub')
        foreach ($pair in $Set) {
            $key, $value = $pair -split '=', 2
            $parts = $key -split '\.'
            $yaml = for ($i = 0; $i -lt $parts.Count; $i++) {
                ('  ' * $i) + $parts[$i] + ':' + $(if ($i -eq $parts.Count - 1) { " '" + $value.Replace("'", "''") + "'" })
            }
            $file = Join-Path $TestDrive "values-$([guid]::NewGuid()).yaml"
            $yaml -join "`n" | Set-Content $file
            $arguments += '-f', $file
        }
        $output = & $helm @arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "helm template failed: $output" }
        $output -join "`n"
    }

    # What is wrong with a configuration rule on this chart version: a values key the chart fills itself (the env
    # variable it names is already rendered without it), or a default that reaches the manifests as a literal template.
    function Get-RuleProblem($Rule, [string] $Manifest) {
        $key = $Rule.RequiresValuesKey
        if (-not $key) { return }
        $variable = if ($key -match '\.env\.([A-Za-z_][A-Za-z0-9_]*)$') { $Matches[1] }
        if ($variable -and $Manifest -match "(?m)^\s*- name: $variable\s*$") {
            "$($Rule.Id): the chart already sets $variable itself; requiring $key overrides it"
        }
        if ($Rule.DefaultValue) {
            $rendered = Invoke-Render -Set "$key=$($Rule.DefaultValue)"
            if ($rendered.Contains($Rule.DefaultValue) -and $Rule.DefaultValue -match '\{\{') {
                "$($Rule.Id): the default '$($Rule.DefaultValue)' reaches the rendered manifests literally"
            }
        }
    }

    $script:default = Invoke-Render
    # The profile as the module loads it: the engine lives in the module's own load context, so by reflection.
    $engine = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'UpgradeOps.Engine' } | Select-Object -First 1
    $script:profile = $engine.GetType('UpgradeOps.Profiles.ProfileLoader').GetMethod('Load').Invoke($null, @('infrahub'))
}

Describe 'The built-in infrahub profile against the real chart 4.1.13' -Tag 'Helm' -Skip:$corpusMissing {
    It 'has no configuration rule the rendered chart contradicts' {
        $chartSemver = [version] $chartVersion
        $rules = @($profile.ConfigurationRules | Where-Object { -not $_.ChartVersion -or [version] $_.ChartVersion -le $chartSemver })
        $problems = @(foreach ($rule in $rules) { Get-RuleProblem $rule $default })
        $problems | Should -BeNullOrEmpty
    }

    It 'the check catches the former helm-redis-host rule on both counts' {
        $old = [pscustomobject]@{ Id = 'helm-redis-host'; RequiresValuesKey = 'infrahubServer.infrahubServer.env.INFRAHUB_CACHE_ADDRESS'
            DefaultValue = '{{ .Release.Name }}-redis-master' }
        $problems = @(Get-RuleProblem $old $default)
        $problems.Count | Should -Be 2
        $problems[0] | Should -Match 'already sets INFRAHUB_CACHE_ADDRESS'
        $problems[1] | Should -Match 'literally'
        # What the chart sets instead: FULLNAME-cache-master (templates/_env.tpl).
        $default | Should -Match 'value: "infrahub-cache-master"'
    }

    It 'reads and sets the image tag through global.infrahubTag (default: the chart''s appVersion)' {
        $profile.Version.HelmValuesKey | Should -Be 'global.infrahubTag'
        $images = [regex]::Matches($default, '(?m)^\s*image: \S*opsmill/infrahub:(\S+)') | ForEach-Object { $_.Groups[1].Value }
        $images.Count | Should -BeGreaterOrEqual 2   # the server and the task worker
        $images | Sort-Object -Unique | Should -Be $appVersion
        $bumped = Invoke-Render -Set "$($profile.Version.HelmValuesKey)=1.1.9"
        $tags = [regex]::Matches($bumped, '(?m)^\s*image: \S*opsmill/infrahub:(\S+)') | ForEach-Object { $_.Groups[1].Value }
        $tags | Sort-Object -Unique | Should -Be '1.1.9'
    }
}

# The built-in infrahub profile maps every component of the real opsmill/infrahub-helm chart by the chart's own labels.
# The corpus copy of chart 4.1.13 (shared/corpus/infrahub-helm/chart-4.1.13 beside the checkout, copied only into
# TestDrive), its templates unchanged, with our stand-in subcharts (tests/Sandbox/infrahub-helm-subcharts, what differs
# in its README) in its charts/ folder, installed by the real helm into the test API server (tests/KubeApiServer, no
# containers: the workloads are API objects only), then read back by Get-UpgradeDeployment with the built-in profile:
# the same role mapping Invoke-Upgrade, the backups and the rollout watch use. Skipped where the corpus is not on the machine.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    $script:corpusMissing = -not (Find-SharedCorpus 'infrahub-helm/chart-4.1.13/Chart.yaml')
}
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    $script:chart = Copy-InfrahubChart (Join-Path $TestDrive 'infrahub')
    $script:server = Start-KubeTestServer

    # Each component: the workload the chart (or its subchart) names, for release RELEASE and the parent chart's FULLNAME.
    function Get-Expected([string] $Release, [string] $Fullname) {
        [ordered]@{
            "$Fullname-infrahub-server"      = 'Api'
            "$Fullname-infrahub-task-worker" = 'Worker'
            "$Release-database"              = 'Database'      # neo4j, nameOverride database
            "$Release-cache-master"          = 'Cache'         # redis, nameOverride cache
            "$Release-message-queue"         = 'Queue'         # rabbitmq, nameOverride message-queue
            'prefect-server'                 = 'TaskManager'   # prefect-server's own fullnameOverride
            "$Release-postgresql"            = 'Database'      # prefect-server's postgresql
        }
    }
    function Install-Infrahub([string] $Namespace, [string] $Release, [string[]] $Set = @()) {
        $arguments = @('install', $Release, $chart, '-n', $Namespace, '--create-namespace')
        foreach ($pair in $Set) { $arguments += '--set', $pair }
        $install = Invoke-TestHelm $server @arguments
        if ($install.ExitCode -ne 0) { throw "helm install $Release failed: $($install.Error)" }
        Get-UpgradeDeployment -Namespace $Namespace -Release $Release -Kubeconfig $server.KubeconfigPath -WarningAction SilentlyContinue
    }
}
AfterAll { if ($script:server) { $script:server | Stop-KubeTestServer } }

Describe 'The built-in infrahub profile on the real chart 4.1.13, by its labels' -Tag 'Kubernetes', 'Helm' -Skip:$corpusMissing {
    BeforeAll {
        $script:plain = Install-Infrahub -Namespace infrahub -Release ih
        $script:overridden = Install-Infrahub -Namespace prod -Release prod -Set 'fullnameOverride=acme'
    }

    It 'maps all seven components to their roles (release ih, no fullnameOverride)' {
        $expected = Get-Expected -Release ih -Fullname 'ih-infrahub'
        $plain.Services.Count | Should -Be 7
        foreach ($name in $expected.Keys) {
            ($plain.Services | Where-Object Name -eq $name).Role | Should -Be $expected[$name] -Because $name
        }
        @($plain.Services | Where-Object Role -eq 'Other') | Should -BeNullOrEmpty
    }

    It 'maps all seven with fullnameOverride, where no name matches the profile''s kubernetesWorkload' {
        $expected = Get-Expected -Release prod -Fullname 'acme'
        $overridden.Services.Count | Should -Be 7
        foreach ($name in $expected.Keys) {
            ($overridden.Services | Where-Object Name -eq $name).Role | Should -Be $expected[$name] -Because $name
        }
        @($overridden.Services | Where-Object Role -eq 'Other') | Should -BeNullOrEmpty
    }

    It 'maps the storage PVC to the server, as its storage data store, with and without fullnameOverride' {
        foreach ($case in @(@{ D = $plain; Server = 'ih-infrahub-infrahub-server' }, @{ D = $overridden; Server = 'acme-infrahub-server' })) {
            $volumes = @(($case.D.Services | Where-Object Name -eq $case.Server).Volumes)
            $volumes.Count | Should -Be 1
            $volumes[0].Claim | Should -Be "$($case.Server)-storage-data"
            $volumes[0].Path | Should -Be '/opt/infrahub/storage'
            $volumes[0].DataStore | Should -Be 'storage'
        }
        # No other workload of the chart mounts a claim (the subcharts' persistence is off in the chart's values).
        @($plain.Services | Where-Object { $_.Name -ne 'ih-infrahub-infrahub-server' -and $_.Volumes.Count -gt 0 }) | Should -BeNullOrEmpty
    }

    It 'by name alone (the profile without its selectors) finds only the server and task worker, and none with fullnameOverride' {
        # The baseline the labels replace: the built-in profile as it was, kubernetesSelector taken out.
        $builtIn = Join-Path $env:UPGRADEOPS_ROOT 'src/UpgradeOps.Engine/Profiles/BuiltIn/infrahub.yml'
        $byName = Join-Path $TestDrive 'by-name.yml'
        (Get-Content -Raw $builtIn) -replace '(?m)^\s+kubernetesSelector:\r?\n\s+matchLabels:.*\r?\n', '' | Set-Content $byName
        (Get-Content -Raw $byName) | Should -Not -Match 'kubernetesSelector'
        $named = Get-UpgradeDeployment -Namespace infrahub -Release ih -Kubeconfig $server.KubeconfigPath -Profile $byName -WarningAction SilentlyContinue
        @($named.Services | Where-Object Role -ne 'Other').Name | Sort-Object | Should -Be @('ih-infrahub-infrahub-server', 'ih-infrahub-infrahub-task-worker')
        $renamed = Get-UpgradeDeployment -Namespace prod -Release prod -Kubeconfig $server.KubeconfigPath -Profile $byName -WarningAction SilentlyContinue
        @($renamed.Services | Where-Object Role -ne 'Other') | Should -BeNullOrEmpty
    }
}

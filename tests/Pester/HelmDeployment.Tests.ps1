# Get-UpgradeDeployment on a Helm release: the sandbox chart installed by the real helm v4 into the test API server
# (tests/KubeApiServer). Verified against that test server only, never a real cluster.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    $script:chart = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/chart'
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:server = Start-KubeTestServer
    $install = Invoke-TestHelm $server install sbx $chart -n sandbox --create-namespace --wait --timeout 30s
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }
    function Get-Release { Get-UpgradeDeployment -Namespace sandbox -Release sbx -Kubeconfig $server.KubeconfigPath -Profile $profilePath }
}
AfterAll { if ($script:server) { $script:server | Stop-KubeTestServer } }

Describe 'Get-UpgradeDeployment -Namespace -Release' -Tag 'Kubernetes', 'Helm' {
    It 'describes the release from its Secrets and its workloads by role' {
        $d = Get-Release
        $d.Platform | Should -Be 'Kubernetes'
        $d.Name | Should -Be 'sbx'
        $d.Version | Should -Be '1.7.5'
        $d.ChartName | Should -Be 'upgradeops-sandbox'
        $d.Revision | Should -Be 1
        $d.ReleaseStatus | Should -Be 'deployed'
        $d.Location | Should -Be 'sandbox/sbx'
        $server = $d.Services | Where-Object Name -eq 'sbx-sandbox-server'
        $server.Role | Should -Be 'Api'
        $server.ExpectedReplicas | Should -Be 2
        $server.Version | Should -Be '1.7.5'
        ($d.Services | Where-Object Name -eq 'sbx-sandbox-worker').Role | Should -Be 'Worker'
        ($d.Services | Where-Object Name -eq 'sbx-sandbox-database').Role | Should -Be 'Database'
        $d.Healthy | Should -BeTrue
        $d.Warnings | Should -BeNullOrEmpty
    }

    It 'follows a helm upgrade to the new revision' {
        $upgrade = Invoke-TestHelm $server upgrade sbx $chart -n sandbox --set image.tag=1.7.6 --wait --timeout 30s
        $upgrade.ExitCode | Should -Be 0 -Because $upgrade.Error
        $d = Get-Release
        $d.Revision | Should -Be 2
        $d.RunningVersion | Should -Be '1.7.6'
    }

    It 'reports a release left in pending-upgrade, with the repair' {
        $status = Invoke-TestHelm $server status sbx -n sandbox -o json
        $secret = "sh.helm.release.v1.sbx.v$(($status.Output | ConvertFrom-Json).version)"
        # What a killed helm client leaves behind: the newest revision still says pending-upgrade.
        Set-KubeTestReleaseStatus -Server $server -Namespace sandbox -Secret $secret -Status 'pending-upgrade'
        $d = Get-UpgradeDeployment -Namespace sandbox -Release sbx -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningVariable warnings -WarningAction SilentlyContinue
        $d.ReleaseStatus | Should -Be 'pending-upgrade'
        $warnings | Should -Match 'pending-upgrade.*helm rollback sbx'
    }

    It 'says clearly when the release does not exist' {
        $err = { Get-UpgradeDeployment -Namespace sandbox -Release nope -Kubeconfig $server.KubeconfigPath -Profile $profilePath -ErrorAction Stop } |
            Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'HelmReleaseNotFound,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }
}

Describe 'Invoke-Upgrade and Invoke-Rollback on a Helm release' -Tag 'Kubernetes', 'Helm' {
    BeforeAll {
        # Journals of Helm releases live in the user's data folder: a folder of this test's own.
        $script:savedDataHome = $env:XDG_DATA_HOME
        $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
        $script:helm = Get-Helm
        $install = Invoke-TestHelm $server install up $chart -n upgrade --create-namespace --wait --timeout 30s
        if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }
        function Get-Up { Get-UpgradeDeployment -Namespace upgrade -Release up -Kubeconfig $server.KubeconfigPath -Profile $profilePath -WarningAction SilentlyContinue }
        function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    }
    AfterAll { $env:XDG_DATA_HOME = $script:savedDataHome }

    It 'refuses without -Backup or -SkipBackup, saying what to do' {
        $err = Get-ErrorFrom { Get-Up | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -HelmPath $helm -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupRequired,*'
        $err.Exception.Message | Should -Match 'New-DeploymentBackup.*-SkipBackup'
    }

    It 'refuses -Resume with nothing to resume and -Strategy Rolling with what to run instead, changing nothing' {
        $revision = (Get-Up).Revision
        $err = Get-ErrorFrom { Invoke-Upgrade -Deployment (Get-Up) -Resume -HelmPath $helm -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ChartRequired,*'
        $err.Exception.Message | Should -Match '-Resume needs it too'
        $err = Get-ErrorFrom { Invoke-Upgrade -Deployment (Get-Up) -Resume -Chart $chart -HelmPath $helm -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'NothingToResume,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be 'upgrade/up'
        $err.Exception.Message | Should -Match 'No interrupted upgrade of Helm release upgrade/up .*Invoke-Upgrade -Deployment \$d -To <version> -Chart <chart>'
        $err = Get-ErrorFrom { Get-Up | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Strategy Rolling -Chart $chart -SkipBackup -HelmPath $helm -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'NotSupportedOnHelm,*'
        $err.Exception.Message | Should -Match 'spec.strategy'
        (Get-Up).Revision | Should -Be $revision
    }

    It 'upgrades 1.7.5 to 1.7.6 with helm upgrade, journalled' {
        $result = Get-Up | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -SkipBackup -HelmPath $helm -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        $result.Strategy | Should -Be 'Helm'
        $result.Steps.Name | Should -Contain 'helm upgrade'
        $result.JournalPath | Should -Exist
        $d = Get-Up
        $d.Version | Should -Be '1.7.6'
        $d.Revision | Should -Be 2
        ($d.Services | Where-Object Role -eq 'Api').Version | Should -Be '1.7.6'
    }

    It 'rolls back to the revision recorded before the upgrade' {
        $rollback = Invoke-Rollback -Deployment (Get-Up) -HelmPath $helm -Force
        $rollback.Operation | Should -Be 'Rollback'
        $rollback.Status | Should -Be 'Succeeded'
        $d = Get-Up
        $d.Version | Should -Be '1.7.5'
        $d.Revision | Should -Be 3
        (Get-Up | Get-UpgradeHistory | Where-Object Operation -eq 'Upgrade')[0].Status | Should -Be 'RolledBack'
    }

    It 'refuses a release left in pending-upgrade with the exact repair, and repairs it with -Force' {
        Set-KubeTestReleaseStatus -Server $server -Namespace upgrade -Secret 'sh.helm.release.v1.up.v3' -Status 'pending-upgrade'
        $d = Get-Up
        $d.ReleaseStatus | Should -Be 'pending-upgrade'
        $err = Get-ErrorFrom { $d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -SkipBackup -HelmPath $helm -Confirm:$false -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'HelmReleasePending,*'
        $err.Exception.Message | Should -Match 'helm rollback up 2 -n upgrade'

        $result = $d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Chart $chart -SkipBackup -HelmPath $helm -Force
        $result.Status | Should -Be 'Succeeded' -Because $result.Error
        $result.Steps.Name | Should -Contain 'repair pending release'
        $after = Get-Up
        $after.ReleaseStatus | Should -Be 'deployed'
        $after.Version | Should -Be '1.7.6'
    }
}

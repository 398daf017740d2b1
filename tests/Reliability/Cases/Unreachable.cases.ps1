# Every cmdlet that needs the Docker Engine or the Kubernetes API, against none: the runner points DOCKER_HOST at a
# socket that does not exist and KUBECONFIG at a cluster on a closed port. Each must say which endpoint did not answer
# and what to do (DockerEngineUnreachable, KubernetesUnreachable; ConnectionError), within 10 s, after checking its local
# inputs, and leave nothing behind: no state folder, lock or journal beside the compose file or under the data home, no
# backup folder, no copy.
# Blocks are plain, not closures: New-TestDeployment and New-TestBackup (dot-sourced by the test) are not visible from a
# closure. The sandbox profile is named by its path under UPGRADEOPS_ROOT.
$docker = { $env:DOCKER_HOST }
$cluster = 'https://127.0.0.1:1/'

# $Data: Deployment (a Compose deployment of the sandbox profile, its compose file in $Dir), Backup (a backup of it in
# $Dir/backup), Compose (the compose file's path).
$composeSetup = {
    param($Dir)
    $compose = Write-SandboxCompose (Join-Path $Dir 'docker-compose.yml')
    $deployment = New-TestDeployment -Name sandbox -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location $compose
    @{ Compose = $compose; Deployment = $deployment; Backup = New-TestBackup -Path (Join-Path $Dir 'backup') -Deployment $deployment -Database }
}
# $Data: Deployment (a Helm release infrahub/prod of the built-in profile), Backup (a backup of it in $Dir/backup), Helm
# (a file that stands for the helm binary, never run: the cluster is asked first), Chart (a local chart folder), Values (a
# values file).
$helmSetup = {
    param($Dir)
    $deployment = New-TestDeployment -Platform Kubernetes -Location 'infrahub/prod'
    $deployment.ChartVersion = '4.0.0'
    $helm = Join-Path $Dir 'helm'
    [IO.File]::WriteAllText($helm, "#!/bin/sh`nexit 99`n")
    $chart = New-Item -ItemType Directory (Join-Path $Dir 'chart')
    [IO.File]::WriteAllText((Join-Path $chart 'Chart.yaml'), "apiVersion: v2`nname: infrahub`nversion: 4.0.0`nappVersion: 1.7.5`n")
    $values = Join-Path $Dir 'values.yaml'
    [IO.File]::WriteAllText($values, "image:`n  tag: 1.7.5`n")
    @{ Deployment = $deployment; Backup = New-TestBackup -Path (Join-Path $Dir 'backup') -Deployment $deployment -Database; Helm = $helm; Chart = $chart.FullName; Values = $values }
}

# A setup that adds to another (by text: a closure could not see the runner's functions).
function Join-Setup([scriptblock] $Base, [scriptblock] $More) {
    [scriptblock]::Create("param(`$Dir) `$data = & {$Base} `$Dir; & {$More} `$Dir `$data")
}

function New-DockerCase([string] $Name, [scriptblock] $Run, [string] $Message) {
    @{ Name = "$Name with no Docker Engine"; Setup = $composeSetup; Run = $Run
       ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = $docker; Message = $Message }
}
function New-ClusterCase([string] $Name, [scriptblock] $Run, [string] $Message) {
    @{ Name = "$Name with no Kubernetes API"; Setup = $helmSetup; Run = $Run
       ErrorId = 'KubernetesUnreachable'; Category = 'ConnectionError'; Target = $cluster; Message = $Message }
}

@(
    # Compose: the Docker Engine
    New-DockerCase 'Get-UpgradeDeployment -ComposeFile' { param($Dir, $Data) Get-UpgradeDeployment -ComposeFile $Data.Compose -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" } '(?i)start the engine|DOCKER_HOST'
    New-DockerCase 'Get-UpgradeDeployment -ProjectName' { Get-UpgradeDeployment -ProjectName sandbox -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" }
    New-DockerCase 'Get-UpgradeDeployment -ComposeFile -DockerHost tcp://127.0.0.1:1' { param($Dir, $Data) Get-UpgradeDeployment -ComposeFile $Data.Compose -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -DockerHost tcp://127.0.0.1:1 } |
        ForEach-Object { $_.Target = 'tcp://127.0.0.1:1/'; $_ }
    New-DockerCase 'New-DeploymentBackup' { param($Dir, $Data) $Data.Deployment | New-DeploymentBackup -Path (Join-Path $Dir 'backups') -Force }
    New-DockerCase 'New-DeploymentBackup -WhatIf' { param($Dir, $Data) $Data.Deployment | New-DeploymentBackup -Path (Join-Path $Dir 'backups') -WhatIf }
    New-DockerCase 'Restore-DeploymentBackup -Backup' { param($Dir, $Data) $Data.Backup | Restore-DeploymentBackup -Deployment $Data.Deployment -Force }
    New-DockerCase 'Restore-DeploymentBackup -Path' { param($Dir, $Data) Restore-DeploymentBackup -Path $Data.Backup.Path -Deployment $Data.Deployment -Force }
    New-DockerCase 'Invoke-Upgrade -Deployment -To' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -SkipBackup -Force }
    New-DockerCase 'Invoke-Upgrade -Backup' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -Backup $Data.Backup -Force }
    New-DockerCase 'Invoke-Upgrade -WhatIf' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -SkipBackup -WhatIf }
    New-DockerCase 'Test-UpgradePath | Invoke-Upgrade' { param($Dir, $Data) $Data.Deployment | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -SkipBackup -Force }
    New-DockerCase 'Invoke-Upgrade -RequireReadiness' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -SkipBackup -RequireReadiness -Force }
    New-DockerCase 'Invoke-Upgrade -ConfigurationValue' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 2.0.0 -AvailableVersion 1.7.5, 1.8.0, 2.0.0 -SkipBackup -ConfigurationValue @{ SANDBOX_SIGNING_KEY = 'x' * 40 } -Force }
    New-DockerCase 'Invoke-Rollback -Backup' { param($Dir, $Data) Invoke-Rollback -Deployment $Data.Deployment -Backup $Data.Backup -Force }
    @{
        Name = 'Invoke-Rollback of a recorded upgrade with no Docker Engine'
        Setup = Join-Setup $composeSetup { param($Dir, $data) $data.Upgrade = New-TestJournal -Deployment $data.Deployment -BackupPath $data.Backup.Path; $data }
        Run = { param($Dir, $Data) $Data.Upgrade | Invoke-Rollback -Deployment $Data.Deployment -Force }
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = $docker
    }
    New-DockerCase 'Test-PostUpgrade' { param($Dir, $Data) $Data.Deployment | Test-PostUpgrade -ExpectedVersion 1.7.5 }
    New-DockerCase 'Test-PostUpgrade -CaptureBaseline' { param($Dir, $Data) $Data.Deployment | Test-PostUpgrade -CaptureBaseline }
    New-DockerCase 'Test-UpgradeReadiness' { param($Dir, $Data) $Data.Deployment | Test-UpgradeReadiness -To 1.7.6 }
    New-DockerCase 'Get-UpgradeDiagnostic' { param($Dir, $Data) $Data.Deployment | Get-UpgradeDiagnostic }
    New-DockerCase 'Get-UpgradeDiagnostic -OutFile' { param($Dir, $Data) $Data.Deployment | Get-UpgradeDiagnostic -OutFile (Join-Path $Dir 'diagnostic.zip') -Force }
    New-DockerCase 'Test-DeploymentBackup -RestoreTest' { param($Dir, $Data) $Data.Backup | Test-DeploymentBackup -RestoreTest -Deployment $Data.Deployment }
    New-DockerCase 'Invoke-UpgradeRehearsal' { param($Dir, $Data) Invoke-UpgradeRehearsal -Path $Data.Backup.Path -To 1.7.6 -Deployment $Data.Deployment -Force }
    @{
        Name = 'Get-UpgradeHistory with no Docker Engine lists nothing'
        Expect = 'Result'
        Setup = $composeSetup
        Run = { param($Dir, $Data) $Data.Deployment | Get-UpgradeHistory }
        Check = { param($Output) $Output | Should -BeNullOrEmpty }
    }

    # Compose: what is local is checked first, and its faults are not the engine's
    @{
        Name = 'Invoke-Upgrade of a deployment whose compose file is gone, with no Docker Engine'
        Setup = Join-Setup $composeSetup { param($Dir, $data) Remove-Item -LiteralPath $data.Compose; $data }
        Run = { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -SkipBackup -Force }
        ErrorId = 'ComposeFileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir, $Data) $Data.Compose }
    }
    @{
        Name = 'Invoke-Upgrade -ConfigurationValue with a line break, with no Docker Engine'
        Setup = $composeSetup
        Run = { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 2.0.0 -SkipBackup -ConfigurationValue @{ APP_SIGNING_KEY = "first`nsecond" } -Force }
        ErrorId = 'ConfigurationValueInvalid'; Category = 'InvalidArgument'; Target = 'APP_SIGNING_KEY'
    }
    @{
        Name = 'Invoke-Upgrade -ConfigurationValue with a line break, -WhatIf, with no Docker Engine'
        Setup = $composeSetup
        Run = { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 2.0.0 -SkipBackup -ConfigurationValue @{ APP_SIGNING_KEY = "first`nsecond" } -WhatIf }
        ErrorId = 'ConfigurationValueInvalid'; Category = 'InvalidArgument'; Target = 'APP_SIGNING_KEY'
    }
    @{
        Name = 'Invoke-Upgrade without a value a rule requires, with no Docker Engine'
        Setup = Join-Setup $composeSetup { param($Dir, $data)
            # The sandbox's signing-key rule, without a generated default: the value must be given.
            $profile = Join-Path $Dir 'profile.yml'
            [IO.File]::WriteAllText($profile, ((Get-Content -Raw -LiteralPath $data.Deployment.Profile) -replace '(?m)^(\s+)generate: true', '$1# generate: true'))
            $data.Deployment.Profile = $profile
            $data }
        Run = { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 2.0.0 -SkipBackup -Force }
        ErrorId = 'ConfigurationValueRequired'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir '.env' }; Message = "-ConfigurationValue @\{ 'APP_SIGNING_KEY'"
    }
    @{
        Name = 'Invoke-Upgrade -Resume with nothing to resume, with no Docker Engine'
        Setup = $composeSetup
        Run = { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -Resume -Force }
        ErrorId = 'NothingToResume'; Category = 'ObjectNotFound'; Target = { param($Dir, $Data) $Data.Compose }
    }
    @{
        Name = 'Invoke-Rollback with no journal and no -Backup, with no Docker Engine'
        Setup = $composeSetup
        Run = { param($Dir, $Data) Invoke-Rollback -Deployment $Data.Deployment -Force }
        ErrorId = 'NothingToRollBack'; Category = 'ObjectNotFound'; Target = { param($Dir, $Data) $Data.Compose }
    }
    @{
        Name = 'Invoke-Rollback -UpgradeId that is not recorded, with no Docker Engine'
        Setup = $composeSetup
        Run = { param($Dir, $Data) Invoke-Rollback -Deployment $Data.Deployment -UpgradeId sandbox-19990101-000000-upgrade -Force }
        ErrorId = 'UpgradeNotFound'; Category = 'ObjectNotFound'; Target = 'sandbox-19990101-000000-upgrade'
    }
    @{
        Name = 'Invoke-Rollback of an upgrade made with -SkipBackup, with no Docker Engine'
        Setup = Join-Setup $composeSetup { param($Dir, $data) $data.Upgrade = New-TestJournal -Deployment $data.Deployment; $data }
        Run = { param($Dir, $Data) $Data.Upgrade | Invoke-Rollback -Deployment $Data.Deployment -Force }
        ErrorId = 'RollbackNeedsBackup'; Category = 'InvalidOperation'; Target = { param($Dir, $Data) $Data.Upgrade.Id }
    }
    @{
        Name = 'Get-UpgradeDeployment with DOCKER_HOST that is not a URI'
        Setup = $composeSetup
        Run = { param($Dir, $Data)
            $saved = $env:DOCKER_HOST
            try { $env:DOCKER_HOST = 'localhost:2375'; Get-UpgradeDeployment -ComposeFile $Data.Compose -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" }
            finally { $env:DOCKER_HOST = $saved } }
        ErrorId = 'InvalidDockerHost'; Category = 'InvalidArgument'; Target = 'localhost:2375'; Message = 'DOCKER_HOST'
    }

    # Kubernetes: the API server
    @{
        Name = 'Get-UpgradeDeployment -Namespace -Release with no Kubernetes API'
        Run = { Get-UpgradeDeployment -Namespace infrahub -Release prod }
        ErrorId = 'KubernetesUnreachable'; Category = 'ConnectionError'; Target = $cluster; Message = '(?i)kubeconfig'
    }
    New-ClusterCase 'New-DeploymentBackup' { param($Dir, $Data) $Data.Deployment | New-DeploymentBackup -Path (Join-Path $Dir 'backups') -Force }
    New-ClusterCase 'Restore-DeploymentBackup' { param($Dir, $Data) $Data.Backup | Restore-DeploymentBackup -Deployment $Data.Deployment -Force }
    New-ClusterCase 'Invoke-Upgrade' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -Chart $Data.Chart -HelmPath $Data.Helm -SkipBackup -Force }
    New-ClusterCase 'Invoke-Upgrade -WhatIf' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -Chart $Data.Chart -HelmPath $Data.Helm -SkipBackup -WhatIf }
    New-ClusterCase 'Invoke-Upgrade -RequireReadiness' { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -To 1.7.6 -Chart $Data.Chart -HelmPath $Data.Helm -SkipBackup -RequireReadiness -Force }
    @{
        Name = 'Invoke-Rollback of a recorded upgrade with no Kubernetes API'
        Setup = Join-Setup $helmSetup { param($Dir, $data) $data.Upgrade = New-TestJournal -Deployment $data.Deployment -BackupPath $data.Backup.Path -StateHome (Join-Path $Dir '.state-home'); $data }
        Run = { param($Dir, $Data) $Data.Upgrade | Invoke-Rollback -Deployment $Data.Deployment -HelmPath $Data.Helm -Force }
        ErrorId = 'KubernetesUnreachable'; Category = 'ConnectionError'; Target = $cluster
    }
    New-ClusterCase 'Test-PostUpgrade' { param($Dir, $Data) $Data.Deployment | Test-PostUpgrade -ExpectedVersion 1.7.5 }
    New-ClusterCase 'Test-UpgradeReadiness' { param($Dir, $Data) $Data.Deployment | Test-UpgradeReadiness -To 1.7.6 }
    New-ClusterCase 'Get-UpgradeDiagnostic' { param($Dir, $Data) $Data.Deployment | Get-UpgradeDiagnostic }
    New-ClusterCase 'Invoke-UpgradeRehearsal' { param($Dir, $Data) Invoke-UpgradeRehearsal -Path $Data.Backup.Path -To 1.7.6 -Deployment $Data.Deployment -Chart $Data.Chart -HelmPath $Data.Helm -Force }
    New-ClusterCase 'Convert-UpgradeConfiguration' { param($Dir, $Data) $Data.Deployment | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile $Data.Values -Force }
    New-ClusterCase 'Convert-UpgradeConfiguration -WhatIf' { param($Dir, $Data) $Data.Deployment | Convert-UpgradeConfiguration -To 1.7.6 -ValuesFile $Data.Values -WhatIf }
    @{
        Name = 'Get-UpgradeHistory of a Helm release with no Kubernetes API lists nothing'
        Expect = 'Result'
        Setup = $helmSetup
        Run = { param($Dir, $Data) $Data.Deployment | Get-UpgradeHistory }
        Check = { param($Output) $Output | Should -BeNullOrEmpty }
    }

    # An endpoint that takes the connection and never answers (a hung engine, a firewall or proxy that holds it): the
    # clients' own timeouts are 100 s. The listener accepts into its backlog and never reads; Run stops it.
    @{
        Name = 'Get-UpgradeDeployment -DockerHost of an engine that takes the connection and never answers'
        Setup = { $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $listener.Start(); @{ Listener = $listener; Port = $listener.LocalEndpoint.Port } }
        Run = { param($Dir, $Data) try { Get-UpgradeDeployment -ProjectName sandbox -DockerHost "tcp://127.0.0.1:$($Data.Port)" } finally { $Data.Listener.Stop() } }
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = { param($Dir, $Data) "tcp://127.0.0.1:$($Data.Port)/" }; Message = 'did not answer within'
    }
    @{
        Name = 'Get-UpgradeDeployment -Kubeconfig of a cluster that takes the connection and never answers'
        Setup = { param($Dir)
            $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $listener.Start()
            Set-Content -LiteralPath (Join-Path $Dir 'kubeconfig') ((Get-Content -Raw -LiteralPath $env:KUBECONFIG) -replace '127\.0\.0\.1:1\b', "127.0.0.1:$($listener.LocalEndpoint.Port)")
            @{ Listener = $listener; Port = $listener.LocalEndpoint.Port } }
        Run = { param($Dir, $Data) try { Get-UpgradeDeployment -Namespace infrahub -Release prod -Kubeconfig (Join-Path $Dir 'kubeconfig') } finally { $Data.Listener.Stop() } }
        ErrorId = 'KubernetesUnreachable'; Category = 'ConnectionError'; Target = { param($Dir, $Data) "https://127.0.0.1:$($Data.Port)/" }; Message = 'did not answer within'
    }
)

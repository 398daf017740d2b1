# Parameters and pipeline input as users get them wrong: parameter sets that cannot go together, objects piped into
# the wrong cmdlet, deployment objects that are not whole, endpoints and kubeconfigs that are not, timeouts and
# versions no command could use. What PowerShell's binder refuses is its own error (Remedy = $false: its text is
# PowerShell's); what binds and then fails inside the cmdlet is the module's error, with a next step, before any
# engine or cluster is contacted.
# Run blocks are plain (New-TestDeployment, dot-sourced by the test, is not visible from a closure): they name the sandbox
# profile by its path under UPGRADEOPS_ROOT.

# A kubeconfig of one cluster (given as a flow mapping), one context and one user.
function Get-Kubeconfig([string] $Cluster) {
    "apiVersion: v1`nkind: Config`nclusters:`n- name: c`n  cluster: $Cluster`ncontexts:`n- name: c`n  context: {cluster: c, user: u}`ncurrent-context: c`nusers:`n- name: u`n  user: {token: t}`n"
}

function New-KubeconfigCase([string] $Name, [string] $Text) {
    @{
        Name = "Get-UpgradeDeployment -Kubeconfig $Name"
        Setup = { param($Dir) Set-Content -LiteralPath (Join-Path $Dir 'kubeconfig') ($Text -replace '<dir>', $Dir) }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeDeployment -Namespace ns -Release rel -Kubeconfig (Join-Path $Dir 'kubeconfig') }
        ErrorId = 'KubeconfigInvalid'; Category = 'InvalidArgument'; Target = { param($Dir) Join-Path $Dir 'kubeconfig' }
    }
}

function New-BinderCase([string] $Name, [scriptblock] $Run, [string] $ErrorId, [string] $Category = 'InvalidArgument') {
    @{ Name = $Name; Run = $Run; ErrorId = $ErrorId; Category = $Category; Target = ''; Remedy = $false }
}

@(
    # ---- PowerShell's binder: parameters that cannot go together, objects no parameter takes
    New-BinderCase 'Get-UpgradeDeployment -ComposeFile with -ProjectName' { Get-UpgradeDeployment -ComposeFile ./docker-compose.yml -ProjectName app } 'AmbiguousParameterSet'
    New-BinderCase 'Get-UpgradeDeployment -ComposeFile with -Namespace and -Release' { Get-UpgradeDeployment -ComposeFile ./docker-compose.yml -Namespace ns -Release rel } 'AmbiguousParameterSet'
    New-BinderCase 'Get-UpgradeDeployment -ProjectName of an empty string' { Get-UpgradeDeployment -ProjectName '' } 'ParameterArgumentValidationErrorEmptyStringNotAllowed' 'InvalidData'
    New-BinderCase 'Test-UpgradePath -From with -Deployment' { Test-UpgradePath -From 1.7.5 -To 1.7.6 -Deployment (New-TestDeployment) } 'AmbiguousParameterSet'
    # -To with -Resume binds (a Helm release resumes to a target); a Compose deployment resumes only its journal's path.
    @{
        Name = 'Invoke-Upgrade -To with -Resume on Compose'
        Run = { Invoke-Upgrade -Deployment (New-TestDeployment) -To 1.7.6 -Resume -Force }
        ErrorId = 'ResumeTargetNotSupported'; Category = 'InvalidArgument'; Target = '1.7.6'
    }
    New-BinderCase 'Invoke-Upgrade -Backup of a string' { Invoke-Upgrade -Deployment (New-TestDeployment) -To 1.7.6 -Backup '/backups/prod' -Force } 'CannotConvertArgumentNoMessage'
    New-BinderCase 'Restore-DeploymentBackup -Path with -Backup' {
        $backup = [Activator]::CreateInstance((Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.DeploymentBackup'))
        Restore-DeploymentBackup -Path ./b -Backup $backup -Deployment (New-TestDeployment) -Force } 'AmbiguousParameterSet'
    @{
        Name = 'A string piped to Get-UpgradeDeployment'
        Run = { 'docker-compose.yml' | Get-UpgradeDeployment }
        ErrorId = 'InputObjectNotBound'; Category = 'InvalidArgument'; Target = 'docker-compose.yml'; Remedy = $false
    }
    @{
        Name = 'A version string piped to Test-UpgradePath'
        Run = { '1.7.6' | Test-UpgradePath -From 1.7.5 }
        ErrorId = 'InputObjectNotBound'; Category = 'InvalidArgument'; Target = '1.7.6'; Remedy = $false
    }
    @{
        Name = 'A release note piped to Invoke-Upgrade'
        Setup = { param($Dir) Set-Content -LiteralPath (Join-Path $Dir 'notes.md') "## 1.7.6`n### Breaking changes`n- The API moved." }
        Run = { param($Dir) Get-UpgradeReleaseNote -Path (Join-Path $Dir 'notes.md') | Invoke-Upgrade -SkipBackup -Force }
        ErrorId = 'InputObjectNotBound'; Category = 'InvalidArgument'; Target = '1.7.6 BreakingChange: The API moved.'; Remedy = $false
    }
    @{
        Name = 'A backup verification piped to Restore-DeploymentBackup'
        # A folder without a manifest: Test-DeploymentBackup answers with a failed verification, which is not a backup.
        Setup = { param($Dir) $null = New-Item -ItemType Directory -Path (Join-Path $Dir 'backup') }
        Run = { param($Dir) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') | Restore-DeploymentBackup -Deployment (New-TestDeployment) -Force }
        ErrorId = 'InputObjectNotBound'; Category = 'InvalidArgument'; Target = 'backup: Failed'; Remedy = $false
    }
    # Objects kept with Export-Clixml come back as Deserialized.UpgradeOps.* bags: a parameter rebuilds only its own type.
    @{
        Name = 'A backup verification kept with Export-Clixml piped to Restore-DeploymentBackup'
        Setup = { param($Dir)
            $null = New-Item -ItemType Directory -Path (Join-Path $Dir 'backup')
            Test-DeploymentBackup -Path (Join-Path $Dir 'backup') | Export-Clixml -LiteralPath (Join-Path $Dir 'verification.xml') }
        Run = { param($Dir) Import-Clixml -LiteralPath (Join-Path $Dir 'verification.xml') | Restore-DeploymentBackup -Deployment (New-TestDeployment) -Force }
        ErrorId = 'InputObjectNotBound'; Category = 'InvalidArgument'; Target = 'backup: Failed'; Remedy = $false
    }
    @{
        Name = 'A path kept with Export-Clixml given to Test-UpgradeReadiness -Deployment'
        Setup = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 | Export-Clixml -LiteralPath (Join-Path $Dir 'path.xml') }
        Run = { param($Dir) Test-UpgradeReadiness -Deployment (Import-Clixml -LiteralPath (Join-Path $Dir 'path.xml')) -To 1.7.6 }
        ErrorId = 'CannotConvertArgumentNoMessage'; Category = 'InvalidArgument'; Target = ''; Remedy = $false
    }
    @{
        Name = 'A deployment kept with Export-Clixml and edited to lose its Name, given to Test-UpgradePath'
        Setup = { param($Dir)
            $file = Join-Path $Dir 'deployment.xml'
            New-TestDeployment | Export-Clixml -LiteralPath $file
            [IO.File]::WriteAllText($file, ([IO.File]::ReadAllText($file) -replace '<S N="Name">prod</S>', '')) }
        Run = { param($Dir) Test-UpgradePath -Deployment (Import-Clixml -LiteralPath (Join-Path $Dir 'deployment.xml')) -To 1.7.6 }
        ErrorId = 'ParameterArgumentTransformationError'; Category = 'InvalidData'; Target = ''; Remedy = $false
        Message = 'Deployment\.Name cannot be taken: it is missing\. Give the object as'
    }
    @{
        Name = 'A deployment kept with Export-Clixml and edited to an unknown platform, given to Get-UpgradeHistory'
        Setup = { param($Dir)
            $file = Join-Path $Dir 'deployment.xml'
            New-TestDeployment | Export-Clixml -LiteralPath $file
            [IO.File]::WriteAllText($file, ([IO.File]::ReadAllText($file) -replace '(?s)(<Obj N="Platform".*?<I32>)0(</I32>)', '${1}9${2}')) }
        Run = { param($Dir) Get-UpgradeHistory -Deployment (Import-Clixml -LiteralPath (Join-Path $Dir 'deployment.xml')) }
        ErrorId = 'ParameterArgumentTransformationError'; Category = 'InvalidData'; Target = ''; Remedy = $false
        Message = 'Deployment\.Platform cannot be taken: it is none of Compose, Kubernetes'
    }
    @{
        Name = 'A deployment piped to Test-DeploymentBackup'
        Run = { New-TestDeployment | Test-DeploymentBackup }
        ErrorId = 'InputObjectNotBound'; Category = 'InvalidArgument'; Target = 'prod 1.7.5 (Compose)'; Remedy = $false
    }
    @{
        Name = 'A deployment name piped to Get-UpgradeHistory'
        Run = { 'prod' | Get-UpgradeHistory }
        ErrorId = 'InputObjectNotBound'; Category = 'InvalidArgument'; Target = 'prod'; Remedy = $false
    }

    # ---- Bound, then refused by the module
    @{
        Name = 'An upgrade path made without a deployment piped to Invoke-Upgrade'
        Run = { Test-UpgradePath -From 1.7.5 -To 1.7.6 | Invoke-Upgrade -SkipBackup -Force }
        ErrorId = 'DeploymentRequired'; Category = 'InvalidArgument'; Target = '1.7.5 → 1.7.6 (5–10 min)'; Message = 'Test-UpgradePath'
    }
    @{
        Name = 'An upgrade path made without a deployment piped to Invoke-Upgrade -WhatIf'
        Run = { Test-UpgradePath -From 1.7.5 -To 1.7.6 | Invoke-Upgrade -WhatIf }
        ErrorId = 'DeploymentRequired'; Category = 'InvalidArgument'; Target = '1.7.5 → 1.7.6 (5–10 min)'
    }
    @{
        Name = 'A downgrade path piped to Invoke-Upgrade'
        Run = { param($Dir) New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version 1.7.6 -Location (Join-Path $Dir 'docker-compose.yml') | Test-UpgradePath -To 1.7.5 | Invoke-Upgrade -SkipBackup -Force }
        ErrorId = 'UpgradePathNotSupported'; Category = 'InvalidOperation'; Target = '1.7.6 → 1.7.5'; Message = 'Restore-DeploymentBackup'
    }
    @{
        Name = 'A text file piped to Get-UpgradeDeployment'
        Setup = { param($Dir) Set-Content -LiteralPath (Join-Path $Dir 'notes.txt') 'remember the milk' }
        Run = { param($Dir) Get-Item -LiteralPath (Join-Path $Dir 'notes.txt') | Get-UpgradeDeployment }
        ErrorId = 'ComposeFileInvalid'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'notes.txt' }
    }
    @{
        Name = 'A folder piped to Get-UpgradeDeployment'
        Run = { param($Dir) Get-Item -LiteralPath $Dir | Get-UpgradeDeployment }
        ErrorId = 'ComposeFileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) $Dir }; Message = 'folder'
    }
    @{
        Name = 'Test-DeploymentBackup -RestoreTest without -Deployment'
        Run = { param($Dir) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') -RestoreTest }
        ErrorId = 'DeploymentRequired'; Category = 'InvalidArgument'; Target = { param($Dir) Join-Path $Dir 'backup' }
    }

    # ---- Deployment objects that are not whole (made by hand, or with a property PowerShell turned into '')
    foreach ($command in @(
            @{ Name = 'New-DeploymentBackup'; Run = { New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" | New-DeploymentBackup -Path ./backups -Force  } }
            @{ Name = 'Invoke-Upgrade'; Run = { Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml") -To 1.7.6 -SkipBackup -Force  } }
            @{ Name = 'Invoke-Rollback'; Run = { Invoke-Rollback -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml") -Force  } }
            # Piped, the deployment reaches the same check (Invoke-Upgrade -To/-Resume and Invoke-Rollback take it from the pipeline).
            @{ Name = 'Invoke-Upgrade -To, piped,'; Run = { New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" | Invoke-Upgrade -To 1.7.6 -SkipBackup -Force } }
            @{ Name = 'Invoke-Upgrade -Resume, piped,'; Run = { New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" | Invoke-Upgrade -Resume -Force } }
            @{ Name = 'Invoke-Rollback, piped,'; Run = { New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" | Invoke-Rollback -Force } }
            @{ Name = 'Test-PostUpgrade'; Run = { Test-PostUpgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml")  } }
            @{ Name = 'Test-UpgradeReadiness'; Run = { Test-UpgradeReadiness -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml") -To 1.7.6  } }
            @{ Name = 'Get-UpgradeDiagnostic'; Run = { Get-UpgradeDiagnostic -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml")  } }
            @{ Name = 'Get-UpgradeHistory'; Run = { Get-UpgradeHistory -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml")  } })) {
        @{
            Name = "$($command.Name) of a Compose deployment without its compose file"
            Run = $command.Run
            ErrorId = 'DeploymentNotSupported'; Category = 'InvalidArgument'; Target = 'prod'; Message = 'Get-UpgradeDeployment'
        }
    }
    foreach ($command in @(
            @{ Name = 'New-DeploymentBackup'; Run = { New-TestDeployment -Platform Kubernetes -Location rel -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" | New-DeploymentBackup -Path ./backups -Force  } }
            @{ Name = 'Invoke-Rollback'; Run = { Invoke-Rollback -Deployment (New-TestDeployment -Platform Kubernetes -Location rel -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml") -Force  } }
            @{ Name = 'Test-PostUpgrade'; Run = { Test-PostUpgrade -Deployment (New-TestDeployment -Platform Kubernetes -Location rel -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml")  } }
            @{ Name = 'Get-UpgradeDiagnostic'; Run = { Get-UpgradeDiagnostic -Deployment (New-TestDeployment -Platform Kubernetes -Location rel -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml")  } })) {
        @{
            Name = "$($command.Name) of a Helm release whose location is not namespace/release"
            Run = $command.Run
            ErrorId = 'DeploymentNotSupported'; Category = 'InvalidArgument'; Target = 'prod'
        }
    }
    @{
        Name = 'Invoke-Upgrade -Deployment of a deployment with no version'
        Run = { param($Dir) Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Version '' -Location (Join-Path $Dir 'docker-compose.yml')) -To 1.7.6 -SkipBackup -Force }
        ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = ''
    }

    # ---- Values no command could use, refused before any engine is contacted
    @{
        Name = 'Test-PostUpgrade -CheckTimeout negative'
        Run = { param($Dir) Test-PostUpgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -CheckTimeout '-00:00:05' }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '-00:00:05'
    }
    @{
        Name = 'Test-PostUpgrade -ExpectedVersion that is not a version'
        Run = { param($Dir) Test-PostUpgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -ExpectedVersion banana }
        ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = 'banana'
    }
    @{
        Name = 'Invoke-Rollback -HealthTimeout zero'
        Run = { param($Dir) Invoke-Rollback -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -HealthTimeout 0 -Force }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '00:00:00'
    }
    @{
        Name = 'Invoke-UpgradeRehearsal -MigrationTimeout negative'
        Run = { param($Dir) Invoke-UpgradeRehearsal -Path (Join-Path $Dir 'backup') -To 1.7.6 -MigrationTimeout '-00:30:00' -Force }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '-00:30:00'
    }
    @{
        Name = 'Invoke-UpgradeRehearsal -HealthTimeout zero'
        Run = { param($Dir) Invoke-UpgradeRehearsal -Path (Join-Path $Dir 'backup') -To 1.7.6 -HealthTimeout 0 -Force }
        ErrorId = 'InvalidDuration'; Category = 'InvalidArgument'; Target = '00:00:00'
    }

    # ---- Endpoints and kubeconfigs that are not
    @{
        Name = 'Invoke-Upgrade -ApiEndpoint that is not a URL'
        Run = { param($Dir) Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -To 1.7.6 -SkipBackup -ApiEndpoint 'infrahub.example.com' -Force }
        ErrorId = 'ApiEndpointInvalid'; Category = 'InvalidArgument'; Target = 'infrahub.example.com'
    }
    @{
        Name = 'Test-PostUpgrade -ApiEndpoint of a scheme that is not http'
        Run = { param($Dir) Test-PostUpgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -ApiEndpoint 'ftp://127.0.0.1:8000' }
        ErrorId = 'ApiEndpointInvalid'; Category = 'InvalidArgument'; Target = 'ftp://127.0.0.1:8000'
    }
    @{
        Name = 'Test-PostUpgrade -ApiEndpoint of another scheme with a password in it'
        Run = { param($Dir) Test-PostUpgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -ApiEndpoint 'ftp://admin:pa55-canary@127.0.0.1:8000' }
        ErrorId = 'ApiEndpointInvalid'; Category = 'InvalidArgument'; Target = 'ftp://***@127.0.0.1:8000'
        Message = '^(?!.*pa55-canary)'
    }
    @{
        Name = 'Invoke-Upgrade -ApiEndpoint with a user and password in it'
        Run = { param($Dir) Invoke-Upgrade -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -To 1.7.6 -SkipBackup -ApiEndpoint 'https://admin:pa55-canary@infrahub.example.com/' -Force }
        ErrorId = 'ApiEndpointInvalid'; Category = 'InvalidArgument'; Target = 'https://***@infrahub.example.com/'
        Message = '^(?!.*pa55-canary).*without them, such as https://infrahub\.example\.com\.'
    }
    @{
        Name = 'Test-UpgradeReadiness -ApiEndpoint that is not a URL'
        Run = { param($Dir) Test-UpgradeReadiness -Deployment (New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml')) -To 1.7.6 -ApiEndpoint 'http//127.0.0.1' }
        ErrorId = 'ApiEndpointInvalid'; Category = 'InvalidArgument'; Target = 'http//127.0.0.1'
    }
    @{
        Name = 'Get-UpgradeDeployment -DockerHost that is not a URI'
        Run = { Get-UpgradeDeployment -ProjectName app -DockerHost 'not a uri' }
        ErrorId = 'InvalidDockerHost'; Category = 'InvalidArgument'; Target = 'not a uri'
    }
    @{
        Name = 'Get-UpgradeDeployment -DockerHost of a scheme Docker does not speak'
        Run = { Get-UpgradeDeployment -ProjectName app -DockerHost 'ftp://127.0.0.1/' }
        ErrorId = 'InvalidDockerHost'; Category = 'InvalidArgument'; Target = 'ftp://127.0.0.1/'; Message = 'unix://'
    }
    if (-not $IsWindows) {
        @{
            Name = 'Get-UpgradeDeployment -DockerHost of a Windows named pipe on Linux'
            Run = { Get-UpgradeDeployment -ProjectName app -DockerHost 'npipe:////./pipe/docker_engine' }
            ErrorId = 'InvalidDockerHost'; Category = 'InvalidArgument'; Target = 'npipe:////./pipe/docker_engine'
        }
    }
    @{
        Name = 'New-DeploymentBackup of a deployment whose engine endpoint is of a scheme Docker does not speak'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), "services:`n  server-a: {image: `"sandbox:1.7.5`"}`n  server-b: {image: `"sandbox:1.7.5`"}`n  worker: {image: `"sandbox:1.7.5`"}`n  database: {image: postgres:15}`n  cache: {image: redis:7}`n  lb: {image: lb:1}`n") }
        Run = { param($Dir) $d = New-TestDeployment -Profile "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" -Location (Join-Path $Dir 'docker-compose.yml'); $d.Endpoint = 'gopher://engine:70'; $d | New-DeploymentBackup -Path (Join-Path $Dir 'backups') -Force }
        ErrorId = 'InvalidDockerHost'; Category = 'InvalidArgument'; Target = 'gopher://engine:70'
    }
    @{
        Name = 'Get-UpgradeDeployment -Kubeconfig of a file that does not exist'
        Run = { param($Dir) Get-UpgradeDeployment -Namespace ns -Release rel -Kubeconfig (Join-Path $Dir 'kubeconfig') }
        ErrorId = 'KubeconfigInvalid'; Category = 'InvalidArgument'; Target = { param($Dir) Join-Path $Dir 'kubeconfig' }
    }
    New-KubeconfigCase 'a file that is not YAML' 'clusters: [unclosed'
    New-KubeconfigCase 'whose server is not a URL' (Get-Kubeconfig "{server: 'not a url'}")
    # $Dir is put in when the case runs.
    New-KubeconfigCase 'whose certificate authority file is missing' (Get-Kubeconfig "{server: 'https://127.0.0.1:1', certificate-authority: '<dir>/ca.crt'}")
    @{
        Name = 'Get-UpgradeDeployment -KubeContext that the kubeconfig does not have'
        Run = { Get-UpgradeDeployment -Namespace ns -Release rel -KubeContext nowhere }
        ErrorId = 'KubeconfigInvalid'; Category = 'InvalidArgument'; Target = 'nowhere'
    }
)

# Get-UpgradeDeployment on a real Compose deployment (the sandbox), created by Debian's docker-compose.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'SandboxFixture.ps1')
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:sandbox = Use-TestSandbox -Version 1.6.4
}

Describe 'Get-UpgradeDeployment on the sandbox' -Tag 'Sandbox', 'Deployment' {
    It 'describes the deployment at 1.6.4 from its compose file' {
        $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningVariable warnings
        $d.PSObject.TypeNames[0] | Should -Be 'UpgradeOps.Deployment'
        $d.Name | Should -Be $sandbox.ProjectName
        $d.Platform | Should -Be 'Compose'
        $d.Version | Should -Be '1.6.4'
        $d.ConfiguredVersion | Should -Be '1.6.4'
        $d.Healthy | Should -BeTrue
        $d.ApiEndpoint | Should -Be 'http://127.0.0.1:58000'
        $d.Location | Should -Be $sandbox.ComposeFile
        $warnings | Should -BeNullOrEmpty
    }

    It 'maps services to roles, with images, replicas and health' {
        $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath
        $services = @{}; $d.Services | ForEach-Object { $services[$_.Name] = $_ }
        $services['server-a'].Role | Should -Be 'Api'
        $services['server-b'].Role | Should -Be 'Api'
        $services['worker'].Role | Should -Be 'Worker'
        $services['worker'].Replicas | Should -Be 2
        $services['worker'].ExpectedReplicas | Should -Be 2
        $services['database'].Role | Should -Be 'Database'
        $services['cache'].Role | Should -Be 'Cache'
        $services['lb'].Role | Should -Be 'LoadBalancer'
        $services['server-a'].Image | Should -Be '127.0.0.1:5000/upgradeops/sandbox:1.6.4'
        $services['server-a'].Version | Should -Be '1.6.4'
        $services['server-a'].Containers[0].Health | Should -Be 'healthy'
        $d.Services.Healthy | Should -Not -Contain $false
    }

    It 'finds the same deployment by project name' {
        $d = Get-UpgradeDeployment -ProjectName $sandbox.ProjectName -Profile $profilePath
        $d.Location | Should -Be $sandbox.ComposeFile
        $d.Version | Should -Be '1.6.4'
    }

    It 'passes the deployment down the pipeline to Test-UpgradePath' {
        $path = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath | Test-UpgradePath -To 1.8.0
        $path.IsSupported | Should -BeTrue
        $path.Route | Should -Be '1.6.4 → 1.7.6 → 1.8.0'
        $path.Deployment.Name | Should -Be $sandbox.ProjectName
    }

    It 'survives ConvertTo-Json and Export-Clixml without secrets, and the cmdlets take it back' {
        $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath
        Assert-RoundTrip $d -Type UpgradeOps.Deployment -Secret (Get-DotEnvSecret $sandbox.Path) -AcceptedBy {
            param($deserialized)
            $path = $deserialized | Test-UpgradePath -To 1.8.0
            $path.Route | Should -Be '1.6.4 → 1.7.6 → 1.8.0'
            $path.Deployment.Services.Count | Should -Be $d.Services.Count
            (Test-PostUpgrade -Deployment $deserialized -Check ApiVersion).Passed | Should -BeTrue
        }
    }

    It 'reports a stopped worker as unhealthy with one of two containers' {
        $worker = (Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath).Services |
            Where-Object Name -eq 'worker' | ForEach-Object { $_.Containers[0].Name }
        docker stop $worker | Out-Null
        try {
            $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath
            $w = $d.Services | Where-Object Name -eq 'worker'
            $w.Replicas | Should -Be 1
            $w.Healthy | Should -BeFalse
            $d.Healthy | Should -BeFalse
            ($w.Containers | Where-Object Name -eq $worker).State | Should -Be 'exited'
        }
        finally {
            docker start $worker | Out-Null
        }
    }

    It 'says so when the .env names another version than the containers run' {
        $envFile = Join-Path $sandbox.Path '.env'
        $original = Get-Content -Raw $envFile
        try {
            ($original -replace '(?m)^VERSION=.*$', 'VERSION=1.7.5') | Set-Content -NoNewline $envFile
            $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningVariable warnings -WarningAction SilentlyContinue
            $d.Version | Should -Be '1.6.4'
            $d.ConfiguredVersion | Should -Be '1.7.5'
            ($warnings -join "`n") | Should -Match '1\.7\.5.*1\.6\.4'
            ($d.Warnings -join "`n") | Should -Match 'containers run 1\.6\.4'
        }
        finally {
            Set-Content -NoNewline -Path $envFile -Value $original
        }
    }

    It 'describes the deployment again after the guide''s manual upgrade to 1.7.5' {
        $envFile = Join-Path $sandbox.Path '.env'
        (Get-Content -Raw $envFile) -replace '(?m)^VERSION=.*$', 'VERSION=1.7.5' | Set-Content -NoNewline $envFile
        # Compose v1 cannot 'run' a one-off of a service whose container runs on the host network: stop it first.
        (Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Arguments stop, server-a, server-b, worker).ExitCode | Should -Be 0
        (Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Arguments run, --rm, -T, server-a, sandbox, upgrade).ExitCode | Should -Be 0
        (Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Arguments up, -d).ExitCode | Should -Be 0
        $deadline = (Get-Date).AddMinutes(2)
        do {
            Start-Sleep -Seconds 2
            $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue
        } until ($d.Healthy -or (Get-Date) -gt $deadline)
        $d.Version | Should -Be '1.7.5'
        $d.ConfiguredVersion | Should -Be '1.7.5'
        $d.Healthy | Should -BeTrue
        ($d.Services | Where-Object Name -eq 'worker').Version | Should -Be '1.7.5'
    }

    It 'refuses a profile whose services the deployment lacks' {
        $err = $null
        try { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile infrahub -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ProfileServiceMissing,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidData'
        $err.Exception.Message | Should -Match 'infrahub-server'
        $err.TargetObject | Should -Be $sandbox.ComposeFile
    }
}

Describe 'Get-UpgradeDeployment errors' -Tag 'Sandbox', 'Deployment' {
    It 'names the endpoint it tried when no engine answers' {
        $err = $null
        try { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -DockerHost unix:///nonexistent/docker.sock -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DockerEngineUnreachable,*'
        $err.CategoryInfo.Category | Should -Be 'ConnectionError'
        $err.Exception.Message | Should -Match 'unix:///nonexistent/docker.sock'
        $err.Exception.Message | Should -Match 'DOCKER_HOST'
    }

    It 'honours DOCKER_HOST' {
        $saved = $env:DOCKER_HOST
        try {
            $env:DOCKER_HOST = 'unix:///nonexistent/other.sock'
            $err = $null
            try { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -ErrorAction Stop } catch { $err = $_ }
            $err.Exception.Message | Should -Match 'other.sock'
        }
        finally { $env:DOCKER_HOST = $saved }
    }

    It 'reports a project that does not exist' {
        $err = $null
        try { Get-UpgradeDeployment -ProjectName 'no-such-project' -Profile $profilePath -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ComposeProjectNotFound,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be 'no-such-project'
    }

    It 'reports a compose file that is not valid YAML with file, line and column' {
        $bad = Join-Path $TestDrive 'docker-compose.yml'
        Set-Content $bad "services:`n  app:`n    image: [unclosed`n"
        $err = $null
        try { Get-UpgradeDeployment -ComposeFile $bad -Profile $profilePath -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ComposeFileInvalid,*'
        $err.Exception.Message | Should -Match ([regex]::Escape($bad) + ':\d+:\d+')
    }

    It 'reports a missing compose file' {
        $err = $null
        try { Get-UpgradeDeployment -ComposeFile (Join-Path $TestDrive 'none.yml') -Profile $profilePath -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ComposeFileNotFound,*'
    }
}

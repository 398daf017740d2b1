# Argument completers as a user meets them: TabExpansion2 on a command line. No sandbox, no Docker.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    $script:changelog = Join-Path $PSScriptRoot 'Fixtures/CHANGELOG.md'
    $script:sandboxProfile = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'

    function Get-Completion([string] $Line) {
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
    }

    function Get-CompletionText([string] $Line) {
        @(Get-Completion $Line | ForEach-Object CompletionText)
    }

    # A backup folder with a valid manifest, written by the engine's own manifest type (its integrity hash included).
    function New-FakeBackup([string] $Folder, [string] $Deployment, [string] $Version, [datetime] $CreatedAt) {
        $null = Test-UpgradePath -From 1.0.0 -To 1.0.1   # makes sure the engine is loaded
        $engine = ([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'UpgradeOps.Engine').Assemblies |
            Where-Object { $_.GetName().Name -eq 'UpgradeOps.Engine' }
        $backup = [Activator]::CreateInstance($engine.GetType('UpgradeOps.DeploymentBackup'))
        $backup.Id = Split-Path $Folder -Leaf
        $backup.CreatedAt = [DateTimeOffset]$CreatedAt
        $backup.DeploymentName = $Deployment
        $backup.Version = $Version
        $manifest = [Activator]::CreateInstance($engine.GetType('UpgradeOps.Backups.BackupManifest'))
        $manifest.Backup = $backup
        $null = New-Item -ItemType Directory -Force -Path $Folder
        Set-Content -Path (Join-Path $Folder 'manifest.json') -Value $manifest.ToJson() -NoNewline
    }
}

Describe 'Version completion' -Tag 'Completion' {
    It 'completes -To from the catalog of the bound profile, newest first' {
        $matches = Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To "
        $matches.CompletionText | Should -Be @('2.0.0', '1.8.0', '1.7.6', '1.7.5')
        $matches[0].ToolTip | Should -Match 'catalog of profile'
    }

    It 'filters by what is typed' {
        (Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To 1.7").CompletionText | Should -Be @('1.7.6', '1.7.5')
    }

    It 'completes -From with every known version' {
        (Get-Completion "Test-UpgradePath -Profile '$sandboxProfile' -To 2.0.0 -From ").CompletionText |
            Should -Be @('2.0.0', '1.8.0', '1.7.6', '1.7.5', '1.6.4')
    }

    It 'reads versions from the bound release notes (the infrahub profile has no catalog)' {
        $matches = Get-Completion "Test-UpgradePath -From 1.6.3 -ReleaseNotePath '$changelog' -To "
        $matches.CompletionText | Should -Contain '1.7.6'
        $matches.CompletionText | Should -Not -Contain '1.6.3'
        $matches[0].ToolTip | Should -Match 'release notes'
    }

    It 'adds the bound -AvailableVersion values' {
        (Get-Completion 'Test-UpgradePath -From 1.0.0 -AvailableVersion 1.0.1, 1.1.0 -To ').CompletionText | Should -Be @('1.1.0', '1.0.1')
    }

    It 'uses the profile of the bound deployment' {
        $deployment = [pscustomobject]@{ PSTypeName = 'UpgradeOps.Deployment'; Name = 'x'; Profile = $sandboxProfile; Version = '1.7.5' }
        Get-CompletionText 'Test-UpgradeReadiness -Deployment $deployment -To ' | Should -Be @('2.0.0', '1.8.0', '1.7.6')
    }

    It 'completes Get-UpgradeReleaseNote -To from its -Path' {
        (Get-Completion "Get-UpgradeReleaseNote -Path '$changelog' -To ").CompletionText | Should -Contain '2.0.0'
    }

    It 'completes -ExpectedVersion and Invoke-Upgrade -To' {
        Get-CompletionText "Test-PostUpgrade -ExpectedVersion 1." | Should -BeNullOrEmpty -Because 'infrahub has no catalog and nothing else is bound'
        $deployment = [pscustomobject]@{ Name = 'x'; Profile = $sandboxProfile; Version = '1.8.0' }
        Get-CompletionText 'Invoke-Upgrade -Deployment $deployment -To ' | Should -Be @('2.0.0')
        Get-CompletionText 'Test-PostUpgrade -Deployment $deployment -ExpectedVersion 2' | Should -Be @('2.0.0')
    }

    It 'never throws on a profile or release notes that do not exist' {
        { Get-Completion 'Test-UpgradePath -From 1.0.0 -Profile /nonexistent/profile.yml -ReleaseNotePath /nonexistent/CHANGELOG.md -To ' } |
            Should -Not -Throw
        (Get-Completion 'Test-UpgradePath -From 1.0.0 -Profile /nonexistent/profile.yml -To ') | Should -BeNullOrEmpty
    }

    It 'is fast' {
        $null = Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To "
        (Measure-Command { $null = Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To " }).TotalMilliseconds |
            Should -BeLessThan 500
    }
}

Describe 'Backup completion' -Tag 'Completion' {
    BeforeAll {
        $script:backups = Join-Path $TestDrive 'backups'
        New-FakeBackup (Join-Path $backups 'upgradeops-sandbox-20250101') 'upgradeops-sandbox' '1.7.5' '2025-01-01T10:00:00Z'
        New-FakeBackup (Join-Path $backups 'upgradeops-sandbox-20250301') 'upgradeops-sandbox' '1.7.6' '2025-03-01T10:00:00Z'
        $null = New-Item -ItemType Directory -Force (Join-Path $backups 'not-a-backup')
    }

    It 'completes Test-DeploymentBackup -Path with the backups of the typed folder, newest first, then other folders' {
        $matches = Get-Completion "Test-DeploymentBackup -Path $backups/"
        $matches.CompletionText | Should -Be @("$backups/upgradeops-sandbox-20250301", "$backups/upgradeops-sandbox-20250101", "$backups/not-a-backup")
        $matches[0].ToolTip | Should -Match 'upgradeops-sandbox 1\.7\.6'
        $matches[2].ResultType | Should -Be 'ProviderContainer'
    }

    It 'completes backups under the current location, relative as typed' {
        Push-Location $backups
        try {
            Get-CompletionText 'Restore-DeploymentBackup -Path upgrade' |
                Should -Be @('upgradeops-sandbox-20250301', 'upgradeops-sandbox-20250101')
        }
        finally { Pop-Location }
    }

    It 'never throws on a folder that does not exist' {
        { Get-Completion 'Test-DeploymentBackup -Path /nonexistent/folder/' } | Should -Not -Throw
        Get-Completion 'Test-DeploymentBackup -Path /nonexistent/folder/' | Should -BeNullOrEmpty
    }
}

Describe 'Component completion' -Tag 'Completion' {
    It 'completes New-DeploymentBackup -Component with the data stores of the deployment''s profile and config' {
        $deployment = [pscustomobject]@{ Name = 'x'; Profile = $sandboxProfile }
        $line = 'New-DeploymentBackup -Deployment $deployment -Path /tmp -Component '
        Get-CompletionText $line |
            Should -Be @('database', 'artifacts', 'repositories', 'config')
    }

    It 'defaults to the infrahub profile' {
        (Get-Completion 'New-DeploymentBackup -Path /tmp -Component task').CompletionText | Should -Be @('task-manager-db')
    }
}

Describe 'Service name completion' -Tag 'Completion' {
    It 'completes Get-UpgradeDiagnostic -Service with the services of the bound deployment' {
        $null = Test-UpgradePath -From 1.0.0 -To 1.0.1   # makes sure the engine is loaded
        $engine = ([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'UpgradeOps.Engine').Assemblies |
            Where-Object { $_.GetName().Name -eq 'UpgradeOps.Engine' }
        $global:completionDeployment = [Activator]::CreateInstance($engine.GetType('UpgradeOps.Deployment'))
        $global:completionDeployment.Name = 'sbx'
        $services = foreach ($name in 'worker', 'server-a', 'server-b', 'database') {
            $service = [Activator]::CreateInstance($engine.GetType('UpgradeOps.DeploymentService'))
            $service.Name = $name
            $service
        }
        $list = [Array]::CreateInstance($engine.GetType('UpgradeOps.DeploymentService'), $services.Count)
        for ($i = 0; $i -lt $services.Count; $i++) { $list[$i] = $services[$i] }
        $global:completionDeployment.Services = $list
        try {
            Get-CompletionText 'Get-UpgradeDiagnostic -Deployment $global:completionDeployment -Service ' | Should -Be @('database', 'server-a', 'server-b', 'worker')
            Get-CompletionText 'Get-UpgradeDiagnostic -Deployment $global:completionDeployment -Service ser' | Should -Be @('server-a', 'server-b')
        }
        finally { Remove-Variable -Scope Global completionDeployment }
    }

    It 'completes nothing, and does not throw, without a bound deployment' {
        Get-CompletionText 'Get-UpgradeDiagnostic -Service ' | Should -BeNullOrEmpty
    }
}

Describe 'Completion cost' -Tag 'Completion' {
    It 'does not load Docker, Kubernetes or Npgsql while completing' {
        $script = "Import-Module '$env:UPGRADEOPS_MODULE'; " +
            "foreach (`$l in 'Test-UpgradePath -From 1.0.0 -AvailableVersion 1.0.1 -To ', 'New-DeploymentBackup -Path /tmp -Component ', 'Test-DeploymentBackup -Path /tmp/') " +
            "{ if (-not (TabExpansion2 -inputScript `$l -cursorColumn `$l.Length).CompletionMatches) { throw `"nothing completed: `$l`" } }; " +
            "[AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -join ','"
        $loaded = & (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')) -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be 0
        $loaded | Should -Match 'UpgradeOps\.Engine'
        $loaded | Should -Not -Match 'Docker\.DotNet|KubernetesClient|Npgsql'
    }
}

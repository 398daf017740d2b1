# The README's demo command (build.ps1 -Task Demo) runs examples/Demo-Runbook.ps1 on the Infrahub sandbox with the
# built-in profile. This runs the script as that command does, to the end, and checks that none of the sandbox's .env
# secrets (the Neo4j password, the admin token, the broker password) is in its output or in any file it or the module
# wrote but the backups' copies of the configuration.
# Tagged GraphSandbox, not Sandbox: the Infrahub sandbox has its own ports (8000, 7474, ...), so the file runs in a process
# beside the Compose sandbox's files, one after the other with Infrahub.Tests.ps1 and Neo4j.Tests.ps1, which use the same ports.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/Sandbox.psm1') -Force
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    . (Join-Path $PSScriptRoot 'DemoFixture.ps1')
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:demo = Join-Path $env:UPGRADEOPS_ROOT 'examples/Demo-Runbook.ps1'
    # Not out/demo: the sandbox app's demo test writes there meanwhile, in another process.
    $script:demoOut = Join-Path $TestDrive 'demo'
    $script:folder = Join-Path $env:UPGRADEOPS_ROOT 'out/sandbox/upgradeops-infrahub'
}

Describe 'The demo on the Infrahub sandbox' -Tag 'GraphSandbox', 'Demo', 'Infrahub' {
    It 'runs the runbook with the built-in profile to the end (rehearsal, upgrade, a failed 1.2.0 rolled back), leaking no secret' {
        try {
            $output = (& $pwsh -NoProfile -File $demo -ModulePath $env:UPGRADEOPS_MODULE -OutputPath $demoOut -Keep 2>&1 | Out-String) -replace '\x1b\[[0-9;?]*[A-Za-z]', ''
            $LASTEXITCODE | Should -Be 0 -Because $output
            $output | Should -Match 'Infrahub 1\.1\.7 in its own topology'
            $output | Should -Not -Match '-Profile' -Because 'the built-in profile is found by the services'
            foreach ($step in 'Test-UpgradePath -To 1.1.8', 'New-DeploymentBackup', 'Test-DeploymentBackup -Deployment $d -RestoreTest',
                'Invoke-UpgradeRehearsal -To 1.1.8', 'Test-UpgradeReadiness', 'Export-UpgradeReport', 'Invoke-Upgrade', 'Test-PostUpgrade', 'Get-UpgradeHistory') {
                $output | Should -Match ([regex]::Escape($step))
            }
            $output | Should -Match 'RolledBack'
            (Get-UpgradeDeployment -ComposeFile (Join-Path $folder 'docker-compose.yml') -WarningAction SilentlyContinue).Version | Should -Be '1.1.8'

            $secrets = @(Get-DotEnvSecret $folder)
            $secrets.Count | Should -Be 3 -Because 'the .env holds the Neo4j password, the admin token and the broker password'
            $places = @{ 'the demo''s output' = $output }
            (Get-TextOf $demoOut -Exclude 'backups/*/config/*').GetEnumerator() | ForEach-Object { $places["demo/$($_.Key)"] = $_.Value }
            (Get-TextOf $folder -Exclude '.env', 'docker-compose.yml').GetEnumerator() | ForEach-Object { $places["deployment/$($_.Key)"] = $_.Value }
            $places.Keys | Where-Object { $_ -like 'deployment/.upgradeops/journal/*' } | Should -Not -BeNullOrEmpty -Because 'the journals are scanned too'
            $places.Keys | Where-Object { $_ -like 'demo/backups/*' } | Should -Not -BeNullOrEmpty -Because 'the backups are scanned too'
            Find-SecretLeak $places $secrets | Should -BeNullOrEmpty
        }
        finally {
            Stop-Sandbox -ProjectName upgradeops-infrahub -Path $folder -RemoveVolumes -RemoveFolder | Out-Null
        }
        @(docker ps -aq --filter 'label=com.docker.compose.project=upgradeops-infrahub').Count | Should -Be 0
        Test-Path $folder | Should -BeFalse
    }
}

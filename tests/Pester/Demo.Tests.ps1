# The demo script (examples/Demo-Runbook.ps1) on the sandbox app (-Sandbox App); the README's demo command runs it on the
# Infrahub sandbox (InfrahubDemo.Tests.ps1).
# It is also the canary run: the sandbox's .env holds generated secrets (the database password, a canary the application
# never shows, the signing key), and after the runbook (backups, restore test, rehearsal, report, upgrade, failed upgrade
# and rollback, validation, history) and a diagnostics bundle, none of them may be in any output stream or in any file
# the module wrote, but in the parts of a backup that hold the configuration itself.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/Sandbox.psm1') -Force
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:demo = Join-Path $env:UPGRADEOPS_ROOT 'examples/Demo-Runbook.ps1'
    $script:demoOut = Join-Path $env:UPGRADEOPS_ROOT 'out/demo'
    . (Join-Path $PSScriptRoot 'DemoFixture.ps1')
}

Describe 'The demo' -Tag 'Sandbox', 'Demo' {
    It 'runs the runbook to the end, printing the objects, leaking no secret, and removes the sandbox' {
        try {
            # Without colours: the output is the failure message, and escape sequences only make it unreadable.
            $output = (& $pwsh -NoProfile -File $demo -ModulePath $env:UPGRADEOPS_MODULE -Sandbox App -Keep 2>&1 | Out-String) -replace '\x1b\[[0-9;?]*[A-Za-z]', ''
            $LASTEXITCODE | Should -Be 0 -Because $output
            foreach ($step in 'Test-UpgradePath', 'Test-UpgradeReadiness', 'New-DeploymentBackup', 'Test-DeploymentBackup -Deployment $d -RestoreTest',
                'Invoke-UpgradeRehearsal', 'Export-UpgradeReport', 'Invoke-Upgrade', 'Test-PostUpgrade', 'Get-UpgradeHistory') {
                $output | Should -Match ([regex]::Escape($step))
            }
            $output | Should -Match 'RolledBack'
            $output | Should -Match 'MigrationFailed'
            $output | Should -Match 'The sandbox is still running'

            $sandbox = Get-Sandbox
            $secrets = @(Get-DotEnvSecret $sandbox.Path)
            $secrets.Count | Should -BeGreaterOrEqual 2 -Because 'the .env holds the database password and the canary (the signing key only from 2.0.0)'
            $deployment = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml') -WarningAction SilentlyContinue
            $bundle = Join-Path $demoOut 'diagnostics.zip'
            $diagnostics = ($deployment | Get-UpgradeDiagnostic -OutFile $bundle -Force -Verbose 4>&1 | Out-String)

            $places = @{ 'the demo''s output' = $output; 'Get-UpgradeDiagnostic''s streams' = $diagnostics }
            # The reports, the backups but their configuration parts (config/.env is the .env itself), and the bundle's entries.
            (Get-TextOf $demoOut -Exclude 'backups/*/config/*', 'diagnostics.zip').GetEnumerator() | ForEach-Object { $places["out/demo/$($_.Key)"] = $_.Value }
            $zip = [IO.Compression.ZipFile]::OpenRead($bundle)
            try {
                foreach ($entry in $zip.Entries) {
                    $reader = [IO.StreamReader]::new($entry.Open())
                    try { $places["diagnostics.zip:$($entry.FullName)"] = $reader.ReadToEnd() } finally { $reader.Dispose() }
                }
            }
            finally { $zip.Dispose() }
            # What the module keeps beside the deployment: journals, history, locks.
            (Get-TextOf $sandbox.Path -Exclude '.env', 'docker-compose.yml', 'remote/*').GetEnumerator() | ForEach-Object { $places["deployment/$($_.Key)"] = $_.Value }
            $places.Keys | Where-Object { $_ -like 'deployment/.upgradeops/journal/*' } | Should -Not -BeNullOrEmpty -Because 'the journals are scanned too'

            $leaks = Find-SecretLeak $places $secrets
            $leaks | Should -BeNullOrEmpty
            Write-Host "Canary run: $($secrets.Count) secrets searched in $($places.Count) outputs and files, $(@($leaks).Count) found"
        }
        finally {
            Stop-Sandbox -RemoveVolumes | Out-Null
        }
        @(docker ps -q --filter 'label=com.docker.compose.project=upgradeops-sandbox').Count | Should -Be 0
        @(docker ps -aq --filter 'label=io.upgradeops.rehearsal.id' --filter 'label=io.upgradeops.rehearsal.source=upgradeops-sandbox').Count | Should -Be 0
    }
}

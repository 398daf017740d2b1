# The README's demo command runs the whole runbook on the sandbox to the end (build.ps1 -Task Demo runs the same script).
BeforeAll {
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:demo = Join-Path $env:UPGRADEOPS_ROOT 'examples/Demo-Runbook.ps1'
}

Describe 'The demo' -Tag 'Sandbox', 'Demo' {
    It 'runs the runbook to the end, printing the objects, and removes the sandbox' {
        # Without colours: the output is the failure message, and escape sequences only make it unreadable.
        $output = (& $pwsh -NoProfile -File $demo -ModulePath $env:UPGRADEOPS_MODULE 2>&1 | Out-String) -replace '\x1b\[[0-9;?]*[A-Za-z]', ''
        $LASTEXITCODE | Should -Be 0 -Because $output
        foreach ($step in 'Test-UpgradePath', 'Test-UpgradeReadiness', 'New-DeploymentBackup', 'Test-DeploymentBackup -Deployment $d -RestoreTest',
            'Invoke-UpgradeRehearsal', 'Export-UpgradeReport', 'Invoke-Upgrade', 'Test-PostUpgrade', 'Get-UpgradeHistory') {
            $output | Should -Match ([regex]::Escape($step))
        }
        $output | Should -Match 'RolledBack'
        $output | Should -Match 'MigrationFailed'
        $output | Should -Match 'The sandbox was removed'
        @(docker ps -q --filter 'label=com.docker.compose.project=upgradeops-sandbox').Count | Should -Be 0
        @(docker ps -aq --filter 'label=io.upgradeops.rehearsal.id').Count | Should -Be 0
    }
}

@{
    # The one place the module version is written: build.ps1 passes it to the .NET build.
    ModuleVersion        = '0.1.0'
    GUID                 = '6f4f0a53-1c0e-4d55-9a7e-3b8f2f1c9d21'
    RootModule           = 'UpgradeOps.dll'
    Author               = 'UpgradeOps contributors'
    CompanyName          = 'UpgradeOps'
    Copyright            = '(c) UpgradeOps contributors. MIT License.'
    Description          = 'Safe, repeatable upgrades of self-hosted containerized applications (Docker Compose or Helm on Kubernetes): release notes, upgrade paths, backups, upgrades, rollbacks and validation as PowerShell cmdlets that pass rich objects down the pipeline.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('UpgradeOps.Format.ps1xml')
    # How deep Export-Clixml, jobs and Azure Automation serialize the module's objects (their default cuts nested ones).
    TypesToProcess       = @('UpgradeOps.Types.ps1xml')
    # Imported first: puts the engine's isolated load context in place before the cmdlets load.
    NestedModules        = @('UpgradeOps.Loader.dll')
    CmdletsToExport      = @(
        'Convert-UpgradeConfiguration'
        'Export-UpgradeReport'
        'Get-DeploymentBackup'
        'Get-UpgradeDeployment'
        'Get-UpgradeDiagnostic'
        'Get-UpgradeHistory'
        'Get-UpgradeReleaseNote'
        'Invoke-Rollback'
        'Invoke-UpgradeRehearsal'
        'Invoke-Upgrade'
        'New-DeploymentBackup'
        'Restore-DeploymentBackup'
        'Test-DeploymentBackup'
        'Test-PostUpgrade'
        'Test-UpgradePath'
        'Test-UpgradeReadiness'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Upgrade', 'Docker', 'Compose', 'Kubernetes', 'Helm', 'Backup', 'Rollback', 'Infrahub', 'Linux', 'PSEdition_Core')
            ProjectUri   = 'https://github.com/upgradeops/UpgradeOps'
            LicenseUri   = 'https://github.com/upgradeops/UpgradeOps/blob/main/LICENSE'
            # Filled from CHANGELOG.md by build.ps1 (long notes: a pointer to the CHANGELOG.md shipped beside this file).
            ReleaseNotes = ''
        }
    }
}

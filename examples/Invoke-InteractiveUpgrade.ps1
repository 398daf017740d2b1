#!/usr/bin/env pwsh
<#
.SYNOPSIS
    The upgrade runbook as an administrator types it at the prompt, one step at a time.
.DESCRIPTION
    Each step returns an object to look at before the next one; nothing here is clever. Run it with
    -ComposeFile and -To, or copy the lines one by one into a session. Invoke-Upgrade and
    Restore-DeploymentBackup ask for confirmation (ConfirmImpact High): answer them, or use -WhatIf first.
    Tab completes the versions after -To (from the profile's catalog and -ReleaseNotePath) and the backup folders
    after Test-DeploymentBackup -Path.
.EXAMPLE
    ./Invoke-InteractiveUpgrade.ps1 -ComposeFile /srv/infrahub/docker-compose.yml -To 1.7.6 -BackupPath /backups -ReleaseNotePath ./CHANGELOG.md
#>
param(
    [Parameter(Mandatory)] [string] $ComposeFile,
    [Parameter(Mandatory)] [string] $To,
    [string] $BackupPath = '/backups',
    [string] $ReleaseNotePath,
    # A product profile: a built-in name or the path of a YAML file (see docs/profile-reference.md).
    [string] $Profile = 'infrahub'
)
$ErrorActionPreference = 'Stop'
Import-Module UpgradeOps

# 1. What runs, at which version, and is it healthy?
$d = Get-UpgradeDeployment -ComposeFile $ComposeFile -Profile $Profile
$d | Format-List Name, Version, Healthy, ApiEndpoint
$d.Services | Format-Table

# 2. Which hops, how long, what is unavailable meanwhile? What must be read first?
$notes = if ($ReleaseNotePath) { @{ ReleaseNotePath = $ReleaseNotePath } } else { @{} }
$path = $d | Test-UpgradePath -To $To @notes
$path | Format-List From, To, IsSupported, Reason, EstimatedDowntime, Impacts
$path.Steps | Format-Table
if (-not $path.IsSupported) { throw "No upgrade: $($path.Reason)" }
if ($ReleaseNotePath) {
    $path | Get-UpgradeReleaseNote -Path $ReleaseNotePath -Category BreakingChange, DatabaseMigration, ConfigurationChange | Format-Table -Wrap
}

# 3. A backup, proven to restore.
$backup = $d | New-DeploymentBackup -Path $BackupPath
$backup | Test-DeploymentBackup -Deployment $d -RestoreTest | Format-Table

# 4. The pre-upgrade checklist: every item with its remedy.
$readiness = $d | Test-UpgradeReadiness -To $To -Backup $backup @notes
$readiness.Checks | Format-Table Name, Status, Detail, Remedy -Wrap
if (-not $readiness.Ready) { Write-Warning 'The checklist has failed items: fix them (or acknowledge them) before you go on.' }

# 5. The upgrade (asks for confirmation), rolled back with its data if anything fails.
$result = $path | Invoke-Upgrade -Backup $backup -RollbackOnFailure
$result | Format-List Id, From, To, Strategy, Status, Downtime
$result.Steps | Format-Table

# 6. Prove it, or find out why not.
if ($result.Status -eq 'Succeeded') {
    $result | Test-PostUpgrade | Format-Table
}
else {
    $result | Get-UpgradeDiagnostic | Format-List
}
$d | Get-UpgradeHistory | Format-Table

<#
.SYNOPSIS
    Scheduled upgrade runbook for Azure Automation, run on a Hybrid Runbook Worker.
.DESCRIPTION
    Import UpgradeOps into the Automation account's PowerShell 7.4 runtime environment (the zip from
    build.ps1 -Task Package), then publish this runbook and link it to a schedule that runs it on a Hybrid Runbook
    Worker group: the worker is the machine that reaches the Docker Engine (and the product's databases) on-premises.
    The cloud sandbox cannot.

    Unattended by design: nothing prompts (-Confirm:$false and -Force on every changing cmdlet), progress bars are
    off (Azure Automation does not record them; UpgradeOps mirrors progress to Verbose), everything worth reading
    goes to the Information and Verbose streams, and any failure throws, so the job ends as Failed.

    Settings are Automation variables:
      UpgradeOps-ComposeFile     the deployment's compose file on the worker
      UpgradeOps-TargetVersion   the version to upgrade to
      UpgradeOps-BackupPath      the folder backups go to on the worker
      UpgradeOps-DiagnosticPath  the folder support bundles go to on failure
      UpgradeOps-Profile         (optional) a built-in profile name or a profile path on the worker
      UpgradeOps-ReleaseNotePath (optional) the product's CHANGELOG.md on the worker
    The Automation account's managed identity signs in to Azure (for anything else the runbook does, such as
    posting the result); UpgradeOps itself needs no Azure access.
#>
param(
    # A maintenance window end; the readiness checklist fails when the estimate does not fit before it.
    [datetime] $WindowEnd = (Get-Date).AddHours(2)
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$InformationPreference = 'Continue'
$VerbosePreference = 'Continue'

$null = Connect-AzAccount -Identity

$composeFile = Get-AutomationVariable -Name 'UpgradeOps-ComposeFile'
$to = Get-AutomationVariable -Name 'UpgradeOps-TargetVersion'
$backupPath = Get-AutomationVariable -Name 'UpgradeOps-BackupPath'
$diagnosticPath = Get-AutomationVariable -Name 'UpgradeOps-DiagnosticPath'
$profileName = try { Get-AutomationVariable -Name 'UpgradeOps-Profile' } catch { 'infrahub' }
$releaseNotePath = try { Get-AutomationVariable -Name 'UpgradeOps-ReleaseNotePath' } catch { $null }
$notes = if ($releaseNotePath) { @{ ReleaseNotePath = $releaseNotePath } } else { @{} }

Import-Module UpgradeOps

$deployment = Get-UpgradeDeployment -ComposeFile $composeFile -Profile $profileName
Write-Information "Deployment $($deployment.Name) runs $($deployment.Version); target $to."
if ($deployment.Version -eq $to) {
    Write-Information "Already at ${to}: nothing to do."
    return
}

$readiness = $deployment | Test-UpgradeReadiness -To $to -Window (Get-Date), $WindowEnd -BackupPath $backupPath @notes
foreach ($check in $readiness.Checks) { Write-Information "Readiness $($check.Name): $($check.Status) $($check.Detail)" }

$backup = $deployment | New-DeploymentBackup -Path $backupPath -Force -Confirm:$false
$verification = $backup | Test-DeploymentBackup -Deployment $deployment
if (-not $verification.Passed) { throw "Backup $($backup.Id) failed verification ($($verification.FailureErrorId)); no upgrade." }
Write-Information "Backup $($backup.Id) verified at $($backup.Path)."

$result = $null
try {
    $result = Invoke-Upgrade -Deployment $deployment -To $to -Backup $backup -RollbackOnFailure -RequireReadiness -Force -Confirm:$false
    Write-Information "Upgrade $($result.Id): $($result.Status), downtime $($result.Downtime)."
    if ($result.Status -ne 'Succeeded') { throw "Upgrade $($result.Id) ended $($result.Status)." }

    $validation = $result | Test-PostUpgrade
    foreach ($check in $validation.Checks) { Write-Information "Validation $($check.Name): $($check.Status) $($check.Detail)" }
    if (-not $validation.Passed) { throw "Post-upgrade validation failed for $($deployment.Name) at $to." }
}
catch {
    $bundle = Join-Path $diagnosticPath "upgradeops-$($deployment.Name)-$(Get-Date -Format yyyyMMdd-HHmmss).zip"
    try {
        $diagnostic = if ($result) { $result | Get-UpgradeDiagnostic -OutFile $bundle -Force -Confirm:$false }
                      else { $deployment | Get-UpgradeDiagnostic -OutFile $bundle -Force -Confirm:$false }
        foreach ($finding in $diagnostic.Findings) { Write-Information "Finding: $finding" }
        Write-Information "Support bundle: $bundle"
    }
    catch { Write-Warning "No diagnostic bundle: $_" }
    throw
}
Write-Information "$($deployment.Name) upgraded to $to and validated."

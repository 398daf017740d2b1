#!/usr/bin/env pwsh
<#
.SYNOPSIS
    The whole upgrade runbook on the sandbox, as an admin types it (build.ps1 -Task Demo runs this).
.DESCRIPTION
    Starts the sandbox deployment at 1.7.5, then: plans the path, backs up and proves the backup restores, rehearses
    the upgrade on a disposable copy, checks readiness, writes the change report and the users' notice, upgrades to 1.7.6, validates the upgrade, tries the withdrawn 1.7.7 whose migration fails (rolled back
    automatically), validates again, and lists the history. Every object is printed with its default view.
    The sandbox is removed at the end unless -Keep is given.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Demo
.EXAMPLE
    dotnet pwsh ./examples/Demo-Runbook.ps1 -ModulePath ./out/UpgradeOps/UpgradeOps.psd1 -Keep
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1'),
    [switch] $Keep
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
Import-Module (Resolve-Path $ModulePath).Path -Force
Import-Module (Join-Path $root 'tests/Sandbox/Sandbox.psm1') -Force

function Step([string] $Text) { Write-Host ''; Write-Host "== $Text" -ForegroundColor Cyan }
function Show([string] $Command) { Write-Host "PS> $Command" -ForegroundColor Yellow }

Step 'A deployment to upgrade: the sandbox at 1.7.5 (an Infrahub-shaped app on PostgreSQL and Redis)'
$sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
$profilePath = Join-Path $root 'tests/Sandbox/profile.yml'
$backups = Join-Path $root 'out/demo/backups'
New-Item -ItemType Directory -Force $backups | Out-Null
try {
    Show "`$d = Get-UpgradeDeployment -ComposeFile $($sandbox.ComposeFile) -Profile tests/Sandbox/profile.yml"
    $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue
    $d | Out-Host

    Step 'Check the upgrade path'
    Show '$d | Test-UpgradePath -To 1.7.6'
    $d | Test-UpgradePath -To 1.7.6 | Out-Host

    Step 'Back up, and prove the backup restores'
    Show "`$b = `$d | New-DeploymentBackup -Path $backups -Force"
    $b = $d | New-DeploymentBackup -Path $backups -Force
    $b | Out-Host
    Show '$b | Test-DeploymentBackup -Deployment $d -RestoreTest'
    $b | Test-DeploymentBackup -Deployment $d -RestoreTest | Out-Host

    Step 'Rehearse the upgrade on a disposable copy restored from the backup (the sandbox keeps serving)'
    Show '$rehearsal = $b | Invoke-UpgradeRehearsal -To 1.7.6 -Force'
    $rehearsal = $b | Invoke-UpgradeRehearsal -To 1.7.6 -Force
    $rehearsal | Out-Host
    $rehearsal.Hops | Out-Host
    if (-not $rehearsal.Passed) { throw "The rehearsal $($rehearsal.Status): $($rehearsal.Errors -join ' ')" }

    Step 'The pre-upgrade checklist'
    $start = [DateTimeOffset]::Now.AddMinutes(5)
    Show '$d | Test-UpgradeReadiness -To 1.7.6 -Backup $b -Rehearsal $rehearsal -Window $start, $start.AddHours(1)'
    $d | Test-UpgradeReadiness -To 1.7.6 -Backup $b -Rehearsal $rehearsal -Window $start, $start.AddHours(1) | Out-Host
    $reports = Join-Path $root 'out/demo'
    Show "`$rehearsal | Export-UpgradeReport -Path $reports/change.md -NoticePath $reports/notice.md -MaintenanceStart `$start -Force"
    $rehearsal | Export-UpgradeReport -Path (Join-Path $reports 'change.md') -NoticePath (Join-Path $reports 'notice.md') -MaintenanceStart $start `
        -Profile $profilePath -Force | Out-Host
    Get-Content (Join-Path $reports 'notice.md') | Out-Host

    Step 'Upgrade, then prove it'
    Show '$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $b -RollbackOnFailure -Force | Test-PostUpgrade'
    $result = $d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $b -RollbackOnFailure -Force
    $result | Out-Host
    $result | Test-PostUpgrade | Out-Host

    Step 'An upgrade that fails: 1.7.7 was withdrawn because its migration breaks; -RollbackOnFailure brings 1.7.6 back'
    $d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue
    Show '$b2 = $d | New-DeploymentBackup -Path $backups -Force'
    $b2 = $d | New-DeploymentBackup -Path $backups -Force
    Show '$d | Test-UpgradePath -To 1.7.7 -AvailableVersion 1.7.7 | Invoke-Upgrade -Backup $b2 -RollbackOnFailure -Force'
    $failed = $d | Test-UpgradePath -To 1.7.7 -AvailableVersion 1.7.7 | Invoke-Upgrade -Backup $b2 -RollbackOnFailure -Force -ErrorAction SilentlyContinue -ErrorVariable upgradeError
    $failed | Out-Host
    Write-Host "Error: $($upgradeError[0].FullyQualifiedErrorId)" -ForegroundColor Red
    if ($failed.Status -ne 'RolledBack') { throw "The failed upgrade ended $($failed.Status), not RolledBack." }
    # Every check, the logs read from when the rollback ended (the failed version's errors are history).
    Show '$failed | Test-PostUpgrade'
    $report = $failed | Test-PostUpgrade
    $report | Out-Host
    if (-not $report.Passed) { throw 'After the rollback the deployment does not validate.' }

    Step 'What happened'
    Show '$d | Get-UpgradeHistory'
    $d | Get-UpgradeHistory | Out-Host
}
finally {
    if ($Keep) {
        Write-Host "The sandbox is still running at $($sandbox.ApiEndpoint). Remove it with: dotnet pwsh ./build.ps1 -Task SandboxDown" -ForegroundColor Green
    }
    else {
        Stop-Sandbox -RemoveVolumes | Out-Null
        Write-Host 'The sandbox was removed (run with -Keep to explore it afterwards).' -ForegroundColor Green
    }
}

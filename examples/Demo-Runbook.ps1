#!/usr/bin/env pwsh
<#
.SYNOPSIS
    The whole upgrade runbook on a sandbox, as an admin types it (build.ps1 -Task Demo runs this).
.DESCRIPTION
    Starts a sandbox deployment, then: plans the path, backs up and proves the backup restores, rehearses the upgrade on
    a disposable copy, checks readiness, writes the change report and the users' notice, upgrades, validates the upgrade,
    tries a version whose migration fails (rolled back automatically), validates again, and lists the history. Every
    object is printed with its default view. The sandbox is removed at the end unless -Keep is given.

    -Sandbox Infrahub (the default): a deployment in Infrahub's own topology (tests/Sandbox/infrahub: Neo4j, RabbitMQ,
    Redis, Prefect's PostgreSQL) with the built-in infrahub profile, no -Profile, 1.1.7 → 1.1.8, and 1.2.0 as the version
    whose migration fails. Its database, Infrahub and Prefect are stand-ins of ours (no real one runs here).
    -Sandbox App: the sandbox app on PostgreSQL and Redis with tests/Sandbox/profile.yml, 1.7.5 → 1.7.6, and the
    withdrawn 1.7.7.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Demo
.EXAMPLE
    dotnet pwsh ./examples/Demo-Runbook.ps1 -ModulePath ./out/UpgradeOps/UpgradeOps.psd1 -Sandbox App -Keep
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1'),
    # Which deployment the runbook runs on (see the description).
    [ValidateSet('Infrahub', 'App')][string] $Sandbox = 'Infrahub',
    # Where the backups, the change report and the notice go (default: out/demo).
    [string] $OutputPath,
    [switch] $Keep
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$root = Split-Path $PSScriptRoot
Import-Module (Resolve-Path $ModulePath).Path -Force
Import-Module (Join-Path $root 'tests/Sandbox/Sandbox.psm1') -Force

function Step([string] $Text) { Write-Host ''; Write-Host "== $Text" -ForegroundColor Cyan }
function Show([string] $Command) { Write-Host "PS> $Command" -ForegroundColor Yellow }

if ($Sandbox -eq 'Infrahub') {
    Step 'A deployment to upgrade: Infrahub 1.1.7 in its own topology (Neo4j, RabbitMQ, Redis, Prefect and its PostgreSQL)'
    $deployment = Start-InfrahubSandbox -Version 1.1.7
    $to, $broken, $available = '1.1.8', '1.2.0', @('1.1.8', '1.2.0')
    # The built-in profile: Get-UpgradeDeployment recognises Infrahub by its services.
    $profileArguments = @{}
    $brokenWhy = "1.2.0's migration fails half-way and exits 0, as a real failed 'infrahub upgrade' does"
    $removeHint = "Import-Module ./tests/Sandbox/Sandbox.psm1; Stop-Sandbox -ProjectName $($deployment.ProjectName) -RemoveVolumes -RemoveFolder"
}
else {
    Step 'A deployment to upgrade: the sandbox at 1.7.5 (an Infrahub-shaped app on PostgreSQL and Redis)'
    $deployment = Start-Sandbox -Version 1.7.5 -Seed -Force
    $to, $broken, $available = '1.7.6', '1.7.7', @('1.7.6', '1.7.7')
    $profileArguments = @{ Profile = (Join-Path $root 'tests/Sandbox/profile.yml') }
    $brokenWhy = '1.7.7 was withdrawn because its migration breaks'
    $removeHint = 'dotnet pwsh ./build.ps1 -Task SandboxDown'
}
$profileText = if ($profileArguments.Profile) { ' -Profile tests/Sandbox/profile.yml' } else { '' }
$availableText = $available -join ','
if (-not $OutputPath) { $OutputPath = Join-Path $root 'out/demo' }
$backups = Join-Path $OutputPath 'backups'
New-Item -ItemType Directory -Force $backups | Out-Null
try {
    Show "`$d = Get-UpgradeDeployment -ComposeFile $($deployment.ComposeFile)$profileText"
    $d = Get-UpgradeDeployment -ComposeFile $deployment.ComposeFile @profileArguments -WarningAction SilentlyContinue
    $d | Out-Host

    Step 'Check the upgrade path'
    Show "`$d | Test-UpgradePath -To $to -AvailableVersion $availableText"
    $d | Test-UpgradePath -To $to -AvailableVersion $available | Out-Host

    Step 'Back up, and prove the backup restores'
    Show "`$b = `$d | New-DeploymentBackup -Path $backups -Force"
    $b = $d | New-DeploymentBackup -Path $backups -Force
    $b | Out-Host
    Show '$b | Test-DeploymentBackup -Deployment $d -RestoreTest'
    $b | Test-DeploymentBackup -Deployment $d -RestoreTest | Out-Host

    Step 'Rehearse the upgrade on a disposable copy restored from the backup (the sandbox keeps serving)'
    Show "`$rehearsal = `$b | Invoke-UpgradeRehearsal -To $to -AvailableVersion $availableText -Force"
    $rehearsal = $b | Invoke-UpgradeRehearsal -To $to -AvailableVersion $available -Force
    $rehearsal | Out-Host
    $rehearsal.Hops | Out-Host
    if (-not $rehearsal.Passed) { throw "The rehearsal $($rehearsal.Status): $($rehearsal.Errors -join ' ')" }

    Step 'The pre-upgrade checklist'
    $start = [DateTimeOffset]::Now.AddMinutes(5)
    Show "`$d | Test-UpgradeReadiness -To $to -AvailableVersion $availableText -Backup `$b -Rehearsal `$rehearsal -Window `$start, `$start.AddHours(1)"
    $d | Test-UpgradeReadiness -To $to -AvailableVersion $available -Backup $b -Rehearsal $rehearsal -Window $start, $start.AddHours(1) | Out-Host
    $reports = $OutputPath
    Show "`$rehearsal | Export-UpgradeReport -Path $reports/change.md -NoticePath $reports/notice.md -MaintenanceStart `$start -Force"
    $rehearsal | Export-UpgradeReport -Path (Join-Path $reports 'change.md') -NoticePath (Join-Path $reports 'notice.md') -MaintenanceStart $start `
        @profileArguments -Force | Out-Host
    Get-Content (Join-Path $reports 'notice.md') | Out-Host

    Step 'Upgrade, then prove it'
    Show "`$d | Test-UpgradePath -To $to -AvailableVersion $availableText | Invoke-Upgrade -Backup `$b -RollbackOnFailure -Force | Test-PostUpgrade"
    $result = $d | Test-UpgradePath -To $to -AvailableVersion $available | Invoke-Upgrade -Backup $b -RollbackOnFailure -Force
    $result | Out-Host
    $result | Test-PostUpgrade | Out-Host

    Step "An upgrade that fails: $brokenWhy; -RollbackOnFailure brings $to back"
    $d = Get-UpgradeDeployment -ComposeFile $deployment.ComposeFile @profileArguments -WarningAction SilentlyContinue
    Show '$b2 = $d | New-DeploymentBackup -Path $backups -Force'
    $b2 = $d | New-DeploymentBackup -Path $backups -Force
    Show "`$d | Test-UpgradePath -To $broken -AvailableVersion $availableText | Invoke-Upgrade -Backup `$b2 -RollbackOnFailure -Force"
    $failed = $d | Test-UpgradePath -To $broken -AvailableVersion $available | Invoke-Upgrade -Backup $b2 -RollbackOnFailure -Force -ErrorAction SilentlyContinue -ErrorVariable upgradeError
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
        Write-Host "The sandbox is still running at $($deployment.ApiEndpoint). Remove it with: $removeHint" -ForegroundColor Green
    }
    else {
        $deployment | Stop-Sandbox -RemoveVolumes | Out-Null
        Write-Host 'The sandbox was removed (run with -Keep to explore it afterwards).' -ForegroundColor Green
    }
}

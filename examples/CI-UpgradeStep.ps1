#!/usr/bin/env pwsh
<#
.SYNOPSIS
    A CI/CD pipeline step: plan (and optionally perform) an upgrade, write a JSON and a JUnit summary, exit non-zero on failure.
.DESCRIPTION
    -Mode Plan needs no deployment: it checks the upgrade path and the release notes between -From and -To (a
    pipeline that gates a version bump in a pull request). -Mode Upgrade runs the whole runbook on the deployment of
    -ComposeFile unattended: readiness, backup, upgrade with rollback on failure, validation, and a diagnostic bundle
    when something fails. Exit codes: 0 success, 1 refused or failed, 2 bad input.

    GitHub Actions:
        - run: pwsh ./examples/CI-UpgradeStep.ps1 -Mode Plan -From 1.6.4 -To 1.7.6 -ReleaseNotePath ./CHANGELOG.md -OutputPath out/upgrade
    Azure Pipelines:
        - pwsh: ./examples/CI-UpgradeStep.ps1 -Mode Upgrade -ComposeFile /srv/app/docker-compose.yml -To $(TargetVersion) -BackupPath /backups
        - task: PublishTestResults@2
          inputs: { testResultsFormat: JUnit, testResultsFiles: out/upgrade/upgrade-junit.xml }
#>
[CmdletBinding()]
param(
    [ValidateSet('Plan', 'Upgrade')]
    [string] $Mode = 'Plan',
    [Parameter(Mandatory)] [string] $To,
    # Plan mode: the version to plan from (Upgrade mode reads it from the deployment).
    [string] $From,
    [string] $ComposeFile,
    [string] $Profile = 'infrahub',
    [string] $ReleaseNotePath,
    [string[]] $AvailableVersion = @(),
    [string] $BackupPath = './backups',
    [string] $OutputPath = './out/upgrade',
    # The module to import; by default the installed UpgradeOps.
    [string] $ModulePath = 'UpgradeOps'
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Import-Module $ModulePath

$null = New-Item -ItemType Directory -Force -Path $OutputPath
$checks = [System.Collections.Generic.List[object]]::new()
function Add-Check([string] $Name, [bool] $Passed, [string] $Detail) {
    $checks.Add([pscustomobject]@{ Name = $Name; Passed = $Passed; Detail = $Detail })
    Write-Information "$(if ($Passed) { 'PASS' } else { 'FAIL' }) $Name $Detail" -InformationAction Continue
}

function Write-Summary([int] $ExitCode) {
    $summary = [ordered]@{
        mode = $Mode; from = $From; to = $To; exitCode = $ExitCode; passed = ($ExitCode -eq 0)
        checks = @($checks)
    }
    $summary | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $OutputPath 'upgrade-summary.json')
    $failures = @($checks | Where-Object { -not $_.Passed }).Count
    $cases = foreach ($check in $checks) {
        $detail = [System.Security.SecurityElement]::Escape([string]$check.Detail)
        $name = [System.Security.SecurityElement]::Escape($check.Name)
        if ($check.Passed) { "    <testcase classname=`"UpgradeOps.$Mode`" name=`"$name`"><system-out>$detail</system-out></testcase>" }
        else { "    <testcase classname=`"UpgradeOps.$Mode`" name=`"$name`"><failure message=`"$detail`" /></testcase>" }
    }
    @(
        '<?xml version="1.0" encoding="utf-8"?>'
        "<testsuites><testsuite name=`"UpgradeOps $Mode $From to $To`" tests=`"$($checks.Count)`" failures=`"$failures`">"
        $cases
        '</testsuite></testsuites>'
    ) | Set-Content (Join-Path $OutputPath 'upgrade-junit.xml')
    exit $ExitCode
}

$notes = if ($ReleaseNotePath) { @{ ReleaseNotePath = $ReleaseNotePath } } else { @{} }
try {
    if ($Mode -eq 'Plan') {
        if (-not $From) { throw [System.ArgumentException]::new('-Mode Plan needs -From.') }
        $path = Test-UpgradePath -From $From -To $To -Profile $Profile -AvailableVersion $AvailableVersion @notes
        Add-Check 'UpgradePath' $path.IsSupported $(if ($path.IsSupported) { "$($path.Steps.Count) hop(s), downtime $($path.EstimatedDowntime)" } else { $path.Reason })
        if ($path.IsSupported -and $ReleaseNotePath) {
            $breaking = @($path | Get-UpgradeReleaseNote -Path $ReleaseNotePath -Category BreakingChange)
            Add-Check 'BreakingChanges' $true "$($breaking.Count) breaking change(s) to review"
        }
    }
    else {
        if (-not $ComposeFile) { throw [System.ArgumentException]::new('-Mode Upgrade needs -ComposeFile.') }
        $deployment = Get-UpgradeDeployment -ComposeFile $ComposeFile -Profile $Profile
        $From = $deployment.Version
        $readiness = $deployment | Test-UpgradeReadiness -To $To -BackupPath $BackupPath -AvailableVersion $AvailableVersion @notes
        foreach ($check in $readiness.Checks) { Add-Check "Readiness.$($check.Name)" ($check.Status -ne 'Failed') $check.Detail }
        if ($readiness.Ready) {
            $backup = $deployment | New-DeploymentBackup -Path $BackupPath -Force -Confirm:$false
            $verification = $backup | Test-DeploymentBackup -Deployment $deployment
            Add-Check 'Backup' $verification.Passed "$($backup.Id) $($verification.FailureErrorId)"
            if ($verification.Passed) {
                $result = Invoke-Upgrade -Deployment $deployment -To $To -AvailableVersion $AvailableVersion -Backup $backup `
                    -RollbackOnFailure -Force -Confirm:$false
                Add-Check 'Upgrade' ($result.Status -eq 'Succeeded') "$($result.Status), downtime $($result.Downtime)"
                if ($result.Status -eq 'Succeeded') {
                    $validation = $result | Test-PostUpgrade
                    foreach ($check in $validation.Checks) { Add-Check "Validation.$($check.Name)" ($check.Status -ne 'Failed') $check.Detail }
                }
                else {
                    $bundle = Join-Path $OutputPath 'diagnostic.zip'
                    $null = $result | Get-UpgradeDiagnostic -OutFile $bundle -Force -Confirm:$false
                    Add-Check 'Diagnostic' $true "support bundle: $bundle"
                }
            }
        }
    }
}
catch [System.ArgumentException] {
    Add-Check 'Input' $false $_.Exception.Message
    Write-Summary 2
}
catch {
    Add-Check 'Error' $false "$($_.FullyQualifiedErrorId): $($_.Exception.Message)"
    Write-Summary 1
}
Write-Summary ([int](@($checks | Where-Object { -not $_.Passed }).Count -gt 0))

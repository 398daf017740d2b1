#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Offline planning example: review the release notes and check the upgrade path, with no deployment.
.DESCRIPTION
    This is what README's first command runs. It uses the built-in Infrahub profile and a changelog
    written for this example, needs no network and changes nothing.
#>
param(
    # The module to import; defaults to the build output.
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/UpgradeOps/UpgradeOps.psd1'),
    [string] $ReleaseNotePath = (Join-Path $PSScriptRoot '../tests/Pester/Fixtures/CHANGELOG.md')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force

Write-Host "`n1. Which hops does 1.5.2 -> 2.0.0 take, and how long might they take?" -ForegroundColor Cyan
$path = Test-UpgradePath -From 1.5.2 -To 2.0.0 -ReleaseNotePath $ReleaseNotePath
$path | Format-Table
$path.Steps | Format-Table
"Estimated downtime: $($path.EstimatedDowntime); while it lasts: $($path.Impacts -join ', ')"

Write-Host "`n2. What must be read before the upgrade?" -ForegroundColor Cyan
$path | Get-UpgradeReleaseNote -Path $ReleaseNotePath -Category BreakingChange, DatabaseMigration, ConfigurationChange, Deprecation, Security |
    Format-Table -Wrap

Write-Host "`n3. Paths that are refused are results, not errors:" -ForegroundColor Cyan
@(
    Test-UpgradePath -From 1.7.6 -To 1.6.3 -ReleaseNotePath $ReleaseNotePath   # downgrade
    Test-UpgradePath -From 1.7.6 -To 1.9.0 -ReleaseNotePath $ReleaseNotePath   # unknown release
) | Format-Table -Wrap

Write-Host "`n4. Bad input is an error with a stable ErrorId and advice:" -ForegroundColor Cyan
try {
    Test-UpgradePath -From 1.7 -To 2.0.0 -ErrorAction Stop
}
catch {
    "ErrorId: $($_.FullyQualifiedErrorId)"
    "Message: $($_.Exception.Message)"
}

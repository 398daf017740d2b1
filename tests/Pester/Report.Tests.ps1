# Export-UpgradeReport without a deployment: its refusals, and a report of an upgrade result built by hand
# (the engine's types come from an output type, since they live in the engine's own load context).
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }

    function New-UpgradeResult {
        $type = (Get-Command Invoke-Upgrade).OutputType[0].Type
        $result = [Activator]::CreateInstance($type)
        $result.Id = 'upgrade-20261201-220500'
        $result.DeploymentName = 'infrahub'
        $result.From = '1.7.5'
        $result.To = '1.7.6'
        $result.Status = 'Succeeded'
        $result.Started = [DateTimeOffset]'2026-12-01T22:05:00Z'
        $result.Duration = [TimeSpan]::FromSeconds(95)
        $result.Downtime = [TimeSpan]::FromSeconds(12)
        $result.BackupId = 'infrahub-20261201-220000-1.7.5'
        $result.BackupPath = '/backups/infrahub-20261201-220000-1.7.5'
        $result
    }
}

Describe 'Planning with a rehearsal' -Tag 'Report' {
    BeforeAll {
        $type = (Get-Command Test-UpgradePath).Parameters['Rehearsal'].ParameterType
        $script:rehearsal = [Activator]::CreateInstance($type)
        $rehearsal.Id = 'rehearsal-1'
        $rehearsal.DeploymentName = 'infrahub'
        $rehearsal.CopyName = 'infrahub-rehearsal'
        $rehearsal.From = '1.7.0'
        $rehearsal.To = '1.7.6'
        $rehearsal.Status = 'Passed'
        $rehearsal.Started = [DateTimeOffset]::UtcNow.AddDays(-1)
        $rehearsal.EstimatedWindow = [TimeSpan]::FromMinutes(17.2)
        $rehearsal.Downtime = [TimeSpan]::FromSeconds(9)
    }

    It 'carries the measured window on the path and shows it in the default view' {
        $path = Test-UpgradePath -From 1.7.0 -To 1.7.6 -Rehearsal $rehearsal
        $path.MeasuredWindow | Should -Be ([TimeSpan]::FromMinutes(17.2))
        $path.RehearsalId | Should -Be 'rehearsal-1'
        $path.Reason | Should -Match 'Measured by rehearsal rehearsal-1'
        ($path | Format-Table | Out-String -Width 300) | Should -Match '5–10 min; measured 18 min'
        ($rehearsal | Format-Table | Out-String) | Should -Match 'rehearsal-1\s+1\.7\.0\s+1\.7\.6\s+Passed\s+9\.0 s\s+18 min'
    }

    It 'writes a report of a rehearsal' {
        $folder = Join-Path ([IO.Path]::GetTempPath()) "report-$([guid]::NewGuid().ToString('N'))"
        $null = New-Item -ItemType Directory $folder
        try {
            $file = $rehearsal | Export-UpgradeReport -Path (Join-Path $folder 'r.md')
            Get-Content $file.FullName -Raw | Should -Match '# Rehearsal report: infrahub 1\.7\.0 → 1\.7\.6'
        }
        finally { Remove-Item $folder -Recurse -Force }
    }
}

Describe 'Export-UpgradeReport' -Tag 'Report' {
    BeforeEach {
        $folder = Join-Path ([IO.Path]::GetTempPath()) "report-$([guid]::NewGuid().ToString('N'))"
        $null = New-Item -ItemType Directory $folder
    }
    AfterEach { Remove-Item $folder -Recurse -Force -ErrorAction SilentlyContinue }

    It 'refuses what is not a rehearsal or an upgrade, saying what to give' {
        $err = Get-ErrorFrom { 'hello' | Export-UpgradeReport -Path (Join-Path $folder 'r.md') -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'UnsupportedReportInput,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be 'hello'
        $err.Exception.Message | Should -Match 'Invoke-UpgradeRehearsal'
        Get-ChildItem $folder -Force | Should -BeNullOrEmpty
    }

    It 'refuses a folder that does not exist instead of creating it' {
        $target = Join-Path $folder 'missing/r.md'
        $err = Get-ErrorFrom { New-UpgradeResult | Export-UpgradeReport -Path $target -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ReportFolderNotFound,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be $target
        Join-Path $folder 'missing' | Should -Not -Exist
    }

    It 'writes the report and the notice atomically and returns their files' {
        $files = New-UpgradeResult | Export-UpgradeReport -Path (Join-Path $folder 'r.md') -NoticePath (Join-Path $folder 'n.md') -MaintenanceStart '2026-12-01T22:00:00+01:00'
        $files | Should -HaveCount 2
        $files[0] | Should -BeOfType ([IO.FileInfo])
        $files.Name | Should -Be @('r.md', 'n.md')
        (Get-ChildItem $folder -Force).Name | Sort-Object | Should -Be @('n.md', 'r.md')
        $report = Get-Content (Join-Path $folder 'r.md') -Raw
        $report | Should -Match '## Rollback plan'
        $report | Should -Match "Invoke-Rollback -Deployment \`$d -UpgradeId 'upgrade-20261201-220500' -Force"
        Get-Content (Join-Path $folder 'n.md') -Raw | Should -Match 'When: 2026-12-01 22:00 → 22:02 \(UTC\+01:00\)'
    }

    It 'never replaces a file without -Force' {
        $target = Join-Path $folder 'r.md'
        Set-Content $target 'keep me'
        $err = Get-ErrorFrom { New-UpgradeResult | Export-UpgradeReport -Path $target -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'ReportExists,*'
        $err.Exception.Message | Should -Match '-Force'
        Get-Content $target | Should -Be 'keep me'

        New-UpgradeResult | Export-UpgradeReport -Path $target -Force | Should -HaveCount 1
        Get-Content $target -Raw | Should -Match '# Upgrade report: infrahub 1.7.5 → 1.7.6'
    }

    It '-WhatIf names the files and writes none' {
        $type = (Get-Command Invoke-Upgrade).OutputType[0].Type
        $script = "Import-Module '$env:UPGRADEOPS_MODULE'; `$r = [Activator]::CreateInstance((Get-Command Invoke-Upgrade).OutputType[0].Type); " +
            "`$r.Id = 'u1'; `$r.DeploymentName = 'infrahub'; `$r.From = '1.7.5'; `$r.To = '1.7.6'; " +
            "`$r | Export-UpgradeReport -Path '$folder/r.md' -NoticePath '$folder/n.md' -WhatIf"
        $output = (& (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')) -NoProfile -NonInteractive -Command $script 2>&1) -join "`n"
        $output | Should -Match ([regex]::Escape("Write the Markdown report of upgrade u1 (infrahub 1.7.5 → 1.7.6) to $folder/r.md"))
        $output | Should -Match ([regex]::Escape("Write the maintenance notice of upgrade u1 (infrahub 1.7.5 → 1.7.6) to $folder/n.md"))
        Get-ChildItem $folder -Force | Should -BeNullOrEmpty
    }
}

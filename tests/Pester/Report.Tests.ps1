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

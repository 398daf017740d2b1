# Export-UpgradeReport masks the deployment's secrets also in results read back from the journal (Get-UpgradeHistory,
# Import-Clixml), which carry no Deployment. No Docker Engine is needed: the journal is written as an upgrade writes it.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $env:UPGRADEOPS_ROOT 'tests/Reliability/Reliability.ps1')
    $script:canary = 'canary-Zq81wLk-secret'

    # -InlineSecret: the secret is a default written in the compose file, as Infrahub's own file writes its passwords, not in .env.
    function New-JournalledDeployment([string] $Folder, [switch] $WithoutComposeFile, [switch] $InlineSecret) {
        $null = New-Item -ItemType Directory -Force -Path $Folder
        $compose = Join-Path $Folder 'docker-compose.yml'
        $environment = if ($InlineSecret) { "`n    environment:`n      INFRAHUB_DB_PASSWORD: `${INFRAHUB_DB_PASSWORD:-$canary}" } else { '' }
        Set-Content -LiteralPath $compose -Value "services:`n  infrahub-server:`n    image: registry.opsmill.io/opsmill/infrahub:`${VERSION:-1.7.5}$environment`n"
        Set-Content -LiteralPath (Join-Path $Folder '.env') -Value ($InlineSecret ? "VERSION=1.7.6`n" : "VERSION=1.7.6`nINFRAHUB_DB_PASSWORD=$canary`n")
        $journalFolder = Join-Path $Folder '.upgradeops/journal'
        $null = New-Item -ItemType Directory -Force -Path $journalFolder
        # The shape UpgradeJournal.Save writes, as a journal of an earlier version (no result.location) would hold it.
        $journal = [ordered]@{
            schemaVersion = 1
            result        = [ordered]@{
                id = 'proj-20261201-100000-upgrade-1.7.5-to-1.7.6'; deploymentName = 'proj'; from = '1.7.5'; to = '1.7.6'
                strategy = 'Standard'; status = 'Failed'; operation = 'Upgrade'; errorId = 'MigrationFailed'
                error = "migration failed: password authentication failed for $canary"
                steps = @(@{ name = 'hop1:migrate'; status = 'Failed'; detail = "psql: $canary rejected" })
                migrationOutput = @("ERROR connecting with $canary"); rollout = @()
                started = '2026-12-01T10:00:00+00:00'; duration = '00:01:00'; downtime = '00:00:05'
            }
            hops = @('1.7.5→1.7.6'); completed = @(); previousContainers = @(); previousFileHashes = @{}; addedVariables = @()
        }
        if (-not $WithoutComposeFile) { $journal.composeFile = $compose }
        $journal | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath (Join-Path $journalFolder 'up.json')
        New-TestDeployment -Name proj -Location $compose -Version 1.7.6
    }
}

Describe 'Export-UpgradeReport of a result read from the journal' -Tag 'Report' {
    It 'masks the .env secrets of a Get-UpgradeHistory result' {
        $deployment = New-JournalledDeployment (Join-Path $TestDrive 'history')
        $result = $deployment | Get-UpgradeHistory
        $result.Deployment | Should -Not -BeNullOrEmpty
        $file = $result | Export-UpgradeReport -Path (Join-Path $TestDrive 'history.md')
        $text = Get-Content -Raw $file.FullName
        $text | Should -Match 'migration failed'
        $text | Should -Not -Match $canary
    }

    It 'masks a secret written in the compose file itself (a default such as ${INFRAHUB_DB_PASSWORD:-...}), with no .env value' {
        $deployment = New-JournalledDeployment (Join-Path $TestDrive 'inline') -InlineSecret
        $file = $deployment | Get-UpgradeHistory | Export-UpgradeReport -Path (Join-Path $TestDrive 'inline.md')
        $text = Get-Content -Raw $file.FullName
        $text | Should -Match 'migration failed'
        $text | Should -Not -Match $canary
    }

    It 'returns the written file as Get-Item shows it, with its size and mode' {
        $deployment = New-JournalledDeployment (Join-Path $TestDrive 'item')
        $file = $deployment | Get-UpgradeHistory | Export-UpgradeReport -Path (Join-Path $TestDrive 'item.md') -NoticePath (Join-Path $TestDrive 'item-notice.md')
        $file.Count | Should -Be 2
        foreach ($written in $file) {
            $written.Length | Should -BeGreaterThan 0
            $written.PSProvider.Name | Should -Be 'FileSystem'
            $text = $written | Format-Table | Out-String
            $text | Should -Match ([regex]::Escape($written.Length.ToString()))
            $text | Should -Match '-rw'
        }
    }
}

Describe 'Get-UpgradeHistory with a damaged journal' -Tag 'Report' {
    It 'lists the readable journals and names the damaged one in a warning' -Tag 'Fault' {
        $deployment = New-JournalledDeployment (Join-Path $TestDrive 'damaged')
        $bad = Join-Path (Split-Path $deployment.Location) '.upgradeops/journal/cut.json'
        Set-Content -LiteralPath $bad -Value '{"result": {"id": "cut"'
        $results = $deployment | Get-UpgradeHistory -WarningVariable warnings -WarningAction SilentlyContinue
        @($results).Count | Should -Be 1
        $results.Id | Should -Be 'proj-20261201-100000-upgrade-1.7.5-to-1.7.6'
        @($warnings).Count | Should -Be 1
        "$($warnings[0])" | Should -Match ([regex]::Escape($bad))
    }
}

# Journals and locks as a disk may hold them after a crash, a full disk or a hand edit.
$newDeployment = {
    param($Dir, [hashtable] $Journals)
    $compose = Join-Path $Dir 'docker-compose.yml'
    Set-Content -LiteralPath $compose -Value "services:`n  infrahub-server:`n    image: registry.opsmill.io/opsmill/infrahub:`${VERSION:-1.7.5}`n"
    $folder = Join-Path $Dir '.upgradeops/journal'
    $null = New-Item -ItemType Directory -Force -Path $folder
    foreach ($name in $Journals.Keys) {
        $path = Join-Path $folder $name
        if ($Journals[$name] -eq '<folder>') { $null = New-Item -ItemType Directory -Path $path }
        else { [IO.File]::WriteAllText($path, $Journals[$name]) }
    }
    @{ Deployment = (New-TestDeployment -Name proj -Location $compose -Version 1.7.6); Folder = $folder }
}
$good = '{"result": {"id": "proj-up", "deploymentName": "proj", "from": "1.7.5", "to": "1.7.6", "status": "Succeeded", "operation": "Upgrade", "started": "2026-12-01T10:00:00+00:00"}, "hops": ["1.7.5→1.7.6"]}'
$history = {
    param($Dir, $Data)
    $found = $Data.Deployment | Get-UpgradeHistory -WarningVariable seen -WarningAction SilentlyContinue
    [pscustomobject]@{ Results = @($found); Warnings = @($seen | ForEach-Object { "$_" }) }
}

@(
    @{
        Name = 'Get-UpgradeHistory with only a garbage journal'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'garbage.json' = 'this is not json' } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Results.Count | Should -Be 0; $Output[0].Warnings.Count | Should -Be 1; $Output[0].Warnings[0] | Should -Match 'JournalUnreadable|cannot be read' }
    }
    @{
        Name = 'Get-UpgradeHistory with a journal whose result is null'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'null.json' = '{"result": null, "hops": []}' } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Results.Count | Should -Be 0; $Output[0].Warnings[0] | Should -Match "'result'" }
    }
    @{
        Name = 'Get-UpgradeHistory with a journal whose steps are null'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'steps.json' = '{"result": {"id": "x", "deploymentName": "proj", "from": "1.7.5", "to": "1.7.6", "steps": null}}' } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Results.Count | Should -Be 0; $Output[0].Warnings[0] | Should -Match "'result.steps'" }
    }
    @{
        Name = 'Get-UpgradeHistory with a truncated journal beside a good one'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'good.json' = $good; 'cut.json' = $good.Substring(0, 40) } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Results.Id | Should -Be 'proj-up'; $Output[0].Warnings.Count | Should -Be 1; $Output[0].Warnings[0] | Should -Match 'cut\.json' }
    }
    @{
        Name = 'Get-UpgradeHistory with an empty journal file'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'empty.json' = '' } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Results.Count | Should -Be 0; $Output[0].Warnings.Count | Should -Be 1 }
    }
    @{
        Name = 'Get-UpgradeHistory with a binary journal'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'binary.json' = "`0`u{1}`u{2}`u{1b}[31mred" } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Warnings.Count | Should -Be 1; $Output[0].Warnings[0] | Should -Not -Match '[\x00-\x08\x0B\x0C\x0E-\x1F]' }
    }
    @{
        Name = 'Get-UpgradeHistory with a folder named like a journal'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'x.json' = '<folder>'; 'good.json' = $good } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Results.Count | Should -Be 1; $Output[0].Warnings[0] | Should -Match 'is a folder' }
    }
    @{
        Name = 'Get-UpgradeHistory with a journal of an unknown status'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'status.json' = $good.Replace('"Succeeded"', '"Exploded"') } }.GetNewClosure()
        Run = $history; Expect = 'Result'
        Check = { param($Output) $Output[0].Results.Count | Should -Be 0; $Output[0].Warnings.Count | Should -Be 1 }
    }
    @{
        Name = 'Invoke-Rollback when the latest journal is damaged'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'good.json' = $good; 'cut.json' = '{"result": {' } }.GetNewClosure()
        Run = { param($Dir, $Data) Invoke-Rollback -Deployment $Data.Deployment -Force }
        ErrorId = 'JournalUnreadable'; Category = 'InvalidData'; Target = { param($Dir, $Data) Join-Path $Data.Folder 'cut.json' }
    }
    @{
        Name = 'Invoke-Rollback -UpgradeId when a journal is null-filled'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'null.json' = '{"result": {"id": null}}' } }.GetNewClosure()
        Run = { param($Dir, $Data) Invoke-Rollback -Deployment $Data.Deployment -UpgradeId proj-up -Force }
        ErrorId = 'JournalUnreadable'; Category = 'InvalidData'; Target = { param($Dir, $Data) Join-Path $Data.Folder 'null.json' }
    }
    @{
        Name = 'Invoke-Upgrade -Resume when a journal is damaged'
        Setup = { param($Dir) & $newDeployment $Dir @{ 'cut.json' = $good.Substring(0, 60) } }.GetNewClosure()
        Run = { param($Dir, $Data) Invoke-Upgrade -Deployment $Data.Deployment -Resume -Force }
        ErrorId = 'JournalUnreadable'; Category = 'InvalidData'; Target = { param($Dir, $Data) Join-Path $Data.Folder 'cut.json' }
    }
)

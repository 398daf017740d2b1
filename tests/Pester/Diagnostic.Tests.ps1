# Get-UpgradeDiagnostic on the sandbox: a healthy deployment, a killed worker, a failed upgrade to the broken 1.7.7,
# a secret planted in .env and in a container's log, and the -OutFile bundle (WhatIf, refusal to overwrite).
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'SandboxFixture.ps1')
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:sandbox = Use-TestSandbox -Version 1.7.6
    $script:backups = Join-Path $TestDrive 'backups'

    function Get-Deployment { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue }
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    function Get-ZipText([string] $Path) {
        # Every entry of a zip as name → text.
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Path)
        try {
            $texts = [ordered]@{}
            foreach ($entry in $zip.Entries) {
                $reader = [System.IO.StreamReader]::new($entry.Open())
                try { $texts[$entry.FullName] = $reader.ReadToEnd() } finally { $reader.Dispose() }
            }
            $texts
        } finally { $zip.Dispose() }
    }
    function Wait-ContainerHealthy([string] $Name, [int] $Seconds = 90) {
        $deadline = (Get-Date).AddSeconds($Seconds)
        while ((Get-Date) -lt $deadline) {
            if ((docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' $Name) -match '^running (healthy)?$') { return }
            Start-Sleep -Milliseconds 500
        }
        throw "$Name did not become healthy within $Seconds s"
    }
}

Describe 'Get-UpgradeDiagnostic' -Tag 'Sandbox', 'Diagnostic' {
    It 'limits the report to the services asked for, and names the services when one does not exist' {
        $d = Get-Deployment
        $report = Get-UpgradeDiagnostic -Deployment $d -Service worker -Tail 5
        @($report.Services).Count | Should -Be 2
        $report.Services.Service | Sort-Object -Unique | Should -Be 'worker'
        $err = Get-ErrorFrom { Get-UpgradeDiagnostic -Deployment $d -Service nosuch -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'UnknownService,*'
        $err.Exception.Message | Should -Match 'server-a'
    }

    It 'lists every container with its log lines and finds nothing wrong on a healthy deployment' {
        $d = Get-Deployment
        $d.Healthy | Should -BeTrue
        $report = $d | Get-UpgradeDiagnostic
        $report.PSObject.TypeNames[0] | Should -Be 'UpgradeOps.DiagnosticReport'
        $report.DeploymentName | Should -Be $sandbox.ProjectName
        $report.Version | Should -Be '1.7.6'
        # Every container compose made for a service (one-off 'compose run' containers are not part of the deployment).
        $expected = docker ps -a --filter "label=com.docker.compose.project=$($sandbox.ProjectName)" --format '{{.Names}} {{.Label "com.docker.compose.oneoff"}}' |
            Where-Object { $_ -notmatch ' True$' } | ForEach-Object { ($_ -split ' ')[0] } | Sort-Object
        @($report.Services.Container | Sort-Object) | Should -Be @($expected)
        foreach ($service in 'server-a', 'server-b', 'worker', 'database', 'cache', 'lb') {
            $report.Services.Service | Should -Contain $service
        }
        foreach ($container in $report.Services) {
            $container.State | Should -Be 'running' -Because $container.Container
            $container.LogTail.Count | Should -BeGreaterThan 0 -Because "$($container.Container) has written log lines"
            $container.LogTail.Count | Should -BeLessOrEqual 50
            $container.LogTail[0] | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d' -Because 'each line carries Docker''s timestamp'
        }
        @($report.Findings | Where-Object Severity -eq 'Error') | Should -BeNullOrEmpty -Because ($report.Findings | Format-List | Out-String)
        $report.HasErrors | Should -BeFalse
        (Get-Deployment | Get-UpgradeDiagnostic -Tail 3).Services | ForEach-Object { $_.LogTail.Count | Should -BeLessOrEqual 3 }
    }

    It 'shows a killed worker with its exit code and a finding' {
        $worker = Get-SandboxContainerName $sandbox worker
        # Without its restart policy, so the engine does not bring it straight back.
        docker update --restart=no $worker | Out-Null
        try {
            docker kill $worker | Out-Null
            $report = Get-Deployment | Get-UpgradeDiagnostic
            $entry = $report.Services | Where-Object Container -eq $worker
            $entry.State | Should -Be 'exited'
            $entry.ExitCode | Should -Be 137
            $entry.FinishedAt | Should -Not -BeNullOrEmpty
            $finding = $report.Findings | Where-Object { $_.Id -eq 'ContainerExited' -and $_.Source -eq "container: $worker" }
            $finding | Should -Not -BeNullOrEmpty -Because ($report.Findings | Format-List | Out-String)
            $finding.Severity | Should -Be 'Error'
            $finding.Evidence | Should -Match 'exit code 137'
            $finding.Guidance | Should -Match 'Invoke-Rollback'
            $report.HasErrors | Should -BeTrue
        } finally {
            docker update --restart=unless-stopped $worker | Out-Null
            docker start $worker | Out-Null
            Wait-ContainerHealthy $worker
        }
    }

    It 'never shows a secret of .env, in the report or in any file of the bundle' {
        $envFile = Join-Path $sandbox.Path '.env'
        $envBefore = Get-Content -Raw $envFile
        $canary = 'CANARY' + [guid]::NewGuid().ToString('N')
        try {
            Add-Content -Path $envFile -Value "CANARY_SECRET=$canary"
            $server = Get-SandboxContainerName $sandbox server-a
            docker exec $server sh -c "echo 'ERROR leaked $canary in a log line' > /proc/1/fd/1"
            $zip = Join-Path $TestDrive 'canary.zip'
            $report = Get-Deployment | Get-UpgradeDiagnostic -OutFile $zip
            $serverLog = ($report.Services | Where-Object Container -eq $server).LogTail -join "`n"
            $serverLog | Should -Match 'ERROR leaked \*\*\* in a log line' -Because 'the planted line was collected, masked'
            ($report | ConvertTo-Json -Depth 8) | Should -Not -Match $canary
            Assert-RoundTrip $report -Type UpgradeOps.DiagnosticReport -Secret (Get-DotEnvSecret $sandbox.Path)
            $report.OutFile | Should -Be $zip
            $files = Get-ZipText $zip
            $files.Keys | Should -Contain 'report.json'
            $files.Keys | Should -Contain "logs/$server.log"
            foreach ($name in $files.Keys) { $files[$name] | Should -Not -Match $canary -Because "$name is redacted" }
            $files["logs/$server.log"] | Should -Match 'ERROR leaked \*\*\*'
        } finally {
            Set-Content -Path $envFile -Value $envBefore -NoNewline
        }
    }

    It 'writes no file with -WhatIf' {
        $zip = Join-Path $TestDrive 'whatif.zip'
        $report = Get-Deployment | Get-UpgradeDiagnostic -OutFile $zip -WhatIf
        Test-Path $zip | Should -BeFalse
        $report.OutFile | Should -BeNullOrEmpty
        (Get-ChildItem $TestDrive -Filter '*.tmp' -Force) | Should -BeNullOrEmpty
        $output = Invoke-WhatIf "`$d | Get-UpgradeDiagnostic -OutFile '$zip' -WhatIf | Out-Null"
        $output | Should -Match 'Write the diagnostic bundle'
        Test-Path $zip | Should -BeFalse
    }

    It 'refuses to overwrite an existing -OutFile without -Force' {
        $zip = Join-Path $TestDrive 'existing.zip'
        Set-Content -Path $zip -Value 'not mine to replace'
        $err = Get-ErrorFrom { Get-Deployment | Get-UpgradeDiagnostic -OutFile $zip -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'OutFileExists,*'
        $err.Exception.Message | Should -Match '-Force'
        Get-Content -Raw $zip | Should -Match 'not mine to replace'
        $report = Get-Deployment | Get-UpgradeDiagnostic -OutFile $zip -Force
        $report.OutFile | Should -Be $zip
        (Get-ZipText $zip).Keys | Should -Contain 'report.json'
    }

    It 'shows the failed step and the migration output after the broken 1.7.7 was rolled back' {
        $d = Get-Deployment
        $b = $d | New-DeploymentBackup -Path $backups -Force
        $result = Invoke-Upgrade -Deployment $d -To 1.7.7 -AvailableVersion 1.7.7 -Backup $b -RollbackOnFailure -Force -ErrorAction SilentlyContinue
        $result.Status | Should -Be 'RolledBack'

        # The result as Import-Clixml gives it back (diagnosed from another session) leads to the same journal.
        $report = Assert-RoundTrip $result -Type UpgradeOps.UpgradeResult -Secret (Get-DotEnvSecret $sandbox.Path) -PassThru | Get-UpgradeDiagnostic
        $report.UpgradeId | Should -Be $result.Id
        $report.UpgradeStatus | Should -Be 'RolledBack'
        $report.FailedStep | Should -BeLike '*migrate'
        $report.ErrorId | Should -Be 'MigrationFailed'
        $report.Error | Should -Match '1\.7\.7'
        ($report.MigrationOutput -join "`n") | Should -Match 'migration 1\.7\.7 failed'
        $report.Findings.Id | Should -Contain 'MigrationFailed'
        $report.Findings.Id | Should -Contain 'migration-step-failed'
        ($report.Findings | Where-Object Id -eq 'migration-step-failed').Source | Should -Be 'migration'
        ($report.Findings | Where-Object Id -eq 'MigrationFailed').Guidance | Should -Match 'rolled back'
        Assert-RoundTrip $report -Type UpgradeOps.DiagnosticReport -Secret (Get-DotEnvSecret $sandbox.Path)

        # From the deployment alone, the newest journal is the rollback: the upgrade it undid is the one read.
        $fromDeployment = Get-Deployment | Get-UpgradeDiagnostic
        $fromDeployment.UpgradeId | Should -Be $result.Id
        $fromDeployment.FailedStep | Should -BeLike '*migrate'
        # From the history (no Deployment on the result): the journal leads to the deployment.
        $fromHistory = Get-Deployment | Get-UpgradeHistory | Where-Object Id -eq $result.Id | Get-UpgradeDiagnostic
        $fromHistory.ErrorId | Should -Be 'MigrationFailed'
        $fromHistory.DeploymentName | Should -Be $sandbox.ProjectName
        # The rolled-back deployment itself runs fine again.
        @($fromDeployment.Findings | Where-Object { $_.Severity -eq 'Error' -and $_.Source -like 'container:*' }) | Should -BeNullOrEmpty
    }
}

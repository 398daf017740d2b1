# Argument completers as a user meets them: TabExpansion2 on a command line. No sandbox, no Docker.
# TabExpansion2 swallows whatever a completer throws, so the tests that a completer never throws call it directly.
BeforeDiscovery {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    # Every parameter that has a completer, found from the cmdlets themselves, so a new one is covered without a new test.
    $script:completerUses = foreach ($command in Get-Command -Module UpgradeOps -CommandType Cmdlet | Sort-Object Name) {
        foreach ($parameter in $command.Parameters.Values | Sort-Object Name) {
            foreach ($completer in $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] -and $_.Type }) {
                @{ Completer = $completer.Type.Name; Command = $command.Name; Parameter = $parameter.Name }
            }
        }
    }
}

BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    $script:changelog = Join-Path $PSScriptRoot 'Fixtures/CHANGELOG.md'
    $script:sandboxProfile = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'

    function Get-Completion([string] $Line) {
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
    }

    function Get-CompletionText([string] $Line) {
        @(Get-Completion $Line | ForEach-Object CompletionText)
    }

    # Calls the completer of -Parameter the way PowerShell does, but directly, so that an exception it throws fails the test.
    # The results are enumerated here: a completer that fails lazily, while PowerShell reads its results, fails too.
    function Invoke-Completer([string] $Command, [string] $Parameter, $Word, $Bound = @{}, [switch] $WithoutAst) {
        $type = (Get-Command $Command).Parameters[$Parameter].Attributes |
            Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] } | ForEach-Object Type
        if (-not $type) { throw "$Command -$Parameter has no argument completer" }
        $ast = if (-not $WithoutAst) {
            [System.Management.Automation.Language.Parser]::ParseInput("$Command -$Parameter ", [ref]$null, [ref]$null).
                Find({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)
        }
        $results = @([Activator]::CreateInstance($type).CompleteArgument($Command, $Parameter, $Word, $ast, $Bound))
        foreach ($result in $results) {
            if ($result -isnot [System.Management.Automation.CompletionResult] -or [string]::IsNullOrEmpty($result.CompletionText)) {
                throw "$Command -$Parameter completed something that is not a completion: '$result'"
            }
        }
        $results
    }

    # An input as a failure message can show it: control characters escaped, long ones cut.
    function Format-Input($Value) {
        $text = if ($null -eq $Value) { '$null' } elseif ($Value -is [System.Collections.IDictionary]) {
            '@{' + (@($Value.Keys | ForEach-Object { "$_=$(Format-Input $Value[$_])" }) -join '; ') + '}'
        } elseif ($Value -is [string]) { "'$Value'" } else { "[$($Value.GetType().Name)]$(try { "$Value" } catch { '?' })" }
        $text = [regex]::Replace($text, '[\x00-\x1f]', { '\x{0:x2}' -f [int][char]$args[0].Value })
        $text.Length -gt 120 ? $text.Substring(0, 120) + "...($($text.Length) chars)" : $text
    }

    # A backup folder with a valid manifest, written by the engine's own manifest type (its integrity hash included).
    function New-FakeBackup([string] $Folder, [string] $Deployment, [string] $Version, [datetime] $CreatedAt) {
        $null = Test-UpgradePath -From 1.0.0 -To 1.0.1   # makes sure the engine is loaded
        $engine = ([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'UpgradeOps.Engine').Assemblies |
            Where-Object { $_.GetName().Name -eq 'UpgradeOps.Engine' }
        $backup = [Activator]::CreateInstance($engine.GetType('UpgradeOps.DeploymentBackup'))
        $backup.Id = Split-Path $Folder -Leaf
        $backup.CreatedAt = [DateTimeOffset]$CreatedAt
        $backup.DeploymentName = $Deployment
        $backup.Version = $Version
        $manifest = [Activator]::CreateInstance($engine.GetType('UpgradeOps.Backups.BackupManifest'))
        $manifest.Backup = $backup
        $null = New-Item -ItemType Directory -Force -Path $Folder
        Set-Content -Path (Join-Path $Folder 'manifest.json') -Value $manifest.ToJson() -NoNewline
    }
}

Describe 'Version completion' -Tag 'Completion' {
    It 'completes -To from the catalog of the bound profile, newest first' {
        $matches = Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To "
        $matches.CompletionText | Should -Be @('2.0.0', '1.8.0', '1.7.6', '1.7.5')
        $matches[0].ToolTip | Should -Match 'catalog of profile'
    }

    It 'filters by what is typed' {
        (Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To 1.7").CompletionText | Should -Be @('1.7.6', '1.7.5')
    }

    It 'completes -From with every known version' {
        (Get-Completion "Test-UpgradePath -Profile '$sandboxProfile' -To 2.0.0 -From ").CompletionText |
            Should -Be @('2.0.0', '1.8.0', '1.7.6', '1.7.5', '1.6.4')
    }

    It 'reads versions from the bound release notes (the infrahub profile has no catalog)' {
        $matches = Get-Completion "Test-UpgradePath -From 1.6.3 -ReleaseNotePath '$changelog' -To "
        $matches.CompletionText | Should -Contain '1.7.6'
        $matches.CompletionText | Should -Not -Contain '1.6.3'
        $matches[0].ToolTip | Should -Match 'release notes'
    }

    It 'adds the bound -AvailableVersion values' {
        (Get-Completion 'Test-UpgradePath -From 1.0.0 -AvailableVersion 1.0.1, 1.1.0 -To ').CompletionText | Should -Be @('1.1.0', '1.0.1')
    }

    It 'uses the profile of the bound deployment' {
        $deployment = [pscustomobject]@{ PSTypeName = 'UpgradeOps.Deployment'; Name = 'x'; Profile = $sandboxProfile; Version = '1.7.5' }
        Get-CompletionText 'Test-UpgradeReadiness -Deployment $deployment -To ' | Should -Be @('2.0.0', '1.8.0', '1.7.6')
    }

    It 'completes Get-UpgradeReleaseNote -To from its -Path' {
        (Get-Completion "Get-UpgradeReleaseNote -Path '$changelog' -To ").CompletionText | Should -Contain '2.0.0'
    }

    It 'completes -ExpectedVersion and Invoke-Upgrade -To' {
        Get-CompletionText "Test-PostUpgrade -ExpectedVersion 1." | Should -BeNullOrEmpty -Because 'infrahub has no catalog and nothing else is bound'
        $deployment = [pscustomobject]@{ Name = 'x'; Profile = $sandboxProfile; Version = '1.8.0' }
        Get-CompletionText 'Invoke-Upgrade -Deployment $deployment -To ' | Should -Be @('2.0.0')
        Get-CompletionText 'Test-PostUpgrade -Deployment $deployment -ExpectedVersion 2' | Should -Be @('2.0.0')
    }

    It 'never throws on a profile or release notes that do not exist' {
        Invoke-Completer Test-UpgradePath To '' @{ From = '1.0.0'; Profile = '/nonexistent/profile.yml'; ReleaseNotePath = '/nonexistent/CHANGELOG.md' } |
            Should -BeNullOrEmpty
        Invoke-Completer Test-UpgradePath To '' @{ From = '1.0.0'; Profile = '/nonexistent/profile.yml' } | Should -BeNullOrEmpty
    }

    It 'answers without waiting on anything (no engine, no network)' {
        # A bound, not a benchmark: a completer that waited on the engine or a network timeout would take seconds more.
        $null = Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To "
        (Measure-Command { $null = Get-Completion "Test-UpgradePath -From 1.6.4 -Profile '$sandboxProfile' -To " }).TotalMilliseconds |
            Should -BeLessThan 3000
    }
}

Describe 'Backup completion' -Tag 'Completion' {
    BeforeAll {
        $script:backups = Join-Path $TestDrive 'backups'
        New-FakeBackup (Join-Path $backups 'upgradeops-sandbox-20250101') 'upgradeops-sandbox' '1.7.5' '2025-01-01T10:00:00Z'
        New-FakeBackup (Join-Path $backups 'upgradeops-sandbox-20250301') 'upgradeops-sandbox' '1.7.6' '2025-03-01T10:00:00Z'
        $null = New-Item -ItemType Directory -Force (Join-Path $backups 'not-a-backup')
    }

    It 'completes Test-DeploymentBackup -Path with the backups of the typed folder, newest first, then other folders' {
        $matches = Get-Completion "Test-DeploymentBackup -Path $backups/"
        $matches.CompletionText | Should -Be @("$backups/upgradeops-sandbox-20250301", "$backups/upgradeops-sandbox-20250101", "$backups/not-a-backup")
        $matches[0].ToolTip | Should -Match 'upgradeops-sandbox 1\.7\.6'
        $matches[2].ResultType | Should -Be 'ProviderContainer'
    }

    It 'completes backups under the current location, relative as typed' {
        Push-Location $backups
        try {
            Get-CompletionText 'Restore-DeploymentBackup -Path upgrade' |
                Should -Be @('upgradeops-sandbox-20250301', 'upgradeops-sandbox-20250101')
        }
        finally { Pop-Location }
    }

    It 'never throws on a folder that does not exist' {
        Invoke-Completer Test-DeploymentBackup Path '/nonexistent/folder/' | Should -BeNullOrEmpty
        Invoke-Completer Test-DeploymentBackup Path '/nonexistent/folder/upgr' | Should -BeNullOrEmpty
    }
}

Describe 'Component completion' -Tag 'Completion' {
    It 'completes New-DeploymentBackup -Component with the data stores of the deployment''s profile and config' {
        $deployment = [pscustomobject]@{ Name = 'x'; Profile = $sandboxProfile }
        $line = 'New-DeploymentBackup -Deployment $deployment -Path /tmp -Component '
        Get-CompletionText $line |
            Should -Be @('database', 'artifacts', 'repositories', 'config')
    }

    It 'defaults to the infrahub profile' {
        (Get-Completion 'New-DeploymentBackup -Path /tmp -Component task').CompletionText | Should -Be @('task-manager-db')
    }
}

Describe 'Service name completion' -Tag 'Completion' {
    It 'completes Get-UpgradeDiagnostic -Service with the services of the bound deployment' {
        $null = Test-UpgradePath -From 1.0.0 -To 1.0.1   # makes sure the engine is loaded
        $engine = ([System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'UpgradeOps.Engine').Assemblies |
            Where-Object { $_.GetName().Name -eq 'UpgradeOps.Engine' }
        $global:completionDeployment = [Activator]::CreateInstance($engine.GetType('UpgradeOps.Deployment'))
        $global:completionDeployment.Name = 'sbx'
        $services = foreach ($name in 'worker', 'server-a', 'server-b', 'database') {
            $service = [Activator]::CreateInstance($engine.GetType('UpgradeOps.DeploymentService'))
            $service.Name = $name
            $service
        }
        $list = [Array]::CreateInstance($engine.GetType('UpgradeOps.DeploymentService'), $services.Count)
        for ($i = 0; $i -lt $services.Count; $i++) { $list[$i] = $services[$i] }
        $global:completionDeployment.Services = $list
        try {
            Get-CompletionText 'Get-UpgradeDiagnostic -Deployment $global:completionDeployment -Service ' | Should -Be @('database', 'server-a', 'server-b', 'worker')
            Get-CompletionText 'Get-UpgradeDiagnostic -Deployment $global:completionDeployment -Service ser' | Should -Be @('server-a', 'server-b')
        }
        finally { Remove-Variable -Scope Global completionDeployment }
    }

    It 'completes nothing, and does not throw, without a bound deployment' {
        Invoke-Completer Get-UpgradeDiagnostic Service '' | Should -BeNullOrEmpty
        Get-CompletionText 'Get-UpgradeDiagnostic -Service ' | Should -BeNullOrEmpty
    }
}

Describe 'Completers never throw' -Tag 'Completion' {
    BeforeAll {
        $script:completerTypes = (Get-Command Test-UpgradePath).ImplementingType.Assembly.GetTypes() |
            Where-Object { -not $_.IsAbstract -and [System.Management.Automation.IArgumentCompleter].IsAssignableFrom($_) } | ForEach-Object Name

        # Files a user may well point a parameter at: broken, empty, of the wrong shape, a folder, binary.
        $script:brokenProfile = Join-Path $TestDrive 'broken-profile.yml'
        Set-Content $brokenProfile "name: [unclosed`n  : :`n`tcatalog: {"
        $script:listProfile = Join-Path $TestDrive 'list-profile.yml'
        Set-Content $listProfile "- 1`n- 2"
        $script:emptyFile = Join-Path $TestDrive 'empty.yml'
        Set-Content $emptyFile '' -NoNewline
        $script:folderFile = Join-Path $TestDrive 'folder.yml'
        $null = New-Item -ItemType Directory $folderFile
        $script:binaryFile = Join-Path $TestDrive 'binary.md'
        [IO.File]::WriteAllBytes($binaryFile, [byte[]](0..255 + 0..255))
        $script:brokenCompose = Join-Path $TestDrive 'docker-compose.yml'
        Set-Content $brokenCompose ("services:`n  server: [`n" + '    image: ${UNCLOSED')
        # Backups whose manifest is not JSON, is JSON of the wrong shape, or is a folder.
        $script:backups = Join-Path $TestDrive 'backups'
        foreach ($bad in @{ 'not-json' = '{ not json'; 'wrong-shape' = '{"Backup": 42, "Components": "x"}'; 'empty' = '' }.GetEnumerator()) {
            $null = New-Item -ItemType Directory (Join-Path $backups $bad.Key)
            Set-Content (Join-Path $backups $bad.Key 'manifest.json') $bad.Value -NoNewline
        }
        $null = New-Item -ItemType Directory (Join-Path $backups 'manifest-folder/manifest.json')

        $script:hostileWords = @(
            '', [NullString]::Value, "'", '"', "'unterminated", '"unterminated', "''", '*', '?[a-', '[', '`', '$env:HOME', '-',
            '/nonexistent/folder/', '/nonexistent/folder/x', '~', '~/', '..', '/', '\', "a`0b", "`0", "`n", "`r`n", 'v', '1.', 'vv1',
            '99999999999999999999999.0.0', 'ü∂', ('x' * 10000), ('a/' * 2000), "$backups/", "$backups/not", "'$backups/'"
        )
        $hostilePaths = @(
            '', ' ', "'", '*', '~', '/', '/nonexistent/file.yml', $brokenProfile, $listProfile, $emptyFile, $folderFile, $binaryFile,
            $brokenCompose, "bad`0name.yml", (('p' * 5000) + '.yml'), 42, @('a.yml', 'b.yml'), [pscustomobject]@{ Path = 'x' }
        )
        $throwing = [pscustomobject]@{ Name = 'x' }
        $throwing | Add-Member ScriptProperty Services { throw 'Services cannot be read' }
        $throwing | Add-Member ScriptProperty Profile { throw 'Profile cannot be read' }
        $throwing | Add-Member ScriptProperty Version { throw 'Version cannot be read' }
        $hostileDeployments = @(
            'a string', 42, @(), @($null), $throwing, @{ Profile = "bad`0name.yml"; Services = @{ Name = 'x' } },
            [pscustomobject]@{ Name = $null; Profile = $brokenProfile; Version = 'not a version'; Services = 'not a list' },
            [pscustomobject]@{ Name = 'x'; Profile = $folderFile; Version = ''; Services = @($null, 42, 'x', [pscustomobject]@{ Name = $null; Role = @{} }) },
            [pscustomobject]@{ Name = 'x'; Profile = 42; Version = @('1.0.0', '2.0.0'); Services = $throwing }
        )
        $script:hostileBound = @(
            $null
            @{ Deployment = $null; Profile = $null; AvailableVersion = $null; ReleaseNotePath = $null; From = $null; UpgradePath = $null }
            foreach ($name in 'Profile', 'ReleaseNotePath', 'Path', 'ComposeFile', 'ValuesFile') { foreach ($value in $hostilePaths) { @{ $name = $value } } }
            foreach ($value in $hostileDeployments) { @{ Deployment = $value }; @{ UpgradePath = [pscustomobject]@{ Deployment = $value } } }
            @{ UpgradePath = 'a string' }
            @{ UpgradePath = $throwing }
            @{ AvailableVersion = @($null, '', 'v', '99999999999999999999999.0.0', "1.0.0`0", '1.0.0-', [pscustomobject]@{}, $throwing) }
            @{ AvailableVersion = 42 }
            foreach ($value in 'garbage', '', "1.0`0", 42, $throwing) { @{ From = $value }; @{ From = $value; Deployment = $hostileDeployments[6] } }
        )
    }

    It 'finds every completer of the module on some parameter' -ForEach @{ Used = @($completerUses.Completer) } {
        $completerTypes | Should -Not -BeNullOrEmpty
        foreach ($type in $completerTypes) { $Used | Should -Contain $type }
    }

    It '<Completer> of <Command> -<Parameter> returns completions or nothing for hostile input' -ForEach $completerUses {
        $failures = [System.Collections.Generic.List[string]]::new()
        foreach ($word in $hostileWords) {
            try { $null = Invoke-Completer $Command $Parameter $word @{} }
            catch { $failures.Add("word $(Format-Input $word): $($_.Exception.GetBaseException().GetType().Name): $(Format-Input $_.Exception.GetBaseException().Message)") }
        }
        foreach ($bound in $hostileBound) {
            try { $null = Invoke-Completer $Command $Parameter '' $bound }
            catch { $failures.Add("bound $(Format-Input $bound): $($_.Exception.GetBaseException().GetType().Name): $(Format-Input $_.Exception.GetBaseException().Message)") }
        }
        try { $null = Invoke-Completer $Command $Parameter '' $null -WithoutAst }
        catch { $failures.Add("no command AST and no bound parameters: $($_.Exception.GetBaseException().Message)") }
        $failures | Should -BeNullOrEmpty
    }
}

Describe 'Completion cost' -Tag 'Completion' {
    It 'does not load Docker, Kubernetes or Npgsql while completing' {
        $script = "Import-Module '$env:UPGRADEOPS_MODULE'; " +
            "foreach (`$l in 'Test-UpgradePath -From 1.0.0 -AvailableVersion 1.0.1 -To ', 'New-DeploymentBackup -Path /tmp -Component ', 'Test-DeploymentBackup -Path /tmp/') " +
            "{ if (-not (TabExpansion2 -inputScript `$l -cursorColumn `$l.Length).CompletionMatches) { throw `"nothing completed: `$l`" } }; " +
            "[AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -join ','"
        $loaded = & (Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')) -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be 0
        $loaded | Should -Match 'UpgradeOps\.Engine'
        $loaded | Should -Not -Match 'Docker\.DotNet|KubernetesClient|Npgsql'
    }
}

# Every object the module returns survives ConvertTo-Json and Export-Clixml / Import-Clixml, carries no secret, and
# comes back into the cmdlets that take it (a rehearsal handed to Test-UpgradeReadiness a day later, a result attached
# to a change ticket). No Docker Engine: one object of each output type is built from the engine's own types, filled as
# a real run fills it (nested lists, maps, TimeSpans, dates with an offset, enums); a cmdlet that needs the engine must
# fail on the engine (DockerEngineUnreachable), not on binding. The sandbox tests run the same Assert-RoundTrip on the
# objects real runs make, and the guard below proves that every [OutputType] of every cmdlet has both.
BeforeDiscovery {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    $script:outputTypes = @((Get-Command -Module UpgradeOps).OutputType | Where-Object Name -like 'UpgradeOps.*' |
            ForEach-Object Name | Sort-Object -Unique | ForEach-Object { @{ Type = $_ } })
}

BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    . (Join-Path $env:UPGRADEOPS_ROOT 'tests/Reliability/Reliability.ps1')
    $script:engine = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly
    $script:outputTypeNames = @((Get-Command -Module UpgradeOps).OutputType | Where-Object Name -like 'UpgradeOps.*' | ForEach-Object Name | Sort-Object -Unique)
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:changelog = Join-Path $PSScriptRoot 'Fixtures/CHANGELOG.md'
    $script:releases = '1.7.5', '1.7.6', '1.8.0', '2.0.0'
    $script:canary = 'canary-Vb73qPz-secret'
    # No engine answers here: the Docker socket and the cluster the objects name do not exist (never the real ones).
    $script:engines = Enter-UnreachableEngines

    function New-EngineObject {
        # An engine object from a hashtable of its properties; nested hashtables and arrays become the engine types,
        # lists and maps the property declares (engine types live in the module's load context: no type literal names them).
        param([Parameter(Mandatory)] [string] $TypeName, [System.Collections.IDictionary] $Properties = @{})
        $type = $engine.GetType("UpgradeOps.$TypeName", $true)
        ConvertTo-EngineValue $type $Properties
    }

    function ConvertTo-EngineValue([type] $Type, $Value) {
        if ($null -eq $Value) { return $null }
        $Type = [Nullable]::GetUnderlyingType($Type) ?? $Type
        if ($Type.IsInstanceOfType($Value)) { return , $Value }
        if ($Type.IsArray -or ($Type.IsGenericType -and $Type.GenericTypeArguments.Count -eq 1 -and $Type -ne [string])) {
            $element = $Type.IsArray ? $Type.GetElementType() : $Type.GenericTypeArguments[0]
            $list = [Activator]::CreateInstance([System.Collections.Generic.List`1].MakeGenericType($element))
            foreach ($item in $Value) { $list.Add((ConvertTo-EngineValue $element $item)) }
            if ($Type.IsArray) { return , $list.ToArray() }
            return , $list
        }
        if ($Type.IsGenericType -and $Type.GenericTypeArguments.Count -eq 2) {
            $key, $item = $Type.GenericTypeArguments
            $map = [Activator]::CreateInstance([System.Collections.Generic.Dictionary`2].MakeGenericType($key, $item))
            foreach ($entry in $Value.GetEnumerator()) { $map.Add([Management.Automation.LanguagePrimitives]::ConvertTo($entry.Key, $key), (ConvertTo-EngineValue $item $entry.Value)) }
            return , $map
        }
        if ($Type.Assembly -eq $engine -and $Value -is [System.Collections.IDictionary]) {
            if ($Type.IsValueType) {
                # A record struct (MinuteRange): its constructor takes the properties.
                $constructor = $Type.GetConstructors()[0]
                return $constructor.Invoke([object[]]@($constructor.GetParameters() | ForEach-Object { $Value[$_.Name] }))
            }
            $object = [Activator]::CreateInstance($Type)
            foreach ($name in $Value.Keys) {
                $property = $Type.GetProperty($name)
                if (-not $property) { throw "$($Type.Name) has no property $name." }
                $property.SetValue($object, (ConvertTo-EngineValue $property.PropertyType $Value[$name]))
            }
            return $object
        }
        [Management.Automation.LanguagePrimitives]::ConvertTo($Value, $Type)
    }

    function Get-ErrorFrom([scriptblock] $Action) {
        $ErrorActionPreference = 'Stop'
        try { & $Action | Out-Null; $null } catch { $_ }
    }

    function Assert-Taken([scriptblock] $Action, [string] $FailsWith) {
        # The deserialized object was bound: the command runs, or fails on what it goes on to do (with no Docker Engine
        # here, DockerEngineUnreachable), never on the binding.
        $err = Get-ErrorFrom $Action
        $summary = if ($err) { "$($err.FullyQualifiedErrorId): $($err.Exception.Message)" } else { 'no error' }
        if (-not $FailsWith) { $err | Should -BeNullOrEmpty -Because $summary; return }
        $err.FullyQualifiedErrorId | Should -BeLike "$FailsWith,*" -Because "only what the command goes on to do fails, not the binding ($summary)"
    }

    # A Compose deployment of the sandbox profile, in a folder with its compose file, a .env holding a secret and the
    # journal of an earlier upgrade.
    $script:folder = Join-Path $TestDrive 'prod'
    $null = New-Item -ItemType Directory -Path $folder
    $script:compose = Write-SandboxCompose (Join-Path $folder 'docker-compose.yml')
    [IO.File]::WriteAllText((Join-Path $folder '.env'), "VERSION=1.7.5`nSANDBOX_DB_PASSWORD=$canary`n")
    $script:started = [DateTimeOffset]::new(2026, 12, 1, 22, 0, 0, [TimeSpan]::FromHours(1)).AddTicks(1234567)
    $script:recent = [DateTimeOffset]::UtcNow.AddHours(-3).ToOffset([TimeSpan]::FromHours(-5))

    $script:deploymentSpec = @{
        Name = 'prod'; Platform = 'Compose'; Profile = $profilePath; Version = '1.7.5'; ConfiguredVersion = '1.7.5'; RunningVersion = '1.7.5'
        Location = $compose; Endpoint = $env:DOCKER_HOST; ApiEndpoint = 'http://127.0.0.1:18000'; DatabaseSizeBytes = 5368709120
        Warnings = @('Service lb has no healthcheck: its health is not known.')
        Services = @(
            @{ Name = 'server-a'; Role = 'Api'; Image = '127.0.0.1:5000/sandbox:1.7.5'; Version = '1.7.5'; Replicas = 1; ExpectedReplicas = 1; Healthy = $true
               Containers = @(@{ Id = '4f1c2d3e4f5a'; Name = 'prod-server-a-1'; Image = '127.0.0.1:5000/sandbox:1.7.5'; ImageId = 'sha256:0a1b2c'; State = 'running'; Health = 'healthy' }) }
            @{ Name = 'worker'; Role = 'Worker'; Image = '127.0.0.1:5000/sandbox:1.7.5'; Version = '1.7.5'; Replicas = 1; ExpectedReplicas = 2; Healthy = $false
               Containers = @(
                    @{ Id = '5a6b7c8d9e0f'; Name = 'prod-worker-1'; State = 'running' }
                    @{ Id = '6b7c8d9e0f1a'; Name = 'prod-worker-2'; State = 'exited'; ExitCode = 137 }) }
        )
        # A rehearsal copy's ports: what MapPort answers must survive the round trip.
        PortMap = @(@{ ProfilePort = 5432; Port = 15432 }, @{ ProfilePort = 8000; Port = 18000 })
    }
    $script:helmDeploymentSpec = @{
        Name = 'prod'; Platform = 'Kubernetes'; Profile = 'infrahub'; Version = '1.7.5'; ChartVersion = '4.0.0'; ChartName = 'infrahub'
        Revision = 7; ReleaseStatus = 'deployed'; Kubeconfig = '/home/admin/.kube/config'; KubeContext = 'prod'; Location = 'infrahub/prod'
        Endpoint = 'https://127.0.0.1:1/'
        Services = @(@{ Name = 'infrahub-server'; Role = 'Api'; Replicas = 2; ExpectedReplicas = 2; Healthy = $true
                        Containers = @(@{ Id = 'uid-1'; Name = 'infrahub-server-7d9f-abcde'; State = 'running' }) })
    }
    $script:baselineSpec = @{
        DeploymentName = 'prod'; Version = '1.7.5'; CapturedAt = $started
        Requests = @(@{ Name = 'info'; Samples = 20; Failures = 0; P50Milliseconds = 3.25; P95Milliseconds = 7.125 }
                     @{ Name = 'graphql'; Samples = 20; Failures = 1; P50Milliseconds = 12.5; P95Milliseconds = 40.0625 })
    }
    $script:checks = @(
        @{ Name = 'ApiVersion'; Status = 'Passed'; Detail = 'The API reports 2.0.0.'; Remedy = 'Nothing to do.'; Duration = [TimeSpan]::FromMilliseconds(41.5) }
        @{ Name = 'Logs'; Status = 'Warning'; Detail = '2 warning lines since the upgrade.'; ErrorId = 'LogWarnings'; Remedy = 'Read them with Get-UpgradeDiagnostic.'; Duration = [TimeSpan]::FromSeconds(1.25) }
        @{ Name = 'GitSync'; Status = 'Skipped'; Detail = 'No repository is configured.' }
    )
    $script:validationSpec = @{
        DeploymentName = 'prod'; ExpectedVersion = '2.0.0'; CheckedAt = $started.AddMinutes(20); Checks = $checks
        Duration = [TimeSpan]::FromSeconds(4.5); Performance = $baselineSpec
    }
    $script:resultSpec = @{
        Id = 'prod-20261201-220000-upgrade-1.7.5-to-2.0.0'; DeploymentName = 'prod'; Deployment = $deploymentSpec; Location = $compose
        From = '1.7.5'; To = '2.0.0'; Strategy = 'Rolling'; Status = 'Succeeded'; Operation = 'Upgrade'
        Steps = @(
            @{ Name = 'hop1:pull'; Status = 'Succeeded'; Started = $started; Duration = [TimeSpan]::FromSeconds(12.25); Detail = '127.0.0.1:5000/sandbox:1.7.6' }
            @{ Name = 'hop1:migrate'; Status = 'Succeeded'; Started = $started.AddSeconds(13); Duration = [TimeSpan]::FromMinutes(2) }
            @{ Name = 'hop2:configuration'; Status = 'Skipped'; Detail = 'APP_SIGNING_KEY: AlreadySet' }
        )
        Downtime = [TimeSpan]::FromSeconds(7.34); Baseline = $baselineSpec; Duration = [TimeSpan]::FromMinutes(9.5); Started = $started
        BackupId = '20261201T215500Z'; BackupPath = (Join-Path $folder 'backups/20261201T215500Z')
        MigrationOutput = @("migrating artifacts`n42 rows", 'nothing to migrate')
        Rollout = @(@{ Workload = 'prod-server'; Kind = 'Deployment'; Role = 'Api'; Replicas = 2; Updated = 2; Ready = 2; Changed = $true; Started = $started.AddMinutes(3); TimeToReady = [TimeSpan]::FromSeconds(31.5) }
                    @{ Workload = 'prod-cache'; Kind = 'StatefulSet'; Role = 'Cache'; Replicas = 1; Updated = 1; Ready = 1 })
    }
    $script:rehearsalSpec = @{
        Id = 'prod-rehearsal-20261201-100000'; DeploymentName = 'prod'; CopyName = 'prod-rehearsal-4f2a'; CopyLocation = (Join-Path $folder 'copy/docker-compose.yml')
        Kept = $true; From = '1.7.5'; To = '2.0.0'; Route = '1.7.5 → 1.8.0 → 2.0.0'; Strategy = 'Standard'
        BackupId = '20261201T095500Z'; BackupPath = (Join-Path $folder 'backups/20261201T095500Z'); Started = $recent; Duration = [TimeSpan]::FromMinutes(14.25)
        Status = 'Passed'; Restore = [TimeSpan]::FromSeconds(95.5)
        Hops = @(
            @{ From = '1.7.5'; To = '1.8.0'; Duration = [TimeSpan]::FromSeconds(61.5); Migration = [TimeSpan]::FromSeconds(20); ApiUnavailable = [TimeSpan]::FromSeconds(4.25); Status = 'Succeeded' }
            @{ From = '1.8.0'; To = '2.0.0'; Duration = [TimeSpan]::FromSeconds(90); Migration = [TimeSpan]::FromSeconds(44); ApiUnavailable = [TimeSpan]::FromSeconds(6); Status = 'Succeeded' }
        )
        Downtime = [TimeSpan]::FromSeconds(15.25); Backup = [TimeSpan]::FromMinutes(3); EstimatedWindow = [TimeSpan]::FromMinutes(45)
        EstimateBasis = 'backup 3 min + upgrade 4 min + validation 1 min, × 1.5'
        Upgrade = $resultSpec; Validation = $validationSpec
        LogErrors = @('prod-rehearsal-4f2a-worker-1 ERROR retrying the queue connection'); LogWarnings = @('server-a WARNING slow query')
        Errors = @(); Warnings = @('The copy was kept (-Keep); remove it with docker compose down.')
    }

    $script:deployment = New-EngineObject Deployment $deploymentSpec
    # The journal of the upgrade the result tells of, where Invoke-Upgrade writes it (Get-UpgradeDiagnostic reads it).
    $resultSpec.JournalPath = (New-TestJournal -Deployment $deployment -To 1.7.6).JournalPath
    $script:rehearsal = New-EngineObject RehearsalReport $rehearsalSpec
    # A real path: planned by Test-UpgradePath from the deployment, with release notes and the rehearsal's measurements.
    $script:path = $deployment | Test-UpgradePath -To 2.0.0 -AvailableVersion $releases -ReleaseNotePath $changelog -Rehearsal $rehearsal -WarningAction SilentlyContinue

    # A real backup folder (its manifest says what the object says), and its real verification.
    $script:backup = New-TestBackup -Path (Join-Path $folder 'backups/20261201T215500Z') -Deployment $deployment -Id '20261201T215500Z' -Database
    $dump = $backup.Components | Where-Object Name -eq 'database'
    $dump.ServerMajorVersion = 15; $dump.DumpMajorVersion = 15
    $dump.RowCounts = ConvertTo-EngineValue $dump.GetType().GetProperty('RowCounts').PropertyType @{ 'public.artifacts' = 42; 'public.repositories' = 3; 'public."Mixed Case"' = 0 }
    $backup.ImageDigests['127.0.0.1:5000/sandbox:1.7.5'] = 'sha256:0a1b2c'
    $backup.ToolVersions['UpgradeOps'] = '0.1.0'; $backup.ToolVersions['pg_dump'] = '15.8'
    $backup.Duration = [TimeSpan]::FromSeconds(42.125)
    $manifest = [Activator]::CreateInstance($engine.GetType('UpgradeOps.Backups.BackupManifest'))
    $manifest.Backup = $backup
    [IO.File]::WriteAllText((Join-Path $backup.Path 'manifest.json'), $manifest.ToJson())

    # A real configuration change with a secret value (its diff masks it), on a deployment at 1.8.0 going to 2.0.0.
    $script:configurationFolder = Join-Path $TestDrive 'configuration'
    $null = New-Item -ItemType Directory -Path $configurationFolder
    $configurationCompose = Write-SandboxCompose (Join-Path $configurationFolder 'docker-compose.yml')
    [IO.File]::WriteAllText((Join-Path $configurationFolder '.env'), "VERSION=1.8.0`n")
    $script:configurationDeployment = New-TestDeployment -Name cfg -Profile $profilePath -Version 1.8.0 -Location $configurationCompose

    # One object of each output type, as the cmdlet that returns it fills it.
    $script:builders = @{
        'UpgradeOps.Deployment'          = { $deployment }
        'UpgradeOps.UpgradePath'         = { $path }
        'UpgradeOps.ReleaseNote'         = { Get-UpgradeReleaseNote -Path $changelog -From 1.6.3 -To 1.7.6 | Where-Object { $_.References.Count -gt 0 } | Select-Object -First 1 }
        'UpgradeOps.DeploymentBackup'    = { $backup }
        'UpgradeOps.BackupVerification'  = { $backup | Test-DeploymentBackup }
        'UpgradeOps.ConfigurationChange' = { $configurationDeployment | Convert-UpgradeConfiguration -To 2.0.0 -ConfigurationValue @{ APP_SIGNING_KEY = $canary } -Force }
        'UpgradeOps.UpgradeResult'       = { New-EngineObject UpgradeResult $resultSpec }
        'UpgradeOps.ValidationReport'    = { New-EngineObject ValidationReport $validationSpec }
        'UpgradeOps.PerformanceBaseline' = { New-EngineObject PerformanceBaseline $baselineSpec }
        'UpgradeOps.ReadinessReport'     = {
            $readinessPath = New-EngineObject Deployment $helmDeploymentSpec | Test-UpgradePath -To 1.7.6 -AvailableVersion $releases -WarningAction SilentlyContinue
            New-EngineObject ReadinessReport @{ DeploymentName = 'prod'; From = '1.7.5'; To = '1.7.6'; Checks = $checks; Path = $readinessPath }
        }
        'UpgradeOps.DiagnosticReport'    = {
            New-EngineObject DiagnosticReport @{
                DeploymentName = 'prod'; CollectedAt = $started.AddHours(1); Version = '1.7.6'; Platform = 'Compose'
                Services = @(@{ Service = 'server-a'; Container = 'prod-server-a-1'; Image = '127.0.0.1:5000/sandbox:2.0.0'; State = 'exited'; ExitCode = 1
                                RestartCount = 3; OomKilled = $false; StartedAt = $started.AddMinutes(50); FinishedAt = $started.AddMinutes(51)
                                LogTail = @('2026-12-01T22:51:00.000000000Z ERROR configuration value APP_SIGNING_KEY is required') }
                             @{ Service = 'database'; Container = 'prod-database-1'; State = 'running'; Health = 'healthy'; LogTail = @() })
                UpgradeId = $resultSpec.Id; Operation = 'Upgrade'; UpgradeStatus = 'Failed'; FailedStep = 'hop3:migrate'
                Error = 'The migration failed (exit code 1).'; ErrorId = 'MigrationFailed'; MigrationOutput = @('ERROR configuration value APP_SIGNING_KEY is required')
                Findings = @(@{ Id = 'MissingConfigurationValue'; Severity = 'Error'; Source = 'migration'; Evidence = 'configuration value APP_SIGNING_KEY is required'; Guidance = 'Add it with Invoke-Upgrade -ConfigurationValue.' }
                             @{ Id = 'ContainerRestarting'; Severity = 'Warning'; Source = 'container: prod-server-a-1'; Guidance = 'Read its logs.' })
                JournalPath = $resultSpec.JournalPath; OutFile = (Join-Path $folder 'diagnostic.zip')
            }
        }
        'UpgradeOps.RehearsalReport'     = { $rehearsal }
    }
}

AfterAll {
    Exit-UnreachableEngines $engines
}

Describe 'Every output type of every cmdlet' -Tag 'Serialization' {
    It 'has a round trip of an object built here' {
        $outputTypeNames | Where-Object { -not $builders.ContainsKey($_) } | Should -BeNullOrEmpty -Because 'each output type needs a builder in Serialization.Tests.ps1'
    }

    It 'has a round trip of a real object in the test that makes one' {
        $files = Get-ChildItem $PSScriptRoot -Filter *.Tests.ps1 | Where-Object Name -ne 'Serialization.Tests.ps1'
        $covered = @(Get-RoundTripCoverage -Path $files.FullName | ForEach-Object Type)
        $outputTypeNames | Where-Object { $_ -notin $covered } | Should -BeNullOrEmpty -Because 'each output type needs Assert-RoundTrip -Type <it> where a real run makes one'
    }

    It 'asks Export-Clixml for enough depth to keep its nested objects' {
        foreach ($type in $outputTypeNames) {
            (Get-TypeData -TypeName $type).SerializationDepth | Should -BeGreaterOrEqual 6 -Because "$type holds objects several levels deep (UpgradeOps.Types.ps1xml)"
        }
    }

    It 'exposes only properties that serialize, rebuild and hold no secret' {
        $problems = [System.Collections.Generic.List[string]]::new()
        $seen = @{}
        $queue = [System.Collections.Generic.Queue[type]]::new()
        foreach ($name in $outputTypeNames) { $queue.Enqueue($engine.GetType($name, $true)) }
        $lists = 'System.Collections.Generic.List`1', 'System.Collections.Generic.IReadOnlyList`1', 'System.Collections.Generic.IList`1',
            'System.Collections.Generic.IReadOnlyCollection`1', 'System.Collections.Generic.ICollection`1', 'System.Collections.Generic.IEnumerable`1'
        $maps = 'System.Collections.Generic.Dictionary`2', 'System.Collections.Generic.IReadOnlyDictionary`2', 'System.Collections.Generic.IDictionary`2'
        $check = {
            param([type] $Type, [string] $Where)
            $Type = [Nullable]::GetUnderlyingType($Type) ?? $Type
            if ($Type -in [securestring], [pscredential], [byte[]]) { $problems.Add("$Where is a $($Type.Name): a secret or raw bytes"); return }
            if ($Type.IsPrimitive -or $Type.IsEnum -or $Type -in [string], [decimal], [TimeSpan], [DateTime], [DateTimeOffset], [guid]) { return }
            if ($Type.IsArray) { & $check $Type.GetElementType() $Where; return }
            $definition = if ($Type.IsGenericType) { $Type.GetGenericTypeDefinition().FullName }
            if ($definition -in $lists) { & $check $Type.GenericTypeArguments[0] $Where; return }
            if ($definition -in $maps) {
                if ($Type.GenericTypeArguments[0] -ne [string]) { $problems.Add("$Where is a map with $($Type.GenericTypeArguments[0].Name) keys: ConvertTo-Json takes string keys only") }
                & $check $Type.GenericTypeArguments[1] $Where
                return
            }
            if ($Type.Assembly -eq $engine -and $Type.Namespace -eq 'UpgradeOps' -and $Type.IsPublic) { $queue.Enqueue($Type); return }
            $problems.Add("$Where is a $($Type.FullName), which Import-Clixml cannot give back as anything the module rebuilds")
        }
        while ($queue.Count) {
            $type = $queue.Dequeue()
            if ($seen.ContainsKey($type.FullName)) { continue }
            $seen[$type.FullName] = $true
            if (-not $type.IsValueType -and -not $type.GetConstructor([type]::EmptyTypes)) { $problems.Add("$($type.Name) has no parameterless constructor to rebuild it with") }
            foreach ($property in $type.GetProperties([Reflection.BindingFlags]'Public, Instance')) {
                $where = "$($type.Name).$($property.Name)"
                if ($property.Name -match '(?i)password|passphrase|secret|token|credential|privatekey') { $problems.Add("$where looks like a secret") }
                & $check $property.PropertyType $where
            }
        }
        $problems | Should -BeNullOrEmpty
        $seen.Count | Should -BeGreaterThan $outputTypeNames.Count
    }
}

Describe 'Round trip of <Type>' -Tag 'Serialization' -ForEach $outputTypes {
    It 'converts to JSON whole, and comes back from Export-Clixml / Import-Clixml the same, without secrets' {
        $object = & $builders[$Type]
        Assert-RoundTrip $object -Type $Type -Secret $canary
    }
}

Describe 'A deserialized object is taken by the cmdlets that take its type' -Tag 'Serialization' {
    BeforeAll {
        function Get-Deserialized($InputObject) {
            $file = Join-Path $TestDrive "$([guid]::NewGuid().ToString('N')).xml"
            $InputObject | Export-Clixml -LiteralPath $file
            Import-Clixml -LiteralPath $file
        }
        $script:report = Join-Path $TestDrive 'reports'
        $null = New-Item -ItemType Directory -Path $report -Force
    }

    It 'Deployment: Get-UpgradeHistory, Test-UpgradePath, and a rehearsal copy''s ports' {
        $d = Get-Deserialized $deployment
        $d.PSObject.TypeNames[0] | Should -Be 'Deserialized.UpgradeOps.Deployment'
        ($d | Get-UpgradeHistory).To | Should -Be '1.7.6'
        $p = $d | Test-UpgradePath -To 1.7.6 -AvailableVersion $releases
        $p.Deployment.Name | Should -Be 'prod'
        $p.Deployment.Services.Count | Should -Be 2
        $p.Deployment.MapPort(8000) | Should -Be 18000
        $p.Deployment.MapPort(6379) | Should -Be 6379
        $p.Deployment.IsRehearsalCopy | Should -BeTrue
        Assert-Taken { $d | New-DeploymentBackup -Path (Join-Path $TestDrive 'new-backups') -WhatIf } -FailsWith DockerEngineUnreachable
    }

    It 'DeploymentBackup: Test-DeploymentBackup verifies it, Restore-DeploymentBackup takes it' {
        $b = Get-Deserialized $backup
        $verification = $b | Test-DeploymentBackup
        $verification.BackupId | Should -Be $backup.Id
        $verification.Passed | Should -BeTrue -Because ($verification.Checks | Format-Table Name, Status, Detail | Out-String)
        $bare = Get-Deserialized (New-TestDeployment -Name prod -Profile $profilePath -Location $compose)
        Assert-Taken { $b | Restore-DeploymentBackup -Deployment $bare -Force } -FailsWith DockerEngineUnreachable
    }

    It 'UpgradePath: Invoke-Upgrade -WhatIf takes it from the pipeline' {
        $p = Get-Deserialized $path
        Assert-Taken { $p | Invoke-Upgrade -SkipBackup -WhatIf } -FailsWith DockerEngineUnreachable
    }

    It 'UpgradeResult: Export-UpgradeReport writes it, Test-PostUpgrade and Get-UpgradeDiagnostic take it' {
        $r = Get-Deserialized (New-EngineObject UpgradeResult $resultSpec)
        $file = $r | Export-UpgradeReport -Path (Join-Path $report 'upgrade.md')
        $text = Get-Content -Raw $file.FullName
        $text | Should -Match ([regex]::Escape($resultSpec.Id))
        $text | Should -Match 'hop1:migrate'
        $text | Should -Not -Match $canary
        Assert-Taken { $r | Test-PostUpgrade } -FailsWith DockerEngineUnreachable
        Assert-Taken { $r | Get-UpgradeDiagnostic } -FailsWith DockerEngineUnreachable
    }

    It 'RehearsalReport: Test-UpgradePath and Test-UpgradeReadiness -Rehearsal, Export-UpgradeReport' {
        $r = Get-Deserialized $rehearsal
        $p = $deployment | Test-UpgradePath -To 2.0.0 -AvailableVersion $releases -Rehearsal $r -WarningAction SilentlyContinue
        $p.RehearsalId | Should -Be $rehearsal.Id
        $p.MeasuredWindow | Should -Be $rehearsal.EstimatedWindow
        $p.Steps[0].MeasuredDuration | Should -Be $rehearsal.Hops[0].Duration
        $file = $r | Export-UpgradeReport -Path (Join-Path $report 'rehearsal.md')
        Get-Content -Raw $file.FullName | Should -Match ([regex]::Escape($rehearsal.Id))
        Assert-Taken { $deployment | Test-UpgradeReadiness -To 2.0.0 -Rehearsal $r } -FailsWith DockerEngineUnreachable
    }

    It 'ValidationReport: Export-UpgradeReport -Validation' {
        $v = Get-Deserialized (New-EngineObject ValidationReport $validationSpec)
        $file = New-EngineObject UpgradeResult $resultSpec | Export-UpgradeReport -Path (Join-Path $report 'validated.md') -Validation $v
        Get-Content -Raw $file.FullName | Should -Match '2 warning lines since the upgrade'
    }

    It 'PerformanceBaseline: Test-PostUpgrade -Baseline' {
        $b = Get-Deserialized (New-EngineObject PerformanceBaseline $baselineSpec)
        Assert-Taken { $deployment | Test-PostUpgrade -Baseline $b } -FailsWith DockerEngineUnreachable
    }
}

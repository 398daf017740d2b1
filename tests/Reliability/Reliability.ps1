# Shared by the reliability tests: how a case is loaded, run and judged. A case file is a script that returns
# hashtables; each hashtable is one case:
#
#   Name      what is tried, as a user would say it (unique in its file)                      required
#   Run       { param($Dir, $Data) ... } the command, run with -ErrorAction Stop semantics     required
#   Setup     { param($Dir) ... } makes the inputs in $Dir; what it returns is $Data           optional
#   ErrorId   the stable ErrorId expected (the first part of FullyQualifiedErrorId)           required for errors
#   Category  the ErrorCategory expected                                                       required for errors
#   Target    the TargetObject expected: a value, or { param($Dir, $Data) value }             required for errors
#   Message   a regex the message must match too (e.g. what it must name)                      optional
#   Remedy    $false only for PowerShell's own parameter-binding errors, whose text is PowerShell's
#   Expect    'Error' (default) or 'Result'
#   Check     { param($Output, $Dir, $Data) Pester assertions } for Expect = 'Result'
#   Watch     { param($Dir, $Data) paths } files or folders outside $Dir that must not change   optional
#   Seconds   the time limit (default 10)
#
# Every case runs in a fresh folder (also the XDG state home, so state written under it counts as left behind),
# with DOCKER_HOST at a socket that does not exist and KUBECONFIG at a cluster whose port is closed.

$script:RemedyPattern = '(?i)(^|[.:;!?)]\s+|\n\s*|—\s*|, then |: )(give|use|run|check|fix|remove|rename|restore|take|start|install|set|choose|pass|wait|correct|make|add|delete|point|read|try|create|upgrade|write|leave|open|select|specify|stop|free|mount|continue|edit|finish|resolve|move|keep|list|pick|put|ask|see|answer|type|drop|replace|repair|reinstall|update|save|convert|enter|look|copy|unlock|follow|bring|call|re-?run|name|plan|describe|spell|write|roll|undo|get)\b'
$script:BinderErrorIds = @(
    'AmbiguousParameterSet', 'NamedParameterNotFound', 'ParameterArgumentValidationError', 'ParameterArgumentTransformationError',
    'MissingArgument', 'ParameterBindingFailed', 'InputObjectNotBound', 'CannotConvertArgumentNoMessage', 'CannotConvertArgument',
    'PositionalParameterNotFound', 'ParameterArgumentValidationErrorNullNotAllowed', 'ParameterArgumentValidationErrorEmptyStringNotAllowed',
    'MissingMandatoryParameter', 'ParameterAlreadyBound', 'InputObjectNotBound')

function Get-ReliabilityCase {
    param([Parameter(Mandatory)][string] $Folder)
    $all = foreach ($file in Get-ChildItem -Path $Folder -Filter '*.cases.ps1' | Sort-Object Name) {
        $area = $file.Name -replace '\.cases\.ps1$', ''
        foreach ($case in @(& $file.FullName)) {
            if ($case -isnot [hashtable]) { throw "$($file.Name): a case must be a hashtable, got $($case.GetType().Name)." }
            if (-not $case.Name -or -not $case.Run) { throw "$($file.Name): every case needs Name and Run." }
            $case.Area = $area
            # Every key present, so the runner reads them under strict mode.
            foreach ($key in 'Setup', 'Message', 'Remedy', 'Check', 'Watch', 'Seconds') { if (-not $case.ContainsKey($key)) { $case[$key] = $null } }
            if (-not $case.ContainsKey('Expect')) { $case.Expect = 'Error' }
            if ($case.Expect -eq 'Error') {
                foreach ($key in 'ErrorId', 'Category', 'Target') {
                    if (-not $case.ContainsKey($key)) { throw "$($file.Name) '$($case.Name)': an error case needs $key." }
                }
            }
            $case
        }
    }
    $duplicates = $all | Group-Object { "$($_.Area): $($_.Name)" } | Where-Object Count -gt 1
    if ($duplicates) { throw "Duplicate case names: $($duplicates.Name -join '; ')" }
    $all
}

function Enter-UnreachableEngines {
    $saved = @{ DOCKER_HOST = $env:DOCKER_HOST; KUBECONFIG = $env:KUBECONFIG; XDG_DATA_HOME = $env:XDG_DATA_HOME }
    $root = Join-Path ([IO.Path]::GetTempPath()) "uops-reliability-$PID"
    $null = New-Item -ItemType Directory -Force -Path $root
    $kubeconfig = Join-Path $root 'kubeconfig'
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    Set-Content -LiteralPath $kubeconfig -Value @'
apiVersion: v1
kind: Config
clusters:
- name: closed
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
contexts:
- name: closed
  context:
    cluster: closed
    user: nobody
current-context: closed
users:
- name: nobody
  user:
    token: not-a-token
'@
    $env:DOCKER_HOST = 'unix:///nonexistent/upgradeops-reliability/docker.sock'
    $env:KUBECONFIG = $kubeconfig
    $saved.Root = $root
    $saved
}

function Exit-UnreachableEngines {
    param($Saved)
    if (-not $Saved) { return }
    $env:DOCKER_HOST = $Saved.DOCKER_HOST
    $env:KUBECONFIG = $Saved.KUBECONFIG
    $env:XDG_DATA_HOME = $Saved.XDG_DATA_HOME
    Remove-Item -LiteralPath $Saved.Root -Recurse -Force -ErrorAction SilentlyContinue
}

function Get-TreeFingerprint {
    # Names, kinds, sizes and content hashes of everything under the given paths (links are not followed).
    param([string[]] $Path)
    $lines = foreach ($root in $Path) {
        if (-not $root) { continue }
        if (-not (Test-Path -LiteralPath $root)) { "missing $root"; continue }
        $item = Get-Item -LiteralPath $root -Force
        $items = @($item) + @(if ($item.PSIsContainer -and -not $item.LinkType) { Get-ChildItem -LiteralPath $root -Recurse -Force -Attributes !ReparsePoint, ReparsePoint -ErrorAction SilentlyContinue })
        foreach ($entry in $items) {
            if ($entry.LinkType) { "link $($entry.FullName) -> $($entry.Target)" }
            elseif ($entry.PSIsContainer) { "dir $($entry.FullName) $($entry.UnixMode)" }
            else {
                $hash = try { (Get-FileHash -LiteralPath $entry.FullName -Algorithm SHA256 -ErrorAction Stop).Hash } catch { 'unreadable' }
                "file $($entry.FullName) $($entry.Length) $($entry.UnixMode) $hash"
            }
        }
    }
    ($lines | Sort-Object) -join "`n"
}

function New-TestDeployment {
    # A Deployment object as Get-UpgradeDeployment returns it, built from the engine's own type (engine types live
    # in the module's load context, so a type literal cannot name them).
    param(
        [string] $Name = 'prod', [ValidateSet('Compose', 'Kubernetes')][string] $Platform = 'Compose',
        [string] $Profile = 'infrahub', [string] $Version = '1.7.5', [string] $Location
    )
    $type = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.Deployment')
    $deployment = [Activator]::CreateInstance($type)
    $deployment.Name = $Name; $deployment.Platform = $Platform; $deployment.Profile = $Profile; $deployment.Version = $Version
    $deployment.Location = $Location
    $deployment
}

function Write-SandboxCompose {
    # The sandbox's compose file (tests/Sandbox: the services its profile declares) at -Path; returns the path.
    param([Parameter(Mandatory)] [string] $Path)
    [IO.File]::WriteAllText($Path, @'
services:
  server-a: {image: "127.0.0.1:5000/sandbox:${VERSION:-1.7.5}", network_mode: host}
  server-b: {image: "127.0.0.1:5000/sandbox:${VERSION:-1.7.5}", network_mode: host}
  worker: {image: "127.0.0.1:5000/sandbox:${VERSION:-1.7.5}", network_mode: host}
  database: {image: postgres:15, network_mode: host}
  cache: {image: redis:7, network_mode: host}
  lb: {image: "127.0.0.1:5000/sandbox-lb:1", network_mode: host}

'@)
    $Path
}

function New-TestBackup {
    # A backup folder with a valid manifest, as New-DeploymentBackup writes it, for a deployment from New-TestDeployment: the
    # compose file, and with -Database a PostgreSQL dump too (its bytes are not a real dump: nothing here restores it).
    # Returns the DeploymentBackup as Get-DeploymentBackup would.
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] $Deployment, [string] $Id = '20240101T000000Z', [switch] $Database)
    $assembly = $Deployment.GetType().Assembly
    $null = New-Item -ItemType Directory -Force -Path (Join-Path $Path 'config')
    $backup = [Activator]::CreateInstance($assembly.GetType('UpgradeOps.DeploymentBackup'))
    $backup.Id = $Id; $backup.CreatedAt = [DateTimeOffset]::UtcNow; $backup.DeploymentName = $Deployment.Name; $backup.Version = $Deployment.Version
    $backup.Platform = $Deployment.Platform; $backup.Profile = $Deployment.Profile; $backup.Location = $Deployment.Location
    $files = @(@{ Name = 'compose-file'; Kind = 'ConfigFile'; File = 'config/docker-compose.yml'; Text = "services: {}`n"; Source = $Deployment.Location })
    if ($Database) { $files += @{ Name = 'database'; Kind = 'PostgresDump'; File = 'database.dump'; Text = "PGDMP not a real dump`n"; Source = 'database' } }
    foreach ($file in $files) {
        $full = Join-Path $Path $file.File
        [IO.File]::WriteAllText($full, $file.Text)
        $component = [Activator]::CreateInstance($assembly.GetType('UpgradeOps.BackupComponent'))
        $component.Name = $file.Name; $component.Kind = $file.Kind; $component.File = $file.File; $component.Source = $file.Source
        $component.SizeBytes = (Get-Item -LiteralPath $full).Length; $component.Sha256 = (Get-FileHash -LiteralPath $full -Algorithm SHA256).Hash.ToLowerInvariant()
        $backup.Components.Add($component)
    }
    $manifest = [Activator]::CreateInstance($assembly.GetType('UpgradeOps.Backups.BackupManifest'))
    $manifest.Backup = $backup
    [IO.File]::WriteAllText((Join-Path $Path 'manifest.json'), $manifest.ToJson())
    $backup.Path = $Path
    $backup
}

function New-TestJournal {
    # The journal of a finished upgrade of a deployment from New-TestDeployment, where Invoke-Upgrade writes it: beside the
    # compose file, or for a Helm release in the state folder under -StateHome (the case's XDG_DATA_HOME, $Dir/.state-home).
    param([Parameter(Mandatory)] $Deployment, [string] $BackupPath, [string] $StateHome, [string] $To = '1.7.6')
    $assembly = $Deployment.GetType().Assembly
    $result = [Activator]::CreateInstance($assembly.GetType('UpgradeOps.UpgradeResult'))
    $result.Id = "$($Deployment.Name)-20240101-000000-upgrade-$($Deployment.Version)-to-$To"; $result.DeploymentName = $Deployment.Name
    $result.From = $Deployment.Version; $result.To = $To; $result.Status = 'Succeeded'; $result.Started = [DateTimeOffset]::UtcNow.AddHours(-1)
    if ($BackupPath) { $result.BackupPath = $BackupPath; $result.BackupId = '20240101T000000Z' }
    $journalType = $assembly.GetType('UpgradeOps.Journal.UpgradeJournal')
    $journal = [Activator]::CreateInstance($journalType)
    $journal.Result = $result
    $previous = $env:XDG_DATA_HOME
    try {
        if ($Deployment.Platform -eq 'Kubernetes') {
            $env:XDG_DATA_HOME = $StateHome
            $ns, $release = $Deployment.Location -split '/', 2
            $anchor = $assembly.GetType('UpgradeOps.Kubernetes.HelmStateFolder')::Anchor($ns, $release)
            $journal.PreviousRevision = 1
        }
        else {
            $anchor = $Deployment.Location
            $journal.ComposeFile = $Deployment.Location; $journal.Profile = $Deployment.Profile
        }
        $journal.Path = Join-Path $journalType::JournalFolder($anchor) "$($result.Id).json"
        $journal.Save()
    }
    finally { $env:XDG_DATA_HOME = $previous }
    $result.JournalPath = $journal.Path
    $result
}

function Invoke-ReliabilityCase {
    param([Parameter(Mandatory)][hashtable] $Case)
    $dir = Join-Path ([IO.Path]::GetTempPath()) ("uops-case-" + [guid]::NewGuid().ToString('N').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $dir
    $stateHome = Join-Path $dir '.state-home'
    $previousState = $env:XDG_DATA_HOME
    $previousLocation = Get-Location
    try {
        $data = if ($Case.Setup) { & $Case.Setup $dir } else { $null }
        $null = New-Item -ItemType Directory -Path $stateHome -Force
        $env:XDG_DATA_HOME = $stateHome
        $watch = @($dir) + @(if ($Case.Watch) { & $Case.Watch $dir $data })
        $before = Get-TreeFingerprint -Path $watch
        Set-Location -LiteralPath $dir
        $output = $null; $errorRecord = $null
        $clock = [Diagnostics.Stopwatch]::StartNew()
        try {
            $ErrorActionPreference = 'Stop'
            $output = @(& $Case.Run $dir $data 2>&1 | ForEach-Object {
                    if ($_ -is [System.Management.Automation.ErrorRecord]) { if (-not $errorRecord) { $errorRecord = $_ } } else { $_ }
                })
        }
        catch {
            $errorRecord = $_
        }
        $clock.Stop()
        Set-Location -LiteralPath $previousLocation
        $after = Get-TreeFingerprint -Path $watch
        [pscustomobject]@{
            Dir = $dir; Data = $data; Output = $output; Error = $errorRecord; Elapsed = $clock.Elapsed
            Before = $before; After = $after
        }
    }
    finally {
        Set-Location -LiteralPath $previousLocation
        $env:XDG_DATA_HOME = $previousState
        # The folder goes after the assertions (they read it); Remove-ReliabilityCase is called by Assert-.
    }
}

function Format-ErrorSummary {
    param($ErrorRecord)
    if (-not $ErrorRecord) { return 'no error' }
    "$($ErrorRecord.FullyQualifiedErrorId) [$($ErrorRecord.CategoryInfo.Category)] $($ErrorRecord.Exception.GetType().FullName): $($ErrorRecord.Exception.Message)"
}

function Assert-ReliabilityOutcome {
    param([Parameter(Mandatory)][hashtable] $Case, [Parameter(Mandatory)] $Outcome)
    try {
        $limit = if ($Case.Seconds) { $Case.Seconds } else { 10 }
        $Outcome.Elapsed.TotalSeconds | Should -BeLessThan $limit -Because "a bad input is answered within $limit s"
        $Outcome.After | Should -Be $Outcome.Before -Because 'a failed or refused command creates, changes and leaves nothing behind'

        if ($Case.Expect -eq 'Result') {
            $Outcome.Error | Should -BeNullOrEmpty -Because "this input has an answer, not an error ($(Format-ErrorSummary $Outcome.Error))"
            if ($Case.Check) { & $Case.Check $Outcome.Output $Outcome.Dir $Outcome.Data }
            return
        }

        $err = $Outcome.Error
        $summary = Format-ErrorSummary $err
        $err | Should -Not -BeNullOrEmpty -Because 'bad input is an error, not silence'
        $err | Should -BeOfType System.Management.Automation.ErrorRecord
        $id = ($err.FullyQualifiedErrorId -split ',')[0]
        $id | Should -Not -Be 'EngineFailure' -Because "the catch-all id never answers bad input ($summary)"
        $id | Should -Be $Case.ErrorId -Because $summary
        $exceptionType = $err.Exception.GetType()
        $isEngine = $exceptionType.FullName -like 'UpgradeOps.*'
        $isBinder = $id -in $script:BinderErrorIds -and $exceptionType.FullName -like 'System.Management.Automation.*'
        ($isEngine -or $isBinder) | Should -BeTrue -Because "the error is the module's own, not a raw .NET exception ($summary)"
        "$($err.CategoryInfo.Category)" | Should -Be $Case.Category -Because $summary
        $expectedTarget = if ($Case.Target -is [scriptblock]) { & $Case.Target $Outcome.Dir $Outcome.Data } else { $Case.Target }
        "$($err.TargetObject)" | Should -Be "$expectedTarget" -Because "the failing input is the TargetObject ($summary)"
        $message = $err.Exception.Message
        $message | Should -Not -Match '[\x00-\x08\x0B\x0C\x0E-\x1F]' -Because 'control characters from the input are never echoed raw'
        if ($Case.Remedy -ne $false) {
            $message | Should -Match $script:RemedyPattern -Because "the message says what to do next: '$message'"
        }
        if ($Case.Message) { $message | Should -Match $Case.Message }
    }
    finally {
        Remove-Item -LiteralPath $Outcome.Dir -Recurse -Force -ErrorAction SilentlyContinue
    }
}

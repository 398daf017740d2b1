# Backups for the bad-input corpus (Cases/Backups.cases.ps1), made without a Docker Engine: the component files are
# written here, the manifest by the engine's own type (BackupManifest.ToJson computes its integrity hash and, given the
# passphrase, its MAC). Edit-BackupManifest then damages a manifest as a disk or an attacker would: with the integrity
# hash left as it was, or recomputed (-Reseal) the way ToJson computes it, since anyone can.
# Dot-source it in a case's Setup: its functions are global, so that the case file's own scriptblocks (each bound to the
# scope it was made in) see them too; a case file's functions are gone when its cases run.

function global:Get-UpgradeOpsEngineType {
    # Engine types live in the module's own load context, so a type literal cannot name them.
    param([Parameter(Mandatory)][string] $Name)
    (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType($Name, $true)
}

function global:Get-FileSha256 {
    param([Parameter(Mandatory)][string] $Path)
    (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}

function global:New-BackupFixture {
    # A complete backup of 'prod' at 1.7.5 in $Path (a database dump, a volume archive, the compose file and its .env), as
    # New-DeploymentBackup writes one; encrypted with -Passphrase. Returns the folder.
    # Each kind (folder name, passphrase) is written once per test process and copied: an encrypted one derives an
    # OpenPGP key (65 MB hashed) for each of its files, over a second per backup, and the corpus makes over a hundred.
    param([Parameter(Mandatory)][string] $Path, [string] $Passphrase)
    $leaf = Split-Path -Leaf $Path
    if (-not (Get-Variable -Name BackupFixtureTemplates -Scope Global -ErrorAction SilentlyContinue)) { $global:BackupFixtureTemplates = @{} }
    $template = $global:BackupFixtureTemplates["$leaf|$Passphrase"]
    if (-not $template -or -not (Test-Path -LiteralPath $template)) {
        $template = Join-Path ([IO.Path]::GetTempPath()) "uops-fixtures-$PID/$($global:BackupFixtureTemplates.Count)/$leaf"
        $null = Write-BackupFixture -Path $template -Passphrase $Passphrase
        $global:BackupFixtureTemplates["$leaf|$Passphrase"] = $template
    }
    Copy-FixtureTree -Source $template -Destination $Path
    $Path
}

function global:Copy-FixtureTree {
    # Every file, hidden ones (config/.env) included, into a folder that need not exist.
    param([Parameter(Mandatory)][string] $Source, [Parameter(Mandatory)][string] $Destination)
    $null = New-Item -ItemType Directory -Force -Path $Destination
    foreach ($entry in Get-ChildItem -LiteralPath $Source -Force) {
        $target = Join-Path $Destination $entry.Name
        if ($entry.PSIsContainer) { Copy-FixtureTree -Source $entry.FullName -Destination $target }
        else { [IO.File]::Copy($entry.FullName, $target) }
    }
}

function global:Remove-BackupFixtureTemplates {
    # The templates New-BackupFixture made in this process (BadInput.Tests.ps1 calls it when the corpus is done).
    Remove-Item -LiteralPath (Join-Path ([IO.Path]::GetTempPath()) "uops-fixtures-$PID") -Recurse -Force -ErrorAction SilentlyContinue
    $global:BackupFixtureTemplates = @{}
}

function global:Write-BackupFixture {
    param([Parameter(Mandatory)][string] $Path, [string] $Passphrase)
    [byte[]] $key = if ($Passphrase) { [Text.Encoding]::UTF8.GetBytes($Passphrase) } else { $null }
    $suffix = if ($key) { '.enc' } else { '' }
    $null = New-Item -ItemType Directory -Force -Path (Join-Path $Path 'config')
    $volume = Join-Path ([IO.Path]::GetTempPath()) ("uops-volume-" + [guid]::NewGuid().ToString('N'))
    $null = New-Item -ItemType Directory -Path $volume
    try {
        foreach ($i in 1..4) { [IO.File]::WriteAllBytes((Join-Path $volume "part$i.bin"), [byte[]](1..250 * 40)) }
        $archive = [IO.MemoryStream]::new()
        [System.Formats.Tar.TarFile]::CreateFromDirectory($volume, $archive, $false)
        $contents = [ordered]@{
            "database.dump$suffix"            = @('database', 'PostgresDump', "database 'app' in service prod-database-1", [Text.Encoding]::ASCII.GetBytes('PGDMP' + ('-' * 3000)))
            "files.tar$suffix"                = @('files', 'Volume', 'volume prod_files (/data)', $archive.ToArray())
            "config/docker-compose.yml$suffix" = @('config', 'ConfigFile', '/srv/prod/docker-compose.yml', [Text.Encoding]::UTF8.GetBytes("services:`n  server: {image: `"app:`${VERSION:-1.7.5}`"}`n"))
            "config/.env$suffix"              = @('config', 'ConfigFile', '/srv/prod/.env', [Text.Encoding]::UTF8.GetBytes("VERSION=1.7.5`nDB_PASSWORD=not-in-any-output`n"))
        }
    }
    finally { Remove-Item -LiteralPath $volume -Recurse -Force }

    $encryption = Get-UpgradeOpsEngineType 'UpgradeOps.Backups.BackupEncryption'
    $backup = [Activator]::CreateInstance((Get-UpgradeOpsEngineType 'UpgradeOps.DeploymentBackup'))
    $backup.Id = Split-Path -Leaf $Path; $backup.CreatedAt = [DateTimeOffset]::UtcNow; $backup.DeploymentName = 'prod'; $backup.Version = '1.7.5'
    $backup.Platform = 'Compose'; $backup.Profile = 'infrahub'; $backup.Location = '/srv/prod/docker-compose.yml'; $backup.Encrypted = [bool] $key
    $backup.ToolVersions['UpgradeOps'] = '0.9.0'
    foreach ($file in $contents.Keys) {
        $name, $kind, $source, $bytes = $contents[$file]
        $target = Join-Path $Path $file
        $stream = [IO.File]::Create($target)
        try {
            if ($key) { $writer = $encryption::Encrypt($stream, $key); $writer.Write($bytes, 0, $bytes.Length); $writer.Dispose() }
            else { $stream.Write($bytes, 0, $bytes.Length) }
        }
        finally { $stream.Dispose() }
        $component = [Activator]::CreateInstance((Get-UpgradeOpsEngineType 'UpgradeOps.BackupComponent'))
        $component.Name = $name; $component.Kind = $kind; $component.File = $file; $component.Source = $source
        $component.SizeBytes = [IO.FileInfo]::new($target).Length; $component.Sha256 = Get-FileSha256 $target
        $backup.Components.Add($component)
    }
    $manifest = [Activator]::CreateInstance((Get-UpgradeOpsEngineType 'UpgradeOps.Backups.BackupManifest'))
    $manifest.Backup = $backup
    if ($key) {
        $info = [Activator]::CreateInstance((Get-UpgradeOpsEngineType 'UpgradeOps.Backups.BackupEncryptionInfo'))
        $info.KeyCheckSalt = [Convert]::ToBase64String([Security.Cryptography.RandomNumberGenerator]::GetBytes(16))
        $info.KeyCheck = (Get-UpgradeOpsEngineType 'UpgradeOps.Backups.BackupManifestKey')::KeyCheck($key, $info.KeyCheckSalt)
        $manifest.Encryption = $info
        [IO.File]::WriteAllText((Join-Path $Path 'manifest.json'), $manifest.ToJson($key))
    }
    else {
        [IO.File]::WriteAllText((Join-Path $Path 'manifest.json'), $manifest.ToJson())
    }
    $Path
}

function global:Get-ManifestIntegrity {
    # What BackupManifest.ToJson records as 'integrity': the SHA-256 of the manifest without it, as indented JSON.
    param([Parameter(Mandatory)] $Node)
    $copy = [System.Text.Json.Nodes.JsonNode]::Parse($Node.ToJsonString())
    $null = $copy.AsObject().Remove('integrity')
    $text = $copy.ToJsonString([System.Text.Json.JsonSerializerOptions]@{ WriteIndented = $true })
    [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($text))).ToLowerInvariant()
}

function global:Edit-BackupManifest {
    # Changes the backup's manifest through $Edit, given the root JSON object (System.Text.Json.Nodes); -Reseal then
    # recomputes the integrity hash, so only what the hash cannot see is left to catch the change.
    param([Parameter(Mandatory)][string] $Backup, [Parameter(Mandatory)][scriptblock] $Edit, [switch] $Reseal)
    $path = Join-Path $Backup 'manifest.json'
    $node = [System.Text.Json.Nodes.JsonNode]::Parse([IO.File]::ReadAllText($path))
    & $Edit $node
    if ($Reseal) { $node['integrity'] = [string] (Get-ManifestIntegrity $node) }
    [IO.File]::WriteAllText($path, $node.ToJsonString([System.Text.Json.JsonSerializerOptions]@{ WriteIndented = $true }))
}

function global:Set-BackupComponent {
    # Points the manifest's component $Index at $File, recording the size and SHA-256 of $Measure (the file it names, read
    # through any link, by default), so that only where the file lies can tell it from an intact component.
    param([Parameter(Mandatory)][string] $Backup, [Parameter(Mandatory)][int] $Index, [Parameter(Mandatory)][string] $File,
        [string] $Measure, [switch] $Reseal)
    if (-not $Measure) { $Measure = Join-Path $Backup $File }
    $size = [IO.FileInfo]::new($Measure).Length
    $sha = [string] (Get-FileSha256 $Measure)
    Edit-BackupManifest -Backup $Backup -Reseal:$Reseal -Edit {
        param($node)
        $entry = $node['backup']['components'][$Index]
        $entry['file'] = $File
        $entry['sizeBytes'] = $size
        $entry['sha256'] = $sha
    }.GetNewClosure()
}

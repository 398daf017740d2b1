# Backups as users find them and as an attacker leaves them: a folder that is not there or is empty, a manifest that is
# not JSON, of the wrong shape, binary, from a future UpgradeOps, with null fields (its integrity hash recomputed, as
# anyone can), component files damaged, and manifests that name files outside the backup ('../', absolute names, a
# link leading out) with and without their integrity hash recomputed. Each damage is tried on Test-DeploymentBackup (a
# damaged backup is a verification result whose first failed check has the damage's ErrorId; a missing folder is an
# error), Get-DeploymentBackup (a damaged backup is skipped with a warning; an intact one beside it is still listed),
# Restore-DeploymentBackup -Force and Invoke-UpgradeRehearsal -Force (the manifest is refused before any engine or
# cluster is contacted). A file outside the backup is never opened: its size and SHA-256 are recorded in the manifest,
# so a verification that read it would pass it.
# The backups are made by tests/Reliability/BackupFixtures.ps1 with the engine's own manifest type.
$fixtures = Join-Path $PSScriptRoot '../BackupFixtures.ps1' | Resolve-Path | ForEach-Object Path
$passphrase = 'correct horse battery staple'

# Damages of the backup in $Backup (made intact first; $Dir/outside/secret.txt exists beside it). For each:
#   Verify   the first failed check's ErrorId of Test-DeploymentBackup, and Detail a regex its detail must match
#   Refuse   ErrorId and Category of Restore-DeploymentBackup -Force / Invoke-UpgradeRehearsal -Force ($null: not tried,
#            the manifest is sound and -Force restores a backup that fails verification: that needs an engine)
#   Listed   whether Get-DeploymentBackup still lists it
#   Key      the -EncryptionKey given (the backup is encrypted with $passphrase when Encrypted)
$damages = @(
    @{ What = 'an empty folder'; Make = { param($Dir, $Backup) Get-ChildItem -LiteralPath $Backup -Force | Remove-Item -Recurse -Force }
        Verify = 'BackupManifestMissing'; Refuse = 'BackupManifestMissing', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest that is not JSON'; Make = { param($Dir, $Backup) [IO.File]::WriteAllText("$Backup/manifest.json", '{ "schemaVersion": 1, backup: ') }
        Verify = 'BackupManifestInvalid'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest that is a JSON array'; Make = { param($Dir, $Backup) [IO.File]::WriteAllText("$Backup/manifest.json", '[1, 2, 3]') }
        Verify = 'BackupManifestInvalid'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest that is JSON null'; Make = { param($Dir, $Backup) [IO.File]::WriteAllText("$Backup/manifest.json", 'null') }
        Verify = 'BackupManifestInvalid'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest whose backup is a string'; Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['backup'] = 'prod' } }
        Verify = 'BackupManifestInvalid'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest whose components are an object'; Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['backup']['components'] = [System.Text.Json.Nodes.JsonObject]::new() } }
        Verify = 'BackupManifestInvalid'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a binary manifest'; Make = { param($Dir, $Backup) [IO.File]::WriteAllBytes("$Backup/manifest.json", [byte[]](0, 1, 2, 0xff, 0xfe, 10, 13, 0x1b) * 64) }
        Verify = 'BackupManifestInvalid'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest with a key given twice'
        Make = { param($Dir, $Backup) $text = [IO.File]::ReadAllText("$Backup/manifest.json"); [IO.File]::WriteAllText("$Backup/manifest.json", $text.Replace('"schemaVersion": 1,', '"schemaVersion": 1, "schemaVersion": 1,')) }
        Verify = 'BackupManifestInvalid'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest that is a folder'; Make = { param($Dir, $Backup) Remove-Item "$Backup/manifest.json"; $null = New-Item -ItemType Directory "$Backup/manifest.json" }
        Verify = 'BackupManifestMissing'; Refuse = 'BackupManifestMissing', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest from a future schema version'
        Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['schemaVersion'] = 2; $m['backup']['toolVersions']['UpgradeOps'] = '9.1.0'; $m['backup']['newThing'] = 'x' } }
        Verify = 'BackupManifestInvalid'; Detail = 'schema version 2.*UpgradeOps 9\.1\.0'; Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
    @{ What = 'a manifest edited without its integrity hash'; Make = { param($Dir, $Backup) Edit-BackupManifest $Backup { param($m) $m['backup']['version'] = '1.7.6' } }
        Verify = 'BackupManifestTampered'; Refuse = 'BackupManifestTampered', 'InvalidData'; Listed = $false }
    @{ What = 'a component named ../ to a file outside, integrity hash recomputed'
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 0 ([IO.Path]::GetRelativePath($Backup, "$Dir/outside/secret.txt")) -Measure "$Dir/outside/secret.txt" -Reseal }
        Verify = 'BackupPathOutsideBackup'; Detail = '\.\./'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false; Outside = $true }
    @{ What = 'a component named ../ to a file outside, integrity hash as it was'
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 0 ([IO.Path]::GetRelativePath($Backup, "$Dir/outside/secret.txt")) -Measure "$Dir/outside/secret.txt" }
        Verify = 'BackupManifestTampered'; Refuse = 'BackupManifestTampered', 'InvalidData'; Listed = $false; Outside = $true }
    @{ What = 'a component named config/../../ to a file outside, integrity hash recomputed'
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 2 ('config/' + [IO.Path]::GetRelativePath("$Backup/config", "$Dir/outside/secret.txt")) -Measure "$Dir/outside/secret.txt" -Reseal }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false; Outside = $true }
    @{ What = 'a component named ..\ (backslashes) to a file outside, integrity hash recomputed'
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 0 ([IO.Path]::GetRelativePath($Backup, "$Dir/outside/secret.txt") -replace '/', '\') -Measure "$Dir/outside/secret.txt" -Reseal }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false }
    @{ What = 'a component with an absolute name of a file outside, integrity hash recomputed'
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 0 "$Dir/outside/secret.txt" -Measure "$Dir/outside/secret.txt" -Reseal }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false; Outside = $true }
    @{ What = 'a component with an absolute name of a file outside, integrity hash as it was'
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 0 "$Dir/outside/secret.txt" -Measure "$Dir/outside/secret.txt" }
        Verify = 'BackupManifestTampered'; Refuse = 'BackupManifestTampered', 'InvalidData'; Listed = $false; Outside = $true }
    @{ What = 'a component with an absolute name inside the backup itself, integrity hash recomputed'
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 0 "$Backup/database.dump" -Measure "$Backup/database.dump" -Reseal }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false }
    @{ What = 'a component with an empty name, integrity hash recomputed'
        Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['backup']['components'][0]['file'] = '' } }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false }
    @{ What = 'a component name with a line break, integrity hash recomputed'
        Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['backup']['components'][0]['file'] = "data`nbase.dump" } }
        Verify = 'BackupPathOutsideBackup'; Detail = 'data\\nbase'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false }
    @{ What = 'a component file that is a link to a file outside'
        Make = { param($Dir, $Backup)
            Remove-Item "$Backup/database.dump"; $null = New-Item -ItemType SymbolicLink -Path "$Backup/database.dump" -Target "$Dir/outside/secret.txt"
            Set-BackupComponent $Backup 0 'database.dump' -Measure "$Dir/outside/secret.txt" -Reseal }
        Verify = 'BackupPathOutsideBackup'; Detail = 'link'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false; Outside = $true }
    @{ What = 'a config folder that is a link to a folder outside'
        Make = { param($Dir, $Backup)
            Move-Item "$Backup/config" "$Dir/outside/config"; $null = New-Item -ItemType SymbolicLink -Path "$Backup/config" -Target "$Dir/outside/config" }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false }
    @{ What = 'a manifest that is a link to a manifest outside'
        Make = { param($Dir, $Backup) Move-Item "$Backup/manifest.json" "$Dir/outside/manifest.json"; $null = New-Item -ItemType SymbolicLink -Path "$Backup/manifest.json" -Target "$Dir/outside/manifest.json" }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false }
    @{ What = 'a component whose checksum is wrong'; Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['backup']['components'][0]['sha256'] = '0' * 64 } }
        Verify = 'BackupChecksumMismatch'; Listed = $true }
    @{ What = 'a component that was cut short'; Make = { param($Dir, $Backup) $b = [IO.File]::ReadAllBytes("$Backup/database.dump"); [IO.File]::WriteAllBytes("$Backup/database.dump", $b[0..99]) }
        Verify = 'BackupTruncated'; Listed = $true }
    @{ What = 'a component that is missing'; Make = { param($Dir, $Backup) Remove-Item -Force "$Backup/config/.env" }
        Verify = 'BackupComponentMissing'; Listed = $true }
    @{ What = 'a volume archive cut short, size and checksum recomputed'
        Make = { param($Dir, $Backup) $b = [IO.File]::ReadAllBytes("$Backup/files.tar"); [IO.File]::WriteAllBytes("$Backup/files.tar", $b[0..5000]); Set-BackupComponent $Backup 1 'files.tar' -Reseal }
        Verify = 'BackupArchiveUnreadable'; Listed = $true }
    # Encryption: the manifest of an encrypted backup carries a MAC keyed by the passphrase; anyone can recompute the integrity hash, nobody the MAC.
    @{ What = 'an encrypted backup whose manifest was edited, integrity hash recomputed, with the key'; Encrypted = $true; Key = $passphrase
        Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['backup']['version'] = '1.7.6' } }
        Verify = 'BackupManifestTampered'; Detail = 'MAC'; Refuse = 'BackupManifestTampered', 'SecurityError'; Listed = $true }
    @{ What = 'an encrypted backup whose manifest names a file outside, integrity hash recomputed, with the key'; Encrypted = $true; Key = $passphrase
        Make = { param($Dir, $Backup) Set-BackupComponent $Backup 0 ([IO.Path]::GetRelativePath($Backup, "$Dir/outside/secret.txt")) -Measure "$Dir/outside/secret.txt" -Reseal }
        Verify = 'BackupPathOutsideBackup'; Refuse = 'BackupPathOutsideBackup', 'SecurityError'; Listed = $false; Outside = $true }
    @{ What = 'an encrypted backup with the wrong key'; Encrypted = $true; Key = 'not the passphrase'; Make = { param($Dir, $Backup) }
        Verify = 'BackupWrongKey'; Refuse = 'BackupWrongKey', 'SecurityError'; Listed = $true }
    @{ What = 'an encrypted backup turned into a plain one, integrity hash recomputed, with the key'; Encrypted = $true; Key = $passphrase
        Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $m['backup']['encrypted'] = $false; $null = $m.AsObject().Remove('encryption') } }
        Verify = 'BackupNotEncrypted'; Refuse = 'BackupNotEncrypted', 'InvalidArgument'; Listed = $true }
)

# Fields the code reads, set to null in a manifest whose integrity hash is recomputed: each is BackupManifestInvalid naming the field.
$nullFields = @(
    @{ Field = 'backup'; Set = { param($m) $m['backup'] = $null } }
    @{ Field = 'backup.id'; Set = { param($m) $m['backup']['id'] = $null } }
    @{ Field = 'backup.deploymentName'; Set = { param($m) $m['backup']['deploymentName'] = $null } }
    @{ Field = 'backup.createdAt'; Set = { param($m) $m['backup']['createdAt'] = $null } }
    @{ Field = 'backup.components'; Set = { param($m) $m['backup']['components'] = $null } }
    @{ Field = 'backup.components[0]'; Set = { param($m) $m['backup']['components'][0] = $null } }
    @{ Field = 'backup.components[0].name'; Set = { param($m) $m['backup']['components'][0]['name'] = $null } }
    @{ Field = 'backup.components[0].kind'; Set = { param($m) $m['backup']['components'][0]['kind'] = $null } }
    @{ Field = 'backup.components[1].file'; Set = { param($m) $m['backup']['components'][1]['file'] = $null } }
    @{ Field = 'backup.components[0].sha256'; Set = { param($m) $m['backup']['components'][0]['sha256'] = $null } }
    @{ Field = 'backup.imageDigests'; Set = { param($m) $m['backup']['imageDigests'] = $null } }
    @{ Field = 'backup.toolVersions'; Set = { param($m) $m['backup']['toolVersions'] = $null } }
    @{ Field = 'schemaVersion'; Set = { param($m) $m['schemaVersion'] = $null } }
    @{ Field = 'encryption'; Encrypted = $true; Set = { param($m) $m['encryption'] = $null } }
    @{ Field = 'encryption.keyCheckSalt'; Encrypted = $true; Set = { param($m) $m['encryption']['keyCheckSalt'] = $null } }
    @{ Field = 'encryption.keyCheck'; Encrypted = $true; Set = { param($m) $m['encryption']['keyCheck'] = $null } }
)
foreach ($nullField in $nullFields) {
    $set = $nullField.Set
    $damages += @{ What = "a manifest with $($nullField.Field) null, integrity hash recomputed"; Encrypted = [bool] $nullField['Encrypted']
        Key = if ($nullField['Encrypted']) { $passphrase } else { $null }
        Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal $set }.GetNewClosure()
        Verify = 'BackupManifestInvalid'; Detail = [regex]::Escape($nullField.Field); Refuse = 'BackupManifestInvalid', 'InvalidData'; Listed = $false }
}

# The backup of a case is made in $Dir/backup (and in $Dir/backups/b-damaged beside an intact a-intact, for Get-); a secret file
# lies outside it. Setup returns what Run needs: the key, as a plain string (Run blocks cannot be closures).
function New-DamageSetup([hashtable] $Damage, [switch] $Listing) {
    # GetNewClosure copies this scope's variables only.
    $make = $Damage['Make']; $encrypted = [bool] $Damage['Encrypted']; $key = $Damage['Key']; $fixtures = $script:fixtures; $passphrase = $script:passphrase
    $listing = [bool] $Listing
    {
        param($Dir)
        . $fixtures
        $null = New-Item -ItemType Directory -Path "$Dir/outside"
        [IO.File]::WriteAllText("$Dir/outside/secret.txt", "a secret outside the backup`n")
        $backup = if ($listing) { "$Dir/backups/b-damaged" } else { "$Dir/backup" }
        $null = if ($encrypted) { New-BackupFixture -Path $backup -Passphrase $passphrase } else { New-BackupFixture -Path $backup }
        if ($listing) { $null = New-BackupFixture -Path "$Dir/backups/a-intact" }
        $null = & $make $Dir $backup
        @{ Key = $key }
    }.GetNewClosure()
}

$cases = @(
    # ---- a folder that is not there, or not a folder
    @{
        Name = 'Test-DeploymentBackup of a folder that does not exist'
        Run = { param($Dir) Test-DeploymentBackup -Path (Join-Path $Dir 'no-such-backup') }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'no-such-backup' }
    }
    @{
        Name = 'Test-DeploymentBackup of a file instead of a folder'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'manifest.json'), '{}') }
        Run = { param($Dir) Test-DeploymentBackup -Path (Join-Path $Dir 'manifest.json') }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'manifest.json' }; Message = 'folder'
    }
    @{
        Name = 'Restore-DeploymentBackup -Force of a folder that does not exist'
        Run = { param($Dir) Restore-DeploymentBackup -Path (Join-Path $Dir 'no-such-backup') -Deployment (New-TestDeployment -Location "$Dir/docker-compose.yml") -Force }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'no-such-backup' }
    }
    @{
        Name = 'Restore-DeploymentBackup -Force onto a Helm release of a folder that does not exist'
        Run = { param($Dir) Restore-DeploymentBackup -Path (Join-Path $Dir 'no-such-backup') -Deployment (New-TestDeployment -Platform Kubernetes -Location 'prod/prod') -Force }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'no-such-backup' }
    }
    @{
        Name = 'Get-DeploymentBackup of a folder that does not exist'
        Run = { param($Dir) Get-DeploymentBackup -Path (Join-Path $Dir 'no-such-backups') }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'no-such-backups' }
    }
    @{
        Name = 'Invoke-UpgradeRehearsal -Force of a folder that does not exist'
        Run = { param($Dir) Invoke-UpgradeRehearsal -Path (Join-Path $Dir 'no-such-backup') -To 1.7.6 -Force }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'no-such-backup' }
    }
    @{
        Name = 'Test-DeploymentBackup of a backup object without its Path'
        Run = { $type = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.DeploymentBackup')
            $backup = [Activator]::CreateInstance($type); $backup.Id = 'prod-20261126-120000-1.7.5'; $backup.DeploymentName = 'prod'
            $backup | Test-DeploymentBackup }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = ''
    }
    @{
        Name = 'Restore-DeploymentBackup -Force of a backup object without its Path'
        Run = { param($Dir) $type = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.DeploymentBackup')
            $backup = [Activator]::CreateInstance($type); $backup.Id = 'prod-20261126-120000-1.7.5'; $backup.DeploymentName = 'prod'
            $backup | Restore-DeploymentBackup -Deployment (New-TestDeployment -Location "$Dir/docker-compose.yml") -Force }
        ErrorId = 'BackupPathNotFound'; Category = 'ObjectNotFound'; Target = ''
    }
    @{
        Name = 'Get-DeploymentBackup of an empty folder lists nothing'
        Setup = { param($Dir) $null = New-Item -ItemType Directory (Join-Path $Dir 'backups') }
        Run = { param($Dir) Get-DeploymentBackup -Path (Join-Path $Dir 'backups') }
        Expect = 'Result'; Check = { param($Output) $Output | Should -BeNullOrEmpty }
    }

    # ---- intact backups: what the damaged ones are told apart from (and proof that the fixtures' hashes are the engine's)
    @{
        Name = 'Test-DeploymentBackup of an intact backup passes'
        Setup = (New-DamageSetup @{ Make = { param($Dir, $Backup) } })
        Run = { param($Dir) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') }
        Expect = 'Result'; Check = { param($Output) $Output[0].Passed | Should -BeTrue -Because ($Output[0].Checks | Out-String) }
    }
    @{
        Name = 'Test-DeploymentBackup of an intact backup whose integrity hash was recomputed passes'
        Setup = (New-DamageSetup @{ Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) } } })
        Run = { param($Dir) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') }
        Expect = 'Result'; Check = { param($Output) $Output[0].Passed | Should -BeTrue -Because ($Output[0].Checks | Out-String) }
    }
    @{
        Name = 'Test-DeploymentBackup -EncryptionKey of an intact encrypted backup proves its manifest'
        Setup = (New-DamageSetup @{ Make = { param($Dir, $Backup) }; Encrypted = $true; Key = $passphrase })
        Run = { param($Dir, $Data) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') -EncryptionKey (ConvertTo-SecureString $Data.Key -AsPlainText -Force) }
        Expect = 'Result'; Check = { param($Output)
            $Output[0].Passed | Should -BeTrue -Because ($Output[0].Checks | Out-String)
            ($Output[0].Checks | Where-Object Name -eq 'ManifestAuthenticity').Status | Should -Be 'Passed' }
    }
    @{
        Name = 'Test-DeploymentBackup without a key of an encrypted backup warns that its manifest is not proven'
        Setup = (New-DamageSetup @{ Make = { param($Dir, $Backup) }; Encrypted = $true })
        Run = { param($Dir) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') -WarningAction SilentlyContinue }
        Expect = 'Result'; Check = { param($Output)
            $Output[0].Passed | Should -BeTrue -Because ($Output[0].Checks | Out-String)
            $check = $Output[0].Checks | Where-Object Name -eq 'ManifestAuthenticity'
            $check.Status | Should -Be 'Warning'
            $check.Detail | Should -Match 'authenticity' }
    }
    @{
        Name = 'Test-DeploymentBackup -EncryptionKey of an encrypted backup written before manifests had a MAC warns and passes'
        Setup = (New-DamageSetup @{ Encrypted = $true; Key = $passphrase
                Make = { param($Dir, $Backup) Edit-BackupManifest $Backup -Reseal { param($m) $null = $m['encryption'].AsObject().Remove('manifestMac') } } })
        Run = { param($Dir, $Data) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') -EncryptionKey (ConvertTo-SecureString $Data.Key -AsPlainText -Force) -WarningAction SilentlyContinue }
        Expect = 'Result'; Check = { param($Output)
            $Output[0].Passed | Should -BeTrue -Because ($Output[0].Checks | Out-String)
            $check = $Output[0].Checks | Where-Object Name -eq 'ManifestAuthenticity'
            $check.Status | Should -Be 'Warning'
            $check.Detail | Should -Match 'MAC' }
    }
    @{
        Name = 'Test-DeploymentBackup -EncryptionKey of a plain backup'
        Setup = (New-DamageSetup @{ Make = { param($Dir, $Backup) }; Key = $passphrase })
        Run = { param($Dir, $Data) Test-DeploymentBackup -Path (Join-Path $Dir 'backup') -EncryptionKey (ConvertTo-SecureString $Data.Key -AsPlainText -Force) }
        Expect = 'Result'; Check = { param($Output) $Output[0].Passed | Should -BeFalse; $Output[0].FailureErrorId | Should -Be 'BackupNotEncrypted' }
    }
)

foreach ($damage in $damages) {
    $what = $damage.What
    $verify = $damage.Verify; $detail = $damage['Detail']; $outside = [bool] $damage['Outside']; $listed = [bool] $damage['Listed']
    $cases += @{
        Name = "Test-DeploymentBackup of $what"
        Setup = (New-DamageSetup $damage)
        Run = { param($Dir, $Data)
            $key = if ($Data.Key) { @{ EncryptionKey = ConvertTo-SecureString $Data.Key -AsPlainText -Force } } else { @{} }
            Test-DeploymentBackup -Path (Join-Path $Dir 'backup') @key -WarningAction SilentlyContinue }
        Expect = 'Result'
        Check = {
            param($Output)
            $verification = $Output[0]
            $summary = $verification.Checks | Format-Table Name, Status, ErrorId, Detail -AutoSize -Wrap | Out-String -Width 300
            $verification.Passed | Should -BeFalse -Because $summary
            $verification.FailureErrorId | Should -Be $verify -Because $summary
            $failed = $verification.Checks | Where-Object Status -eq 'Failed' | Select-Object -First 1
            if ($detail) { $failed.Detail | Should -Match $detail }
            $failed.Detail | Should -Not -Match '[\x00-\x08\x0A-\x1F]' -Because 'control characters from the manifest are never echoed raw'
            if ($outside) {
                # The file outside has the size and SHA-256 the manifest records: had it been read, its check would have passed.
                $verification.Checks | Where-Object { $_.Status -eq 'Passed' -and $_.Name -match 'secret|database' } | Should -BeNullOrEmpty -Because $summary
                $verification.Checks.Detail | Should -Not -Match 'SHA-256 matches.*secret|secret.*SHA-256 matches'
            }
        }.GetNewClosure()
    }
    $cases += @{
        Name = "Get-DeploymentBackup of a folder holding $what and an intact backup"
        Setup = (New-DamageSetup $damage -Listing)
        Run = { param($Dir)
            $listed = @(Get-DeploymentBackup -Path (Join-Path $Dir 'backups') -WarningVariable warnings -WarningAction SilentlyContinue)
            [pscustomobject]@{ Ids = @($listed | ForEach-Object Id); Warnings = @($warnings | ForEach-Object Message) } }
        Expect = 'Result'
        Check = {
            param($Output)
            if ($listed) { $Output[0].Ids | Sort-Object | Should -Be @('a-intact', 'b-damaged') -Because ($Output[0].Warnings -join '; ') }
            else {
                $Output[0].Ids | Should -Be @('a-intact') -Because ($Output[0].Warnings -join '; ')
                $Output[0].Warnings -join "`n" | Should -Match 'b-damaged'
            }
        }.GetNewClosure()
    }
    if (-not $damage['Refuse']) { continue }
    $errorId, $category = $damage['Refuse']
    $cases += @{
        Name = "Restore-DeploymentBackup -Force of $what"
        Setup = (New-DamageSetup $damage)
        Run = { param($Dir, $Data)
            $key = if ($Data.Key) { @{ EncryptionKey = ConvertTo-SecureString $Data.Key -AsPlainText -Force } } else { @{} }
            Restore-DeploymentBackup -Path (Join-Path $Dir 'backup') -Deployment (New-TestDeployment -Location "$Dir/docker-compose.yml") -Force @key }
        ErrorId = $errorId; Category = $category; Target = { param($Dir) Join-Path $Dir 'backup' }; Message = $detail
    }
    $cases += @{
        Name = "Invoke-UpgradeRehearsal -Force of $what"
        Setup = (New-DamageSetup $damage)
        Run = { param($Dir, $Data)
            $key = if ($Data.Key) { @{ EncryptionKey = ConvertTo-SecureString $Data.Key -AsPlainText -Force } } else { @{} }
            Invoke-UpgradeRehearsal -Path (Join-Path $Dir 'backup') -To 1.7.6 -Force @key }
        ErrorId = $errorId; Category = $category; Target = { param($Dir) Join-Path $Dir 'backup' }; Message = $detail
    }
}

# A Helm release: the manifest is refused before the cluster is asked.
foreach ($damage in $damages | Where-Object { $_['What'] -match 'absolute name of a file outside, integrity hash recomputed|null, integrity hash recomputed$' } | Select-Object -First 2) {
    $errorId, $category = $damage.Refuse
    $cases += @{
        Name = "Restore-DeploymentBackup -Force onto a Helm release of $($damage.What)"
        Setup = (New-DamageSetup $damage)
        Run = { param($Dir) Restore-DeploymentBackup -Path (Join-Path $Dir 'backup') -Deployment (New-TestDeployment -Platform Kubernetes -Location 'prod/prod') -Force }
        ErrorId = $errorId; Category = $category; Target = { param($Dir) Join-Path $Dir 'backup' }
    }
}

$cases

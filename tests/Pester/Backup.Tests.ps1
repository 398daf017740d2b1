# New-, Test-, Get- and Restore-DeploymentBackup on the sandbox: backups that are proven to restore.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'SandboxFixture.ps1')
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:sandbox = Use-TestSandbox -Version 1.7.5
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:d = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath
    $script:backupRoot = Join-Path $TestDrive 'backups'
    $script:backup = $d | New-DeploymentBackup -Path $backupRoot -Force
    $script:dbContainer = ($d.Services | Where-Object Name -eq 'database').Containers[0].Name

    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action; $null } catch { $_ } }

    # Runs a backup or a restore in a thread job paused at a step boundary (UPGRADEOPS_PAUSE_AT_STEP), and stops it there
    # as Ctrl+C does (StopProcessing), then waits until the sandbox is healthy again. Returns what the job wrote.
    function Stop-AtStep([string] $Step, [scriptblock] $Command) {
        try { Stop-JobAtStep -Step $Step -Command $Command -ArgumentList $env:UPGRADEOPS_MODULE, $sandbox.ComposeFile, $profilePath, $backupRoot, $TestDrive -TimeoutSeconds 90 }
        finally { Wait-SandboxHealthy -ProjectName $sandbox.ProjectName | Out-Null }
    }
    function Get-DatabaseNames {
        docker exec $dbContainer psql -X -h /run/postgresql -p 55432 -U sandbox -d postgres -tAc 'select datname from pg_database order by 1'
    }
    function Copy-Backup([string] $Name) {
        $copy = Join-Path $TestDrive $Name
        Copy-Item -Recurse $backup.Path $copy
        $copy
    }
}

Describe 'New-DeploymentBackup' -Tag 'Sandbox', 'Backup' {
    It 'captures the database, the volumes and the configuration' {
        $backup.PSObject.TypeNames[0] | Should -Be 'UpgradeOps.DeploymentBackup'
        $backup.DeploymentName | Should -Be $sandbox.ProjectName
        $backup.Version | Should -Be '1.7.5'
        $kinds = $backup.Components.Kind.ForEach([string])
        $kinds | Should -Contain 'PostgresDump'
        $kinds | Should -Contain 'Volume'
        $kinds | Should -Contain 'ConfigFile'
        foreach ($component in $backup.Components) {
            $file = Join-Path $backup.Path $component.File
            Test-Path -LiteralPath $file | Should -BeTrue
            (Get-Item -Force $file).Length | Should -Be $component.SizeBytes
            (Get-FileHash $file -Algorithm SHA256).Hash.ToLower() | Should -Be $component.Sha256
        }
        Join-Path $backup.Path 'manifest.json' | Should -Exist
    }

    It 'records row counts, server and pg_dump versions, and image ids' {
        $dump = $backup.Components | Where-Object Kind -eq 'PostgresDump'
        $dump.ServerMajorVersion | Should -Be 15
        $dump.DumpMajorVersion | Should -Be 15
        $dump.RowCounts.Count | Should -BeGreaterThan 0
        $dump.RowCounts['public.artifacts'] | Should -BeGreaterThan 0
        $backup.ImageDigests.Keys | Should -Contain '127.0.0.1:5000/upgradeops/sandbox:1.7.5'
        $backup.ImageDigests['127.0.0.1:5000/upgradeops/sandbox:1.7.5'] | Should -Match '^sha256:'
    }

    It 'keeps files readable by the owner only' {
        (Get-Item $backup.Path).UnixMode | Should -Be 'drwx------'
        $files = Get-ChildItem $backup.Path -Recurse -File -Force
        $files.Name | Should -Contain '.env'
        $files | ForEach-Object { $_.UnixMode | Should -Be '-rw-------' }
    }

    It 'resumes the workers it paused' {
        foreach ($container in ($d.Services | Where-Object Name -eq 'worker').Containers) {
            docker inspect -f '{{.State.Paused}} {{.State.Running}}' $container.Name | Should -Be 'false true'
        }
    }

    It 'lists what it would capture with -WhatIf and captures nothing' {
        $whatIfRoot = Join-Path $TestDrive 'whatif'
        $output = Invoke-WhatIf "`$d | New-DeploymentBackup -Path '$whatIfRoot' -WhatIf"
        $whatIfRoot | Should -Not -Exist
        $output | Should -Match 'PostgresDump'
        $output | Should -Match 'Volume'
    }

    It 'never writes the .env secrets anywhere but the config component' {
        $canary = (Get-Content (Join-Path $sandbox.Path '.env') | Where-Object { $_ -like 'APP_CANARY_SECRET=*' }) -replace '^APP_CANARY_SECRET=', ''
        $canary | Should -Not -BeNullOrEmpty
        Get-Content -Raw (Join-Path $backup.Path 'manifest.json') | Should -Not -Match ([regex]::Escape($canary))
    }

    It 'survives ConvertTo-Json and Export-Clixml without secrets, and Test-DeploymentBackup takes it back' {
        Assert-RoundTrip $backup -Type UpgradeOps.DeploymentBackup -Secret (Get-DotEnvSecret $sandbox.Path) -AcceptedBy {
            param($deserialized)
            $verification = $deserialized | Test-DeploymentBackup
            $verification.Passed | Should -BeTrue -Because ($verification.Checks | Format-Table -AutoSize | Out-String)
        }
    }

    It 'encrypts every file with -EncryptionKey' {
        $key = ConvertTo-SecureString 'correct horse battery staple' -AsPlainText -Force
        $encrypted = $d | New-DeploymentBackup -Path (Join-Path $TestDrive 'encrypted') -EncryptionKey $key -Force
        $encrypted.Encrypted | Should -BeTrue
        $envCopy = Join-Path $encrypted.Path 'config/.env.enc'
        $envCopy | Should -Exist
        [IO.File]::ReadAllText($envCopy) | Should -Not -Match 'POSTGRES_PASSWORD'
        # A standard tool opens it where UpgradeOps is not at hand: the README's gpg command, with a gpg home of its own.
        $gpgHome = (New-Item -ItemType Directory (Join-Path $TestDrive 'gnupg')).FullName
        chmod 700 $gpgHome
        $envPlain = Join-Path $TestDrive 'env.decrypted'
        $gpgOutput = 'correct horse battery staple' | gpg --homedir $gpgHome --batch --pinentry-mode loopback --passphrase-fd 0 --output $envPlain --decrypt $envCopy 2>&1
        $gpgExit = $LASTEXITCODE
        gpgconf --homedir $gpgHome --kill gpg-agent
        $gpgExit | Should -Be 0 -Because ($gpgOutput -join "`n")
        (Get-FileHash $envPlain).Hash | Should -Be (Get-FileHash (Join-Path $sandbox.Path '.env')).Hash
        $verification = $encrypted | Test-DeploymentBackup -Deployment $d -EncryptionKey $key -RestoreTest
        $verification.Passed | Should -BeTrue -Because ($verification.Checks | Out-String)
        $wrong = $encrypted | Test-DeploymentBackup -Deployment $d -EncryptionKey (ConvertTo-SecureString 'wrong' -AsPlainText -Force)
        $wrong.Passed | Should -BeFalse
        $wrong.FailureErrorId | Should -Be 'BackupWrongKey'
    }
}

Describe 'Test-DeploymentBackup' -Tag 'Sandbox', 'Backup' {
    It 'passes an intact backup, with a restore test that compares row counts' {
        $verification = $backup | Test-DeploymentBackup -Deployment $d -RestoreTest
        $verification.Passed | Should -BeTrue -Because ($verification.Checks | Format-Table -AutoSize | Out-String)
        $verification.RestoreTested | Should -BeTrue
        ($verification.Checks | Where-Object Name -like 'Dump *').Detail | Should -Match 'pg_restore --list'
        ($verification.Checks | Where-Object Name -like 'RestoreTest *').Detail | Should -Match 'all counts equal'
        docker exec $dbContainer psql -h /run/postgresql -p 55432 -U sandbox -d sandbox -tAc "select count(*) from pg_database where datname like 'upgradeops_verify_%'" |
            Should -Be '0'
        Assert-RoundTrip $verification -Type UpgradeOps.BackupVerification -Secret (Get-DotEnvSecret $sandbox.Path)
    }

    It 'detects <Case> with ErrorId <ErrorId>, and Restore refuses it' -Tag 'Fault' -ForEach @(
        @{ Case = 'a flipped bit'; ErrorId = 'BackupChecksumMismatch'; Damage = {
                param($folder, $file)
                $bytes = [IO.File]::ReadAllBytes($file); $bytes[[int]($bytes.Length / 2)] = $bytes[[int]($bytes.Length / 2)] -bxor 1
                [IO.File]::WriteAllBytes($file, $bytes) } }
        @{ Case = 'a truncated file'; ErrorId = 'BackupTruncated'; Damage = {
                param($folder, $file)
                $bytes = [IO.File]::ReadAllBytes($file); [IO.File]::WriteAllBytes($file, $bytes[0..([int]($bytes.Length / 2))]) } }
        @{ Case = 'a missing component'; ErrorId = 'BackupComponentMissing'; Damage = { param($folder, $file) Remove-Item $file } }
        @{ Case = 'an edited manifest'; ErrorId = 'BackupManifestTampered'; Damage = {
                param($folder, $file)
                $manifest = Join-Path $folder 'manifest.json'
                (Get-Content -Raw $manifest) -replace '"version": "1.7.5"', '"version": "1.7.6"' | Set-Content -NoNewline $manifest } }
    ) {
        $copy = Copy-Backup ("damaged-" + ($ErrorId.ToLower()))
        $dump = ($backup.Components | Where-Object Kind -eq 'PostgresDump').File
        & $Damage $copy (Join-Path $copy $dump)
        $verification = Test-DeploymentBackup -Path $copy -Deployment $d
        $verification.Passed | Should -BeFalse
        $verification.FailureErrorId | Should -Be $ErrorId
        $err = Get-ErrorFrom { Restore-DeploymentBackup -Path $copy -Deployment $d -Confirm:$false -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike "$ErrorId,*"
        $err.TargetObject | Should -Be $copy
    }
}

Describe 'Get-DeploymentBackup' -Tag 'Sandbox', 'Backup' {
    It 'lists backups newest first and filters by deployment' {
        $second = $d | New-DeploymentBackup -Path $backupRoot -Component config -Force
        $list = Get-DeploymentBackup -Path $backupRoot
        $list[0].Id | Should -Be $second.Id
        $list.Id | Should -Contain $backup.Id
        @(Get-DeploymentBackup -Path $backupRoot -DeploymentName 'someone-else').Count | Should -Be 0
        @($d | Get-DeploymentBackup -Path $backupRoot).Count | Should -Be 2
        Remove-Item -Recurse -Force $second.Path
    }

    It 'never lists an unfinished backup' {
        New-Item -ItemType Directory (Join-Path $backupRoot '.half-done.partial') | Out-Null
        (Get-DeploymentBackup -Path $backupRoot).Id | Should -Not -Contain 'half-done'
    }
}

Describe 'Restore-DeploymentBackup' -Tag 'Sandbox', 'Backup' {
    It 'brings back the data after the database and a volume are wiped' {
        $before = Get-SandboxDataFingerprint $sandbox
        $server = ($d.Services | Where-Object Name -eq 'server-a').Containers[0].Name
        docker exec $dbContainer psql -h /run/postgresql -p 55432 -U sandbox -d sandbox -c 'TRUNCATE artifacts CASCADE' | Out-Null
        docker exec $server sh -c 'rm -rf /opt/sandbox/storage/*' | Out-Null
        (Get-SandboxDataFingerprint $sandbox).ArtifactRows | Should -Be 0

        $restored = $backup | Restore-DeploymentBackup -Deployment $d -Force
        $restored.Id | Should -Be $backup.Id

        $after = Get-SandboxDataFingerprint $sandbox
        $after.ArtifactRows | Should -Be $before.ArtifactRows
        $after.ArtifactChecksums | Should -Be $before.ArtifactChecksums
        $after.StorageFiles | Should -Be $before.StorageFiles
        (Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath).Healthy | Should -BeTrue
    }

    It 'shows what it would do with -WhatIf and stops nothing' {
        $output = Invoke-WhatIf "Get-DeploymentBackup -Path '$backupRoot' | Where-Object Id -eq '$($backup.Id)' | Restore-DeploymentBackup -Deployment `$d -WhatIf"
        $output | Should -Match 'stop: .*server-a'
        $output | Should -Match 'pg_restore'
        (Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath).Healthy | Should -BeTrue
    }
}

Describe 'Backup faults' -Tag 'Sandbox', 'Backup', 'Fault' {
    It 'leaves no manifest and no partial files when the target fills up halfway, and resumes the workers' {
        $small = Join-Path $TestDrive 'full'
        New-Item -ItemType Directory $small | Out-Null
        mount -t tmpfs -o size=256k tmpfs $small
        try {
            $err = Get-ErrorFrom { $d | New-DeploymentBackup -Path $small -Force -ErrorAction Stop }
            $err.FullyQualifiedErrorId | Should -BeLike 'BackupWriteFailed,*'
            @(Get-ChildItem -Force $small).Count | Should -Be 0
            foreach ($container in ($d.Services | Where-Object Name -eq 'worker').Containers) {
                docker inspect -f '{{.State.Paused}}' $container.Name | Should -Be 'false'
            }
        }
        finally {
            umount $small
        }
    }

    It 'reports a stopped database clearly' {
        docker stop $dbContainer | Out-Null
        try {
            $err = Get-ErrorFrom { $d | New-DeploymentBackup -Path (Join-Path $TestDrive 'nodb') -Force -ErrorAction Stop }
            $err.FullyQualifiedErrorId | Should -BeLike 'DataStoreNotRunning,*'
            $err.Exception.Message | Should -Match 'database'
            Join-Path $TestDrive 'nodb' | Get-ChildItem -Force -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
        finally {
            docker start $dbContainer | Out-Null
            Wait-SandboxHealthy -ProjectName $sandbox.ProjectName | Out-Null
        }
    }

    It 'fails clearly, leaves no backup and resumes the workers when the database restarts in the middle of the dump' {
        $root = Join-Path $TestDrive 'db-restart'
        $psql = @('exec', $dbContainer, 'psql', '-X', '-h', '/run/postgresql', '-p', '55432', '-U', 'sandbox', '-d', 'sandbox', '-tAc')
        # A session holding an exclusive lock on a table keeps pg_dump (and the row count in its snapshot) waiting: the
        # database then goes away while the dump is surely under way, whatever the machine's load.
        $lock = Start-Process docker -ArgumentList ($psql + '"BEGIN; LOCK TABLE artifacts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);"') -PassThru `
            -RedirectStandardOutput (Join-Path $TestDrive 'lock.out') -RedirectStandardError (Join-Path $TestDrive 'lock.err')
        $job = $null
        try {
            $deadline = (Get-Date).AddSeconds(30)
            while ((docker @psql "select count(*) from pg_locks where mode = 'AccessExclusiveLock' and relation = 'artifacts'::regclass and granted") -ne '1') {
                if ((Get-Date) -gt $deadline) { throw 'the lock was not taken within 30 s' }
                Start-Sleep -Milliseconds 200
            }
            $job = Start-ThreadJob -ArgumentList $env:UPGRADEOPS_MODULE, $sandbox.ComposeFile, $profilePath, $root -ScriptBlock {
                param($module, $composeFile, $profilePath, $root)
                Import-Module $module
                try { $null = Get-UpgradeDeployment -ComposeFile $composeFile -Profile $profilePath -WarningAction SilentlyContinue | New-DeploymentBackup -Path $root -Force -ErrorAction Stop; $null }
                catch { $_ }
            }
            $deadline = (Get-Date).AddSeconds(60)
            while ((docker @psql "select count(*) from pg_stat_activity where application_name = 'pg_dump' and wait_event_type = 'Lock'") -ne '1') {
                if ((Get-Date) -gt $deadline) { throw "pg_dump was not seen waiting within 60 s: $($job | Receive-Job -Keep | Out-String)" }
                Start-Sleep -Milliseconds 200
            }
            docker restart -t 5 $dbContainer | Out-Null
            $err = $job | Wait-Job -Timeout 120 | Receive-Job
            $err | Should -BeOfType System.Management.Automation.ErrorRecord
            $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseConnectionLost,*'
            $err.CategoryInfo.Category | Should -Be 'ConnectionError'
            $err.Exception.Message | Should -Match '(?s)lost its connection to the database.*run the command again'
            @(Get-ChildItem -Force $root -ErrorAction SilentlyContinue).Count | Should -Be 0
            foreach ($container in ($d.Services | Where-Object Name -eq 'worker').Containers) {
                docker inspect -f '{{.State.Paused}}' $container.Name | Should -Be 'false'
            }
        }
        finally {
            if ($job) { $job | Remove-Job -Force }
            if (-not $lock.HasExited) { Stop-Process -Id $lock.Id -Force }
            Wait-SandboxHealthy -ProjectName $sandbox.ProjectName | Out-Null
        }
        (Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath).Healthy | Should -BeTrue
    }

    It 'reports wrong database credentials clearly' {
        $wrongProfile = Join-Path $TestDrive 'wrong-credentials.yml'
        (Get-Content -Raw $profilePath) -replace 'passwordVariable: POSTGRES_PASSWORD', 'passwordVariable: PGPORT' | Set-Content $wrongProfile
        $wrong = Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $wrongProfile
        $err = Get-ErrorFrom { $wrong | New-DeploymentBackup -Path (Join-Path $TestDrive 'wrongcreds') -Force -ErrorAction Stop }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseAuthenticationFailed,*'
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
    }
}

Describe 'Backup and restore stopped like Ctrl+C at a step boundary' -Tag 'Sandbox', 'Backup', 'Fault' {
    It 'a backup stopped before <Step> leaves no files, the workers running and the deployment healthy' -ForEach @(
        @{ Step = 'backup:capture database' }, @{ Step = 'backup:writers' }, @{ Step = 'backup:complete' }
    ) {
        $root = Join-Path $TestDrive "ctrl-c-$($Step -replace '\W', '-')"
        $null = Stop-AtStep $Step ([scriptblock]::Create(@"
            param(`$module, `$composeFile, `$profilePath)
            Import-Module `$module
            Get-UpgradeDeployment -ComposeFile `$composeFile -Profile `$profilePath -WarningAction SilentlyContinue | New-DeploymentBackup -Path '$root' -Force
"@))
        Get-ChildItem -Force $root -ErrorAction SilentlyContinue | ForEach-Object Name | Should -BeNullOrEmpty -Because 'a stopped backup leaves no partial folder'
        @(Get-DeploymentBackup -Path $root -ErrorAction SilentlyContinue).Count | Should -Be 0
        foreach ($container in ($d.Services | Where-Object Name -eq 'worker').Containers) {
            docker inspect -f '{{.State.Paused}} {{.State.Running}}' $container.Name | Should -Be 'false true'
        }
        (Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath).Healthy | Should -BeTrue
    }

    It 'a restore stopped before <Step> leaves the deployment serving, no staging database, and a second restore finishes it' -ForEach @(
        @{ Step = 'restore:stage database' }, @{ Step = 'restore:replace sandbox' }, @{ Step = 'restore:component artifacts' }
    ) {
        $expected = Get-SandboxDataFingerprint $sandbox
        $databasesBefore = Get-DatabaseNames
        docker exec $dbContainer psql -X -h /run/postgresql -p 55432 -U sandbox -d sandbox -c 'TRUNCATE artifacts CASCADE' | Out-Null
        $null = Stop-AtStep $Step ([scriptblock]::Create(@"
            param(`$module, `$composeFile, `$profilePath)
            Import-Module `$module
            `$d = Get-UpgradeDeployment -ComposeFile `$composeFile -Profile `$profilePath -WarningAction SilentlyContinue
            Get-DeploymentBackup -Path '$($backup.Path)' | Restore-DeploymentBackup -Deployment `$d -Force
"@))
        (Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath).Healthy | Should -BeTrue
        # The data is the one before the restore or the backup's, never a database half swapped.
        (Get-SandboxDataFingerprint $sandbox).ArtifactRows | Should -BeIn @(0, $expected.ArtifactRows)
        $deadline = (Get-Date).AddSeconds(30)
        while ((Compare-Object $databasesBefore (Get-DatabaseNames)) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 500 }
        Get-DatabaseNames | Should -Be $databasesBefore -Because 'no staging or replaced database stays behind'

        $backup | Restore-DeploymentBackup -Deployment $d -Force | Out-Null
        $after = Get-SandboxDataFingerprint $sandbox
        $after.ArtifactRows | Should -Be $expected.ArtifactRows
        $after.ArtifactChecksums | Should -Be $expected.ArtifactChecksums
        $after.StorageFiles | Should -Be $expected.StorageFiles
    }
}

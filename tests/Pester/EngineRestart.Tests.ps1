# The Docker Engine restarted in the middle of an upgrade (issue 19's fault matrix): dockerd stopped by its pid while the
# migration runs, started again, and the upgrade finished by -Resume with no data lost.
# Stopping the machine's engine would break every test running beside this one (the Helm and Neo4j files share it), so
# this file starts a second dockerd of its own (own socket, data root and exec root; --bridge=none, no iptables, as
# Initialize-SandboxHost starts the first), runs the sandbox there through DOCKER_HOST, and removes it all at the end.
# The sandbox's ports are fixed: it runs in a lane of the other sandbox files (build.ps1), after removing their sandbox.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'SandboxFixture.ps1')
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

    # The second engine. A short exec root: containerd's socket path lives under it and must stay under 108 bytes.
    $script:engineRun = "/run/upgradeops-test-$PID"
    $script:engineData = Join-Path ([IO.Path]::GetTempPath()) "upgradeops-test-engine-$PID"
    $script:engineSocket = "unix://$engineRun/docker.sock"
    $script:engineLog = Join-Path $TestDrive 'dockerd.log'
    function Start-TestEngine {
        $null = New-Item -ItemType Directory -Force -Path $engineRun, $engineData
        $arguments = @('--bridge=none', '--iptables=false', '--ip-masq=false', '-H', $engineSocket, '--data-root', "$engineData/data",
            '--exec-root', "$engineRun/exec", '--pidfile', "$engineRun/docker.pid")
        $script:enginePid = [int](bash -c 'log="$1"; shift; setsid "$@" >>"$log" 2>&1 </dev/null & echo $!' sbx $engineLog dockerd @arguments)
        $deadline = (Get-Date).AddSeconds(60)
        while (-not (docker -H $engineSocket version --format '{{.Server.Version}}' 2>$null)) {
            if ((Get-Date) -gt $deadline -or -not (Test-Path "/proc/$enginePid")) {
                throw "The test's dockerd did not start: $((Get-Content $engineLog -Tail 20) -join "`n")"
            }
            Start-Sleep -Milliseconds 300
        }
    }
    function Stop-TestEngine {
        if (-not $script:enginePid -or -not (Test-Path "/proc/$enginePid")) { return }
        kill -TERM $enginePid
        $deadline = (Get-Date).AddSeconds(60)
        while ((Test-Path "/proc/$enginePid") -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }
        if (Test-Path "/proc/$enginePid") { Stop-Process -Id $enginePid -Force }
    }

    # The sandbox of the file before this one holds the fixed ports on the machine's engine.
    Stop-Sandbox -RemoveVolumes | Out-Null
    Start-TestEngine
    # In a test lane DOCKER_HOST names the lane's engine: it is put back at the end.
    $script:callerDockerHost = $env:DOCKER_HOST
    $env:DOCKER_HOST = $engineSocket
    $script:sandbox = Use-TestSandbox -Version 1.7.5
    # 1.8.0 rewrites every bulk row in batches; small, slow batches keep the migration running while the engine stops.
    $envFile = Join-Path $sandbox.Path '.env'
    Add-Content -Path $envFile -Value "APP_MIGRATION_BATCH_SIZE=1000`nAPP_MIGRATION_BATCH_DELAY_MS=300"
    (Invoke-SandboxCompose -Arguments up, -d).ExitCode | Should -Be 0
    Wait-SandboxHealthy | Out-Null
    $script:baseline = Get-SandboxDataFingerprint $sandbox
    function Get-Deployment { Get-UpgradeDeployment -ComposeFile $sandbox.ComposeFile -Profile $profilePath -WarningAction SilentlyContinue }
    $script:backup = Get-Deployment | New-DeploymentBackup -Path (Join-Path $TestDrive 'backups') -Force
}

AfterAll {
    if ($env:DOCKER_HOST -eq $engineSocket) {
        Stop-Sandbox -RemoveVolumes -ErrorAction SilentlyContinue | Out-Null
        if ($callerDockerHost) { $env:DOCKER_HOST = $callerDockerHost } else { Remove-Item Env:DOCKER_HOST }
    }
    Stop-TestEngine
    if (Test-Path $engineData) { Remove-Item -LiteralPath $engineData -Recurse -Force -ErrorAction SilentlyContinue }
    # dockerd leaves its default network namespace mounted under the exec root when it exits.
    foreach ($mount in @(Get-Content /proc/mounts | ForEach-Object { ($_ -split ' ')[1] } | Where-Object { $_ -like "$engineRun/*" -or $_ -like "$engineData/*" } | Sort-Object -Descending)) {
        umount $mount
    }
    if (Test-Path $engineRun) { Remove-Item -LiteralPath $engineRun -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'The Docker Engine restarted in the middle of an upgrade' -Tag 'Sandbox', 'Interruption', 'Fault' {
    It 'interrupts the upgrade with a stable ErrorId, and -Resume finishes it with no data lost (1.7.5 -> 1.8.0, dockerd stopped in the migration)' {
        $log = Join-Path $TestDrive 'upgrade.log'
        $script = "Import-Module '$env:UPGRADEOPS_MODULE'; " +
            "`$d = Get-UpgradeDeployment -ComposeFile '$($sandbox.ComposeFile)' -Profile '$profilePath' -WarningAction SilentlyContinue; " +
            "try { Invoke-Upgrade -Deployment `$d -To 1.8.0 -Backup (Get-DeploymentBackup -Path '$($backup.Path)') -Force -Verbose -ErrorAction Stop 4>&1 3>&1 | ForEach-Object { `"`$_`" } } " +
            "catch { 'ERRORID ' + `$_.FullyQualifiedErrorId; 'CATEGORY ' + `$_.CategoryInfo.Category; 'MESSAGE ' + `$_.Exception.Message }"
        $process = Start-Process -FilePath $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $script -PassThru -RedirectStandardOutput $log -RedirectStandardError "$log.err"
        $deadline = (Get-Date).AddSeconds(180)
        while (-not ((Test-Path $log) -and (Select-String -Path $log -Pattern 'migrating ' -SimpleMatch -Quiet))) {
            if ($process.HasExited -or (Get-Date) -gt $deadline) { throw "The migration did not start: $(Get-Content -Raw $log -ErrorAction SilentlyContinue)" }
            Start-Sleep -Milliseconds 100
        }

        Stop-TestEngine
        Start-TestEngine
        $process.WaitForExit(300000) | Should -BeTrue -Because 'the upgrade ends once its engine is gone'
        $output = Get-Content -Raw $log
        $output | Should -Match 'ERRORID DockerEngineUnreachable,' -Because "a lost engine is a stable ErrorId, never the catch-all: $output $(Get-Content -Raw "$log.err")"
        $output | Should -Match 'CATEGORY ConnectionError'
        $output | Should -Match 'MESSAGE .*stopped answering at hop1:migrate.*Invoke-Upgrade -Resume'
        $output | Should -Not -Match ([regex]::Escape((ConvertFrom-SecureString -SecureString $sandbox.DatabasePassword -AsPlainText)))

        $journal = Get-UpgradeHistory -Deployment (Get-Deployment) | Where-Object Operation -eq 'Upgrade' | Select-Object -First 1
        $journal.Status | Should -Be 'Interrupted' -Because 'a lost engine cuts the upgrade off as Ctrl+C does; -Resume continues it'
        $journal.Error | Should -Not -BeNullOrEmpty -Because 'the journal says what happened'

        $resumed = Invoke-Upgrade -Deployment (Get-Deployment) -Resume -Force
        $resumed.Status | Should -Be 'Succeeded' -Because (($resumed.Steps | Format-Table -AutoSize | Out-String) + $resumed.Error)
        $d = Get-Deployment
        $d.Version | Should -Be '1.8.0'
        $d.Healthy | Should -BeTrue
        $data = Get-SandboxDataFingerprint $sandbox
        $data.ArtifactRows | Should -Be $baseline.ArtifactRows
        $data.StorageFiles | Should -Be $baseline.StorageFiles
        # This sandbox's containers only: the Infrahub sandbox in another test process makes such containers of its own.
        docker ps -a --filter "name=^/$($sandbox.ProjectName)" --format '{{.Names}}' | Should -Not -Match 'upgradeops-previous|upgradeops-migrate'
    }
}

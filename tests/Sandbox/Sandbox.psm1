#Requires -Version 7.2
<#
    The UpgradeOps sandbox: a real deployment (Docker Engine, Debian's docker-compose, a local
    registry) of a small application shaped like Infrahub, for the tests and the demo.
    See tests/Sandbox/README.md. Linux, root (it installs packages and starts dockerd when needed).

      Initialize-SandboxHost   install docker.io, docker-compose, docker-registry, debootstrap, gnupg; start
                               dockerd and the registry on 127.0.0.1:5000 when they do not answer
      Build-SandboxImage       build (offline, cached by content) and push every sandbox image
      Start-Sandbox            create the deployment folder, migrate, docker-compose up, seed
      Stop-Sandbox             docker-compose down [-v]
      Remove-SandboxImage      remove the images (and with -Registry their manifests in the registry)
    and helpers: Get-Sandbox, Wait-SandboxHealthy, Invoke-SandboxCompose, Invoke-SandboxGraphQL,
    Add-SandboxRepositoryCommit, Stop-SandboxHost.
#>
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $false

$script:SandboxDir = $PSScriptRoot
$script:RepoRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:StateDir = Join-Path $script:RepoRoot 'out/sandbox'
$script:HostDir = Join-Path $script:StateDir 'host'
$script:Registry = '127.0.0.1:5000'
$script:ImagePrefix = "$($script:Registry)/upgradeops"
$script:BaseImage = "$($script:ImagePrefix)/sandbox-base:bookworm"
$script:AppImage = "$($script:ImagePrefix)/sandbox"
$script:Versions = @('1.6.4', '1.7.5', '1.7.6', '1.7.7', '1.8.0', '2.0.0')
# The Infrahub stand-in's versions (images/infrahub/README.md: 1.2.0's migration fails half-way) and its task manager's tag.
$script:InfrahubVersions = @('1.1.7', '1.1.8', '1.2.0')
$script:PrefectVersion = '3.0.3'
# A test lane (Start-SandboxLane) names its own project, so two sandboxes never share a deployment folder.
$script:DefaultProject = if ($env:UPGRADEOPS_SANDBOX_PROJECT) { $env:UPGRADEOPS_SANDBOX_PROJECT } else { 'upgradeops-sandbox' }
$script:Ports = [ordered]@{ lb = 58000; 'server-a' = 58001; 'server-b' = 58002; database = 55432; cache = 56379 }
$script:ExpectedContainers = 7   # database, cache, server-a, server-b, lb, 2 workers
$script:RepositoryName = 'sandbox-config'
$script:EnvMarker = '# UpgradeOps sandbox deployment'
$script:AptUpdated = $false

# ---- internal helpers ----------------------------------------------------------------------------

function Invoke-SbxNative {
    # Runs a program, returns ExitCode and Output (stdout and stderr lines); throws on failure unless -AllowFailure.
    param(
        [Parameter(Mandatory)][string] $FilePath,
        [string[]] $ArgumentList = @(),
        [hashtable] $Environment,
        [switch] $AllowFailure,
        [switch] $ShowOutput,
        [string] $What
    )
    $saved = @{}
    if ($Environment) {
        foreach ($key in $Environment.Keys) {
            $saved[$key] = [Environment]::GetEnvironmentVariable($key)
            [Environment]::SetEnvironmentVariable($key, [string]$Environment[$key])
        }
    }
    $lines = [System.Collections.Generic.List[string]]::new()
    try {
        & $FilePath @ArgumentList 2>&1 | ForEach-Object {
            $line = "$_"
            $lines.Add($line)
            if ($ShowOutput) { Write-Host $line } else { Write-Verbose $line }
        }
        $code = $LASTEXITCODE
    }
    catch [System.Management.Automation.CommandNotFoundException] {
        throw "The program '$FilePath' is not installed or not on PATH: run Initialize-SandboxHost first."
    }
    finally {
        # A variable that was not set is removed again: PowerShell passes $null to a [string] parameter as '', and
        # an empty VERSION left behind would override every later .env (compose's ${VERSION:-default} then applies).
        foreach ($key in $saved.Keys) {
            if ($null -eq $saved[$key]) { Remove-Item -LiteralPath "env:$key" -ErrorAction SilentlyContinue }
            else { [Environment]::SetEnvironmentVariable($key, $saved[$key]) }
        }
    }
    if ($code -ne 0 -and -not $AllowFailure) {
        $tail = ($lines | Select-Object -Last 40) -join "`n"
        $label = if ($What) { $What } else { "$FilePath $($ArgumentList -join ' ')" }
        throw "$label failed with exit code ${code}:`n$tail"
    }
    [pscustomobject]@{ ExitCode = $code; Output = [string[]]$lines.ToArray() }
}

function Test-SbxCommand([string] $Name) {
    if (Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue) { return $true }
    foreach ($dir in '/usr/sbin', '/sbin', '/usr/local/sbin') { if (Test-Path (Join-Path $dir $Name)) { return $true } }
    $false
}

function Assert-SbxRoot([string] $Why) {
    if (-not $IsLinux) { throw "The sandbox needs Linux (Docker Engine, debootstrap): $Why" }
    $uid = (& id -u 2>$null)
    if ("$uid".Trim() -ne '0') { throw "Root is needed to $Why (run as root, or do it by hand and run again)." }
}

function Get-SbxEngineVersion {
    if (-not (Test-SbxCommand docker)) { return $null }
    $r = Invoke-SbxNative docker @('version', '--format', '{{.Server.Version}}') -AllowFailure
    if ($r.ExitCode -eq 0 -and $r.Output.Count -gt 0 -and $r.Output[-1].Trim()) { return $r.Output[-1].Trim() }
    $null
}

function Assert-SbxEngine {
    $version = Get-SbxEngineVersion
    if (-not $version) {
        $endpoint = if ($env:DOCKER_HOST) { $env:DOCKER_HOST } else { 'unix:///var/run/docker.sock' }
        throw "The Docker Engine at $endpoint does not answer: run Initialize-SandboxHost first."
    }
    $version
}

function Invoke-SbxHttp {
    param([string] $Uri, [string] $Method = 'GET', [string] $Body, [hashtable] $Headers = @{}, [int] $TimeoutSec = 10)
    $params = @{ Uri = $Uri; Method = $Method; SkipHttpErrorCheck = $true; NoProxy = $true; TimeoutSec = $TimeoutSec; Headers = $Headers }
    if ($Body) { $params.Body = $Body; $params.ContentType = 'application/json' }
    try {
        $response = Invoke-WebRequest @params
    }
    catch {
        return [pscustomobject]@{ StatusCode = 0; Content = ''; Headers = @{}; Error = $_.Exception.Message }
    }
    $content = if ($response.Content -is [byte[]]) { [Text.Encoding]::UTF8.GetString($response.Content) } else { [string]$response.Content }
    [pscustomobject]@{ StatusCode = [int]$response.StatusCode; Content = $content; Headers = $response.Headers; Error = $null }
}

function Test-SbxRegistry {
    $r = Invoke-SbxHttp "http://$($script:Registry)/v2/" -TimeoutSec 3
    $r.StatusCode
}

function Test-SbxPort([int] $Port) {
    $client = [System.Net.Sockets.TcpClient]::new()
    try {
        $task = $client.ConnectAsync('127.0.0.1', $Port)
        return ($task.Wait(500) -and $client.Connected)
    }
    catch { return $false }
    finally { $client.Dispose() }
}

function Test-SbxAlive([int] $ProcessId) {
    # Alive and not a zombie. (The cmdline can read empty for an instant while the process execs, so the
    # start-up loops must not judge by it.)
    $stat = Get-Content -Raw -LiteralPath "/proc/$ProcessId/stat" -ErrorAction SilentlyContinue
    return [bool]($stat -and ($stat -replace '^.*\) ', '') -notmatch '^Z')
}

function Start-SbxDetached {
    # Starts a long-running program in its own session (it survives this PowerShell); returns its pid.
    param([string] $LogFile, [string[]] $Command)
    $null = New-Item -ItemType Directory -Force -Path (Split-Path $LogFile)
    $script = 'log="$1"; shift; setsid "$@" >>"$log" 2>&1 </dev/null & echo $!'
    $r = Invoke-SbxNative bash (@('-c', $script, 'sbx', $LogFile) + $Command)
    [int]($r.Output[-1].Trim())
}

function Test-SbxProcess([int] $ProcessId, [string] $NameLike) {
    $cmdline = "/proc/$ProcessId/cmdline"
    if (-not (Test-Path $cmdline)) { return $false }
    $text = (Get-Content -Raw -LiteralPath $cmdline -ErrorAction SilentlyContinue) -replace "`0", ' '
    return [bool]($text -and $text -like "*$NameLike*")
}

function Get-SbxContentHash {
    # SHA-256 over the files (relative path + bytes), sorted; __pycache__ and *.pyc ignored. Extra strings are mixed in.
    param([string[]] $Path, [string[]] $Extra = @())
    $hash = [System.Security.Cryptography.IncrementalHash]::CreateHash([System.Security.Cryptography.HashAlgorithmName]::SHA256)
    foreach ($root in $Path) {
        $rootFull = (Resolve-Path $root).Path
        $files = if (Test-Path $rootFull -PathType Leaf) { @(Get-Item $rootFull) } else {
            @(Get-ChildItem -LiteralPath $rootFull -Recurse -File | Where-Object { $_.FullName -notmatch '[\\/]__pycache__[\\/]' -and $_.Extension -ne '.pyc' })
        }
        $base = if (Test-Path $rootFull -PathType Leaf) { Split-Path $rootFull } else { $rootFull }
        foreach ($file in ($files | Sort-Object { [System.IO.Path]::GetRelativePath($base, $_.FullName).Replace('\', '/') } -CaseSensitive)) {
            $relative = [System.IO.Path]::GetRelativePath($base, $file.FullName).Replace('\', '/')
            $hash.AppendData([Text.Encoding]::UTF8.GetBytes("$relative`n"))
            $hash.AppendData([System.IO.File]::ReadAllBytes($file.FullName))
            $hash.AppendData([byte[]](0))
        }
    }
    foreach ($item in $Extra) { $hash.AppendData([Text.Encoding]::UTF8.GetBytes("$item`n")) }
    [Convert]::ToHexString($hash.GetHashAndReset()).ToLowerInvariant()
}

function Get-SbxImageInfo([string] $Image) {
    $r = Invoke-SbxNative docker @('image', 'inspect', '--format', '{{json .}}', $Image) -AllowFailure
    if ($r.ExitCode -ne 0) { return $null }
    ($r.Output -join "`n") | ConvertFrom-Json
}

function Get-SbxLabel($Info, [string] $Name) {
    if (-not $Info -or -not $Info.Config -or -not $Info.Config.Labels) { return $null }
    $property = $Info.Config.Labels.PSObject.Properties[$Name]
    if ($property) { $property.Value } else { $null }
}

function Split-SbxImage([string] $Image) {
    # 127.0.0.1:5000/upgradeops/sandbox:1.7.5 -> registry repository 'upgradeops/sandbox', tag '1.7.5'
    $withoutRegistry = $Image.Substring($script:Registry.Length + 1)
    $at = $withoutRegistry.LastIndexOf(':')
    [pscustomobject]@{ Repository = $withoutRegistry.Substring(0, $at); Tag = $withoutRegistry.Substring($at + 1) }
}

function Get-SbxRegistryDigest([string] $Image) {
    $parts = Split-SbxImage $Image
    $accept = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'
    $r = Invoke-SbxHttp "http://$($script:Registry)/v2/$($parts.Repository)/manifests/$($parts.Tag)" -Method HEAD -Headers @{ Accept = $accept }
    if ($r.StatusCode -ne 200) { return $null }
    $value = $r.Headers['Docker-Content-Digest']
    if ($value -is [array]) { $value = $value[0] }
    [string]$value
}

function Test-SbxPushed([string] $Image, $Info) {
    $digest = Get-SbxRegistryDigest $Image
    if (-not $digest) { return $false }
    $repository = $Image.Substring(0, $Image.LastIndexOf(':'))
    return [bool]($Info.RepoDigests -and ($Info.RepoDigests -contains "$repository@$digest"))
}

function Resolve-SbxPath([string] $ProjectName, [string] $Path) {
    if ($Path) { return [System.IO.Path]::GetFullPath($Path) }
    Join-Path $script:StateDir $ProjectName
}

function Read-SbxEnvFile([string] $File) {
    $values = [ordered]@{}
    if (-not (Test-Path -LiteralPath $File)) { return $values }
    foreach ($line in Get-Content -LiteralPath $File) {
        if ($line -match '^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$') { $values[$Matches[1]] = $Matches[2].Trim() }
    }
    $values
}

function New-SbxSecret([int] $Bytes = 16) {
    [Convert]::ToHexString([System.Security.Cryptography.RandomNumberGenerator]::GetBytes($Bytes)).ToLowerInvariant()
}

function Test-SbxAtLeast([string] $Version, [string] $Minimum) {
    [version]$Version -ge [version]$Minimum
}

function Get-SbxProjectContainers([string] $ProjectName, [switch] $IncludeOneOff) {
    $format = '{{.ID}}|{{.Names}}|{{.Label "com.docker.compose.service"}}|{{.State}}|{{.Status}}|{{.Image}}|{{.Label "com.docker.compose.oneoff"}}'
    $r = Invoke-SbxNative docker @('ps', '-a', '--filter', "label=com.docker.compose.project=$ProjectName", '--format', $format)
    foreach ($line in $r.Output) {
        if (-not $line.Trim()) { continue }
        $f = $line.Split('|')
        if ($f.Count -lt 7) { continue }
        if (-not $IncludeOneOff -and $f[6] -eq 'True') { continue }
        $health = if ($f[4] -match '\((healthy|unhealthy|health: starting)\)') { $Matches[1] -replace 'health: ', '' } else { 'none' }
        [pscustomobject]@{ Id = $f[0]; Name = $f[1]; Service = $f[2]; State = $f[3]; Health = $health; Status = $f[4]; Image = $f[5] }
    }
}

function Get-SbxProjectVolumes([string] $ProjectName) {
    $r = Invoke-SbxNative docker @('volume', 'ls', '-q', '--filter', "label=com.docker.compose.project=$ProjectName")
    @($r.Output | Where-Object { $_.Trim() })
}

function Write-SbxState([string] $Path, [hashtable] $Values) {
    $file = Join-Path $Path 'sandbox.json'
    $state = [ordered]@{}
    if (Test-Path $file) {
        (Get-Content -Raw $file | ConvertFrom-Json).PSObject.Properties | ForEach-Object { $state[$_.Name] = $_.Value }
    }
    foreach ($key in $Values.Keys) { $state[$key] = $Values[$key] }
    $state | ConvertTo-Json | Set-Content -LiteralPath $file
}

function Read-SbxState([string] $Path) {
    $file = Join-Path $Path 'sandbox.json'
    if (Test-Path $file) { Get-Content -Raw $file | ConvertFrom-Json } else { $null }
}

function Invoke-SbxGitScript {
    # Runs a shell script with git in a throwaway container of the sandbox image (no network), with the
    # deployment's remote/ folder at /remote: the host needs no git.
    param([string] $Path, [string] $Image, [string] $Script, [hashtable] $Environment = @{})
    $arguments = @('run', '--rm', '--network', 'none', '--entrypoint', 'sh', '-v', "$(Join-Path $Path 'remote'):/remote")
    foreach ($key in $Environment.Keys) { $arguments += @('-e', "$key=$($Environment[$key])") }
    $arguments += @('-e', 'HOME=/tmp', '-e', 'GIT_AUTHOR_NAME=UpgradeOps Sandbox', '-e', 'GIT_AUTHOR_EMAIL=sandbox@upgradeops.invalid',
        '-e', 'GIT_COMMITTER_NAME=UpgradeOps Sandbox', '-e', 'GIT_COMMITTER_EMAIL=sandbox@upgradeops.invalid', $Image, '-ec', $Script)
    $r = Invoke-SbxNative docker $arguments -What 'the Git repository script'
    ($r.Output | Where-Object { $_ -match '^[0-9a-f]{40}$' } | Select-Object -Last 1)
}

# ---- host ----------------------------------------------------------------------------------------

# Kept out of the kernel's automatic port choice (Initialize-SandboxHost): the Compose sandbox's ports (55432, 56379,
# 58000-58002) and its rehearsal copies' (+1000), the Helm tests' free ports (56500-56999), and the Infrahub sandbox's
# message queue (34369, 35672-35673) and its copy's.
$script:ReservedPorts = '34000-36999,55000-59999'

function Test-SbxPortsReserved([string] $Reserved, [string] $Wanted) {
    # Whether every range of $Wanted ('a-b,c') is inside the kernel's list ($Reserved, as it prints it: '34000-36999,55000').
    $ranges = @($Reserved -split ',' | Where-Object { $_ } | ForEach-Object { $a, $b = $_ -split '-'; , @([int]$a, [int]($b ?? $a)) })
    foreach ($part in $Wanted -split ',') {
        $low, $high = $part -split '-'; $low = [int]$low; $high = [int]($high ?? $low)
        if (-not ($ranges | Where-Object { $_[0] -le $low -and $_[1] -ge $high })) { return $false }
    }
    $true
}

function Initialize-SandboxHost {
    <#
    .SYNOPSIS
        Installs (apt-get) and starts what the sandbox needs: Docker Engine, docker-compose, the registry, debootstrap
        (and gnupg, which the tests use to prove that a standard tool decrypts an encrypted backup).
    .DESCRIPTION
        Idempotent and quick when everything is present. Installs the missing Debian packages among docker.io,
        docker-compose, docker-registry, debootstrap and gnupg (apt-get update once first). Starts dockerd with
        --bridge=none --iptables=false --ip-masq=false and an allow-all seccomp profile when no engine answers (log and pid file under
        out/sandbox/host), and Debian's docker-registry on 127.0.0.1:5000 (tests/Sandbox/registry/config.yml)
        when nothing answers there. Never stops or restarts an engine or registry it did not start.
    .OUTPUTS
        UpgradeOps.SandboxHost: EngineVersion, DockerHost, EngineStarted, EnginePid, Registry, RegistryStarted,
        RegistryPid, InstalledPackages, Actions.
    #>
    [CmdletBinding()]
    param(
        # Do not install packages, only start services.
        [switch] $SkipInstall,
        [ValidateRange(5, 600)][int] $TimeoutSeconds = 60
    )
    $actions = [System.Collections.Generic.List[string]]::new()
    $installed = @()
    if (-not $SkipInstall) {
        # ip and nsenter: the test lanes (Start-SandboxLane).
        $wanted = [ordered]@{ dockerd = 'docker.io'; docker = 'docker.io'; 'docker-compose' = 'docker-compose'; 'docker-registry' = 'docker-registry'; debootstrap = 'debootstrap'; gpg = 'gnupg'; ip = 'iproute2'; nsenter = 'util-linux' }
        $missing = @($wanted.Keys | Where-Object { -not (Test-SbxCommand $_) } | ForEach-Object { $wanted[$_] } | Select-Object -Unique)
        if ($missing.Count -gt 0) {
            Assert-SbxRoot "install $($missing -join ', ')"
            $aptEnv = @{ DEBIAN_FRONTEND = 'noninteractive' }
            if (-not $script:AptUpdated) {
                Write-Host "sandbox host: apt-get update"
                $null = Invoke-SbxNative apt-get @('update', '-q') -Environment $aptEnv -What 'apt-get update'
                $script:AptUpdated = $true
            }
            Write-Host "sandbox host: apt-get install $($missing -join ' ')"
            $null = Invoke-SbxNative apt-get (@('install', '-y', '-q', '--no-install-recommends') + $missing) -Environment $aptEnv -What "apt-get install $($missing -join ' ')"
            $installed = $missing
            $actions.Add("installed $($missing -join ', ')")
        }
        else {
            $actions.Add('packages present: docker.io, docker-compose, docker-registry, debootstrap, gnupg, iproute2, util-linux')
        }
    }

    # The sandboxes' fixed ports lie in the kernel's range for outgoing connections (32768-60999 by default): an
    # outgoing connection that happens to get 58001 as its own port keeps a server from binding it, and the container
    # restarts until that connection ends. A first sandbox start in CI failed with a server's container restarting and
    # unhealthy, which this would explain (not reproduced). Reserved ports are never handed out that way; a program that
    # names one still binds it.
    $reservedFile = '/proc/sys/net/ipv4/ip_local_reserved_ports'
    if ($IsLinux -and (Test-Path -LiteralPath $reservedFile)) {
        $reserved = (Get-Content -Raw -LiteralPath $reservedFile).Trim()
        if (-not (Test-SbxPortsReserved $reserved $script:ReservedPorts)) {
            Assert-SbxRoot "reserve the sandbox ports $($script:ReservedPorts) ($reservedFile)"
            Set-Content -LiteralPath $reservedFile -Value (@($reserved, $script:ReservedPorts) -ne '' -join ',') -NoNewline
            $actions.Add("reserved ports $($script:ReservedPorts) for the sandboxes ($reservedFile)")
        }
    }

    # Docker Engine
    $engineStarted = $false
    $enginePid = $null
    $engineVersion = Get-SbxEngineVersion
    $dockerHost = if ($env:DOCKER_HOST) { $env:DOCKER_HOST } else { 'unix:///var/run/docker.sock' }
    if ($engineVersion) {
        $actions.Add("Docker Engine $engineVersion already answering at $dockerHost")
    }
    else {
        if ($dockerHost -ne 'unix:///var/run/docker.sock') {
            throw "The Docker Engine at DOCKER_HOST=$dockerHost does not answer; start it, or unset DOCKER_HOST to let Initialize-SandboxHost start a local dockerd."
        }
        Assert-SbxRoot 'start dockerd'
        if (-not (Test-SbxCommand dockerd)) { throw 'dockerd is not installed (apt-get install docker.io), and no Docker Engine answers.' }
        $log = Join-Path $script:HostDir 'dockerd.log'
        # A seccomp profile that allows every system call, in place of Docker's default: runc compiles the default one
        # (libseccomp) in every container start and every exec, healthchecks included, and that was 2 % of the test run's
        # CPU; a `docker exec` cost 74 ms of CPU with it and 51 ms with this one. The engine started here runs only the
        # sandboxes, whose containers share the host's network namespace anyway. Read once, when dockerd starts.
        $seccomp = Join-Path $script:HostDir 'seccomp-allow-all.json'
        $null = New-Item -ItemType Directory -Force -Path $script:HostDir
        Set-Content -LiteralPath $seccomp -Value '{ "defaultAction": "SCMP_ACT_ALLOW" }'
        Write-Host "sandbox host: starting dockerd --bridge=none --iptables=false --ip-masq=false --seccomp-profile $seccomp (log $log)"
        $enginePid = Start-SbxDetached -LogFile $log -Command @('dockerd', '--bridge=none', '--iptables=false', '--ip-masq=false', '--seccomp-profile', $seccomp)
        Set-Content -Path (Join-Path $script:HostDir 'dockerd.pid') -Value $enginePid
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        while (-not ($engineVersion = Get-SbxEngineVersion)) {
            if (-not (Test-SbxAlive $enginePid)) {
                throw "dockerd exited while starting; the end of ${log}:`n$((Get-Content $log -Tail 30) -join "`n")"
            }
            if ([DateTime]::UtcNow -gt $deadline) { throw "dockerd (pid $enginePid) did not answer within $TimeoutSeconds s; see $log" }
            Start-Sleep -Milliseconds 500
        }
        $engineStarted = $true
        $actions.Add("started dockerd $engineVersion (pid $enginePid)")
    }

    # Registry
    $registryStarted = $false
    $registryPid = $null
    $status = Test-SbxRegistry
    if ($status -eq 200) {
        $actions.Add("registry already answering at http://$($script:Registry)")
    }
    elseif ($status -ne 0) {
        throw "Something answers on http://$($script:Registry)/v2/ with HTTP $status (a registry with authentication?); the sandbox needs an open registry there."
    }
    else {
        if (-not (Test-SbxCommand docker-registry)) { throw 'docker-registry is not installed (apt-get install docker-registry).' }
        $config = Join-Path $script:SandboxDir 'registry/config.yml'
        $log = Join-Path $script:HostDir 'registry.log'
        Write-Host "sandbox host: starting docker-registry on $($script:Registry) (log $log)"
        $registryPid = Start-SbxDetached -LogFile $log -Command @('docker-registry', 'serve', $config)
        Set-Content -Path (Join-Path $script:HostDir 'registry.pid') -Value $registryPid
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        while ((Test-SbxRegistry) -ne 200) {
            if (-not (Test-SbxAlive $registryPid)) {
                throw "docker-registry exited while starting; the end of ${log}:`n$((Get-Content $log -Tail 30) -join "`n")"
            }
            if ([DateTime]::UtcNow -gt $deadline) { throw "docker-registry (pid $registryPid) did not answer within $TimeoutSeconds s; see $log" }
            Start-Sleep -Milliseconds 300
        }
        $registryStarted = $true
        $actions.Add("started docker-registry (pid $registryPid) on $($script:Registry)")
    }

    [pscustomobject]@{
        PSTypeName        = 'UpgradeOps.SandboxHost'
        EngineVersion     = $engineVersion
        DockerHost        = $dockerHost
        EngineStarted     = $engineStarted
        EnginePid         = $enginePid
        Registry          = $script:Registry
        RegistryStarted   = $registryStarted
        RegistryPid       = $registryPid
        InstalledPackages = [string[]]$installed
        Actions           = [string[]]$actions.ToArray()
    }
}

function Stop-SandboxHost {
    <#
    .SYNOPSIS
        Stops the registry (and with -Engine the dockerd) that Initialize-SandboxHost started, by the pid it recorded.
    .DESCRIPTION
        Only processes whose pid file is under out/sandbox/host and whose command line still matches are stopped;
        an engine or registry started otherwise is never touched.
    #>
    [CmdletBinding()]
    param([switch] $Engine)
    $stopped = @()
    $targets = @(@{ File = 'registry.pid'; Name = 'docker-registry' })
    if ($Engine) { $targets += @{ File = 'dockerd.pid'; Name = 'dockerd' } }
    foreach ($target in $targets) {
        $file = Join-Path $script:HostDir $target.File
        if (-not (Test-Path $file)) { continue }
        $processId = [int](Get-Content $file -Raw).Trim()
        if (Test-SbxProcess $processId $target.Name) {
            $null = Invoke-SbxNative kill @('-TERM', "$processId") -AllowFailure
            $deadline = [DateTime]::UtcNow.AddSeconds(20)
            while ((Test-SbxProcess $processId $target.Name) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
            if (Test-SbxProcess $processId $target.Name) { Stop-Process -Id $processId -Force }
            $stopped += "$($target.Name) (pid $processId)"
        }
        Remove-Item $file -Force
    }
    [pscustomobject]@{ PSTypeName = 'UpgradeOps.SandboxHostStopped'; Stopped = [string[]]$stopped }
}

# ---- images --------------------------------------------------------------------------------------

function Build-SandboxImage {
    <#
    .SYNOPSIS
        Builds every sandbox image offline and pushes it to the registry on 127.0.0.1:5000, cached by content.
    .DESCRIPTION
        The base image (debootstrap --variant=minbase bookworm + apt-get install of images/base/packages.txt,
        docker import) is rebuilt only when no local image carries the hash of its package list and build
        script. The role images (postgres:15, redis:7, nginx:1, rabbitmq:3, the Neo4j stand-in neo4j:5-community and 5-enterprise, the
        Infrahub stand-in infrahub:1.1.7, 1.1.8, 1.2.0 and its task manager prefect:3.0.3) and the application images (sandbox:<version>
        for 1.6.4, 1.7.5, 1.7.6, 1.7.7, 1.8.0, 2.0.0) are rebuilt only when their label differs from the hash
        of their sources and base image. An image is pushed unless the registry already has that exact image.
    .OUTPUTS
        One UpgradeOps.SandboxImage per image: Image, Built (or cached), Pushed (or already there), Seconds, Hash.
    #>
    [CmdletBinding()]
    param(
        # Rebuild everything, the base image included.
        [switch] $Force,
        # Application versions to build (default: all six).
        [string[]] $Version = $script:Versions,
        # Debian mirror for debootstrap.
        [string] $Mirror = 'http://deb.debian.org/debian',
        # Build only; do not push.
        [switch] $NoPush
    )
    $null = Assert-SbxEngine
    if (-not $NoPush -and (Test-SbxRegistry) -ne 200) { throw "No registry answers on http://$($script:Registry): run Initialize-SandboxHost first." }
    $total = [System.Diagnostics.Stopwatch]::StartNew()
    $results = [System.Collections.Generic.List[object]]::new()
    $images = $script:SandboxDir | Join-Path -ChildPath 'images'

    # Base image
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $baseHash = Get-SbxContentHash -Path (Join-Path $images 'base')
    $baseInfo = Get-SbxImageInfo $script:BaseImage
    $built = $false
    if ($Force -or (Get-SbxLabel $baseInfo 'upgradeops.sandbox.base-hash') -ne $baseHash) {
        Assert-SbxRoot 'build the base image (debootstrap, chroot)'
        if (-not (Test-SbxCommand debootstrap)) { throw 'debootstrap is not installed: run Initialize-SandboxHost first.' }
        Write-Host "sandbox images: building the base image $($script:BaseImage) (debootstrap + apt-get, about a minute)"
        $null = Invoke-SbxNative bash @((Join-Path $images 'base/build-rootfs.sh'), $script:BaseImage, $baseHash, $Mirror) -ShowOutput -What 'the base image build'
        $baseInfo = Get-SbxImageInfo $script:BaseImage
        $built = $true
    }
    $results.Add([pscustomobject]@{ PSTypeName = 'UpgradeOps.SandboxImage'; Image = $script:BaseImage; Built = $built; Pushed = $false; Seconds = [math]::Round($watch.Elapsed.TotalSeconds, 1); Hash = $baseHash.Substring(0, 12); Id = $baseInfo.Id })
    $baseId = $baseInfo.Id

    # Role and application images: FROM the base, no RUN step.
    $specs = [System.Collections.Generic.List[object]]::new()
    foreach ($role in @(@{ Name = 'postgres'; Tag = '15' }, @{ Name = 'redis'; Tag = '7' }, @{ Name = 'nginx'; Tag = '1' }, @{ Name = 'rabbitmq'; Tag = '3' })) {
        $dir = Join-Path $images $role.Name
        $specs.Add(@{ Image = "$($script:ImagePrefix)/$($role.Name):$($role.Tag)"; Context = $dir; Hash = (Get-SbxContentHash -Path $dir -Extra @($baseId)); AppVersion = $null })
    }
    # The Neo4j 5 stand-in (images/neo4j/README.md): one context, the edition baked in by a build argument.
    foreach ($edition in 'community', 'enterprise') {
        $dir = Join-Path $images 'neo4j'
        $specs.Add(@{ Image = "$($script:ImagePrefix)/neo4j:5-$edition"; Context = $dir; Hash = (Get-SbxContentHash -Path $dir -Extra @($baseId, $edition)); AppVersion = $null
                BuildArgs = @('--build-arg', "NEO4J_EDITION=$edition") })
    }
    # The Infrahub stand-in (images/infrahub/README.md), one image per version, and the same code as the task manager's image.
    $infrahubSources = @((Join-Path $images 'infrahub'), (Join-Path $script:SandboxDir 'app/sandbox/graphql.py'))
    foreach ($v in @($script:InfrahubVersions | ForEach-Object { "infrahub:$_" }) + "prefect:$($script:PrefectVersion)") {
        $specs.Add(@{ Image = "$($script:ImagePrefix)/$v"; Context = $null; Hash = (Get-SbxContentHash -Path $infrahubSources -Extra @($baseId, $v)); AppVersion = $null
                Infrahub = $v.Split(':')[1] })
    }
    $appSources = @((Join-Path $script:SandboxDir 'app'), (Join-Path $images 'app'))
    foreach ($v in $Version) {
        if ($v -notmatch '^\d+\.\d+\.\d+$') { throw "Not a version: '$v'" }
        $specs.Add(@{ Image = "$($script:AppImage):$v"; Context = $null; Hash = (Get-SbxContentHash -Path $appSources -Extra @($baseId, $v)); AppVersion = $v })
    }
    $buildRoot = Join-Path $script:StateDir 'build'
    foreach ($spec in $specs) {
        $watch.Restart()
        $info = Get-SbxImageInfo $spec.Image
        $built = $false
        if ($Force -or (Get-SbxLabel $info 'upgradeops.sandbox.hash') -ne $spec.Hash) {
            $context = $spec.Context
            $arguments = @('build', '-q', '--build-arg', "BASE_IMAGE=$($script:BaseImage)", '--build-arg', "SOURCE_HASH=$($spec.Hash)", '-t', $spec.Image)
            if ($spec.ContainsKey('BuildArgs')) { $arguments += $spec.BuildArgs }
            if ($spec.ContainsKey('Infrahub')) {
                # The stand-in's context: its sources, the sandbox app's GraphQL subset beside them, and the VERSION file.
                $context = Join-Path $buildRoot "infrahub-$($spec.Infrahub)"
                if (Test-Path $context) { Remove-Item -Recurse -Force $context }
                # The build folder is new on a fresh clone: Copy-Item -Recurse would not make its parent.
                $null = New-Item -ItemType Directory -Force $buildRoot
                Copy-Item -Recurse (Join-Path $images 'infrahub') $context -ErrorAction Stop
                Copy-Item (Join-Path $script:SandboxDir 'app/sandbox/graphql.py') (Join-Path $context 'standin')
                foreach ($command in Get-ChildItem (Join-Path $context 'bin')) {
                    [System.IO.File]::SetUnixFileMode($command.FullName, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
                }
                Get-ChildItem -Path $context -Recurse -Directory -Filter __pycache__ | Remove-Item -Recurse -Force
                Set-Content -Path (Join-Path $context 'VERSION') -Value $spec.Infrahub -NoNewline
                $arguments += @('--build-arg', "APP_VERSION=$($spec.Infrahub)")
            }
            if ($spec.AppVersion) {
                # The application context: the Python package, the command, and the VERSION file baked into the image.
                $context = Join-Path $buildRoot "sandbox-$($spec.AppVersion)"
                if (Test-Path $context) { Remove-Item -Recurse -Force $context }
                $null = New-Item -ItemType Directory -Force -Path (Join-Path $context 'app')
                Copy-Item -Recurse (Join-Path $script:SandboxDir 'app/sandbox') (Join-Path $context 'app/sandbox')
                Get-ChildItem -Path $context -Recurse -Directory -Filter __pycache__ | Remove-Item -Recurse -Force
                Copy-Item (Join-Path $images 'app/Dockerfile'), (Join-Path $images 'app/sandbox'), (Join-Path $images 'app/healthcheck') $context
                [System.IO.File]::SetUnixFileMode((Join-Path $context 'sandbox'), [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
                Set-Content -Path (Join-Path $context 'VERSION') -Value $spec.AppVersion -NoNewline
                $arguments += @('--build-arg', "APP_VERSION=$($spec.AppVersion)")
            }
            Write-Host "sandbox images: building $($spec.Image)"
            $null = Invoke-SbxNative docker ($arguments + @($context)) -Environment @{ DOCKER_BUILDKIT = '0' } -What "docker build $($spec.Image)"
            if ($spec.AppVersion -or $spec.ContainsKey('Infrahub')) { Remove-Item -Recurse -Force $context }
            $info = Get-SbxImageInfo $spec.Image
            $built = $true
        }
        $results.Add([pscustomobject]@{ PSTypeName = 'UpgradeOps.SandboxImage'; Image = $spec.Image; Built = $built; Pushed = $false; Seconds = [math]::Round($watch.Elapsed.TotalSeconds, 1); Hash = $spec.Hash.Substring(0, 12); Id = $info.Id })
    }

    if (-not $NoPush) {
        foreach ($result in $results) {
            $watch.Restart()
            $info = Get-SbxImageInfo $result.Image
            if (-not (Test-SbxPushed $result.Image $info)) {
                Write-Host "sandbox images: pushing $($result.Image)"
                $null = Invoke-SbxNative docker @('push', $result.Image) -What "docker push $($result.Image)"
                $result.Pushed = $true
                $result.Seconds = [math]::Round($result.Seconds + $watch.Elapsed.TotalSeconds, 1)
            }
        }
    }
    $builtCount = @($results | Where-Object Built).Count
    $pushedCount = @($results | Where-Object Pushed).Count
    Write-Host ("sandbox images: {0} built, {1} cached, {2} pushed in {3:n1} s" -f $builtCount, ($results.Count - $builtCount), $pushedCount, $total.Elapsed.TotalSeconds)
    $results.ToArray()
}

function Remove-SandboxImage {
    <#
    .SYNOPSIS
        Removes the sandbox images from the engine (and with -Registry their tags from the registry), for a rebuild from nothing.
    .DESCRIPTION
        Fails when a container still uses one of them: stop the sandboxes first (Stop-Sandbox).
        -Registry deletes the manifests through the registry API; the blobs stay in the registry's storage
        (/var/lib/upgradeops-registry) until its garbage collection runs.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    param([switch] $Registry)
    $null = Assert-SbxEngine
    $r = Invoke-SbxNative docker @('images', '--format', '{{.Repository}}:{{.Tag}}', "--filter", "reference=$($script:ImagePrefix)/*")
    $refs = @($r.Output | Where-Object { $_ -and $_ -notmatch ':<none>$' } | Sort-Object -Unique)
    $removed = @()
    if ($refs.Count -gt 0 -and $PSCmdlet.ShouldProcess(($refs -join ', '), 'docker image rm')) {
        $users = Invoke-SbxNative docker (@('ps', '-a', '--format', '{{.Names}} ({{.Image}})') ) 
        $inUse = @($users.Output | Where-Object { $_ -match [regex]::Escape($script:ImagePrefix) })
        if ($inUse.Count -gt 0) { throw "Sandbox images are still used by containers: $($inUse -join ', '). Stop the sandbox first (Stop-Sandbox)." }
        $null = Invoke-SbxNative docker (@('image', 'rm') + $refs) -What 'docker image rm'
        $removed += $refs
    }
    # Leftovers of earlier builds that lost their tag.
    $dangling = Invoke-SbxNative docker @('images', '-q', '--filter', 'dangling=true', '--filter', 'label=upgradeops.sandbox.hash')
    $ids = @($dangling.Output | Where-Object { $_ } | Sort-Object -Unique)
    if ($ids.Count -gt 0) { $null = Invoke-SbxNative docker (@('image', 'rm') + $ids) -AllowFailure }
    $deleted = @()
    if ($Registry -and (Test-SbxRegistry) -eq 200) {
        foreach ($repository in 'upgradeops/sandbox-base', 'upgradeops/sandbox', 'upgradeops/postgres', 'upgradeops/redis', 'upgradeops/nginx',
                'upgradeops/rabbitmq', 'upgradeops/neo4j', 'upgradeops/infrahub', 'upgradeops/prefect') {
            $list = Invoke-SbxHttp "http://$($script:Registry)/v2/$repository/tags/list"
            if ($list.StatusCode -ne 200) { continue }
            $tags = @(($list.Content | ConvertFrom-Json).tags | Where-Object { $_ })
            foreach ($tag in $tags) {
                $image = "$($script:Registry)/${repository}:$tag"
                $digest = Get-SbxRegistryDigest $image
                if ($digest -and $PSCmdlet.ShouldProcess($image, 'delete from the registry')) {
                    $d = Invoke-SbxHttp "http://$($script:Registry)/v2/$repository/manifests/$digest" -Method DELETE
                    if ($d.StatusCode -ne 202 -and $d.StatusCode -ne 404) { throw "The registry refused to delete ${image}: HTTP $($d.StatusCode) $($d.Content)" }
                    $deleted += $image
                }
            }
        }
    }
    [pscustomobject]@{ PSTypeName = 'UpgradeOps.SandboxImagesRemoved'; Removed = [string[]]$removed; RegistryDeleted = [string[]]$deleted }
}

# ---- deployments ---------------------------------------------------------------------------------

function Invoke-SandboxCompose {
    <#
    .SYNOPSIS
        Runs docker-compose -p PROJECT -f FOLDER/docker-compose.yml ARGUMENTS for a sandbox; returns ExitCode and Output.
    .EXAMPLE
        Invoke-SandboxCompose -Arguments run, --rm, -T, server-a, sandbox, upgrade -Environment @{ VERSION = '1.7.6' }
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)][string[]] $Arguments,
        [Parameter(ValueFromPipelineByPropertyName)][string] $ProjectName = $script:DefaultProject,
        [Parameter(ValueFromPipelineByPropertyName)][string] $Path,
        # Environment variables for docker-compose (e.g. VERSION overrides the .env for this call).
        [hashtable] $Environment,
        # Return a non-zero exit code instead of throwing.
        [switch] $AllowFailure
    )
    process {
        $folder = Resolve-SbxPath $ProjectName $Path
        $compose = Join-Path $folder 'docker-compose.yml'
        if (-not (Test-Path $compose)) { throw "No sandbox deployment '$ProjectName' at ${folder}: run Start-Sandbox first." }
        Invoke-SbxNative docker-compose (@('-p', $ProjectName, '-f', $compose) + $Arguments) -Environment $Environment -AllowFailure:$AllowFailure -What "docker-compose $($Arguments -join ' ')"
    }
}

function Invoke-SandboxGraphQL {
    <#
    .SYNOPSIS
        POSTs a GraphQL query to the sandbox (the load balancer by default); returns the response (data, errors).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)][string] $Query,
        [hashtable] $Variables,
        [string] $Endpoint = 'http://127.0.0.1:58000',
        [int] $TimeoutSec = 30
    )
    $body = @{ query = $Query }
    if ($Variables) { $body.variables = $Variables }
    $r = Invoke-SbxHttp "$Endpoint/graphql" -Method POST -Body ($body | ConvertTo-Json -Depth 10 -Compress) -TimeoutSec $TimeoutSec
    if ($r.StatusCode -eq 0) { throw "The sandbox API at $Endpoint does not answer: $($r.Error)" }
    try { $r.Content | ConvertFrom-Json -Depth 20 }
    catch { throw "The sandbox API at $Endpoint answered HTTP $($r.StatusCode) with something that is not JSON: $($r.Content)" }
}

function Wait-SandboxHealthy {
    <#
    .SYNOPSIS
        Waits until every container of the sandbox (7 by default) runs and is healthy; throws with their states and logs otherwise.
    #>
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipelineByPropertyName)][string] $ProjectName = $script:DefaultProject,
        [int] $ExpectedContainers = $script:ExpectedContainers,
        [int] $TimeoutSeconds = 180
    )
    process {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        while ($true) {
            $containers = @(Get-SbxProjectContainers $ProjectName)
            $ready = @($containers | Where-Object { $_.State -eq 'running' -and $_.Health -in 'healthy', 'none' })
            if ($containers.Count -ge $ExpectedContainers -and $ready.Count -eq $containers.Count) {
                # Healthy containers are not yet an API that answers through the load balancer: nginx's kept-alive connections
                # to API servers that were just recreated fail once (502) before it connects again. Only the default project's
                # ports are known here (a rehearsal copy has its own).
                if ($ProjectName -eq $script:DefaultProject -and @($containers | Where-Object Service -eq 'lb').Count -gt 0) {
                    while ((Invoke-SbxHttp "http://127.0.0.1:$($script:Ports.lb)/api/info" -TimeoutSec 3).StatusCode -ne 200 -and [DateTime]::UtcNow -lt $deadline) {
                        Start-Sleep -Milliseconds 500
                    }
                }
                return $containers
            }
            if ([DateTime]::UtcNow -gt $deadline) {
                $states = ($containers | ForEach-Object { "  $($_.Name): $($_.State), $($_.Health) ($($_.Status))" }) -join "`n"
                $logs = foreach ($c in ($containers | Where-Object { $_ -notin $ready })) {
                    $l = Invoke-SbxNative docker @('logs', '--tail', '15', $c.Name) -AllowFailure
                    "--- $($c.Name):`n$(($l.Output) -join "`n")"
                }
                throw "The sandbox '$ProjectName' is not healthy after $TimeoutSeconds s ($($ready.Count) of $ExpectedContainers containers ready):`n$states`n$($logs -join "`n")"
            }
            Start-Sleep -Seconds 1
        }
    }
}

function Get-Sandbox {
    <#
    .SYNOPSIS
        Describes a sandbox deployment from its folder (.env, sandbox.json) and its containers.
    #>
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipelineByPropertyName)][string] $ProjectName = $script:DefaultProject,
        [Parameter(ValueFromPipelineByPropertyName)][string] $Path
    )
    process {
        $folder = Resolve-SbxPath $ProjectName $Path
        $envFile = Join-Path $folder '.env'
        if (-not (Test-Path $envFile)) { throw "No sandbox deployment '$ProjectName' at ${folder} (no .env): run Start-Sandbox first." }
        $envValues = Read-SbxEnvFile $envFile
        $state = Read-SbxState $folder
        $secret = { param($v) if ($v) { ConvertTo-SecureString -String $v -AsPlainText -Force } else { $null } }
        $user = if ($envValues['POSTGRES_USER']) { $envValues['POSTGRES_USER'] } else { 'sandbox' }
        $db = if ($envValues['POSTGRES_DB']) { $envValues['POSTGRES_DB'] } else { 'sandbox' }
        $containers = @(Get-SbxProjectContainers $ProjectName)
        [pscustomobject]@{
            PSTypeName         = 'UpgradeOps.Sandbox'
            ProjectName        = $ProjectName
            Path               = $folder
            ComposeFile        = Join-Path $folder 'docker-compose.yml'
            EnvFile            = $envFile
            Version            = $envValues['VERSION']
            Image              = "$($script:AppImage):$($envValues['VERSION'])"
            ApiEndpoint        = "http://127.0.0.1:$($script:Ports.lb)"
            ServerEndpoints    = [string[]]@("http://127.0.0.1:$($script:Ports['server-a'])", "http://127.0.0.1:$($script:Ports['server-b'])")
            DatabaseHost       = '127.0.0.1'
            DatabasePort       = $script:Ports.database
            DatabaseName       = $db
            DatabaseUser       = $user
            DatabaseUrl        = "postgresql://$user@127.0.0.1:$($script:Ports.database)/$db"
            DatabasePassword   = & $secret $envValues['POSTGRES_PASSWORD']
            CacheUrl           = "redis://127.0.0.1:$($script:Ports.cache)/0"
            SigningKey         = & $secret $envValues['APP_SIGNING_KEY']
            CanarySecret       = & $secret $envValues['APP_CANARY_SECRET']
            RepositoryName     = $script:RepositoryName
            RepositoryLocation = "/remote/$($script:RepositoryName).git"
            RepositoryPath     = Join-Path $folder "remote/$($script:RepositoryName).git"
            RepositoryCommit   = if ($state -and $state.PSObject.Properties['RepositoryCommit']) { $state.RepositoryCommit } else { $null }
            Seeded             = [bool]($state -and $state.PSObject.Properties['Seeded'] -and $state.Seeded)
            ArtifactCount      = if ($state -and $state.PSObject.Properties['ArtifactCount']) { [int]$state.ArtifactCount } else { 0 }
            BulkRows           = if ($state -and $state.PSObject.Properties['BulkRows']) { [long]$state.BulkRows } else { 0 }
            Containers         = [string[]]@($containers | ForEach-Object Name)
            # Container names by compose service (docker-compose v1 names them <project>_<service>_<n>).
            ServiceContainers  = $(
                $map = [ordered]@{}
                foreach ($group in ($containers | Sort-Object Name | Group-Object Service)) { $map[$group.Name] = [string[]]@($group.Group.Name) }
                $map)
            Healthy            = ($containers.Count -ge $script:ExpectedContainers -and -not ($containers | Where-Object { $_.State -ne 'running' -or $_.Health -notin 'healthy', 'none' }))
        }
    }
}

function Start-Sandbox {
    <#
    .SYNOPSIS
        Creates and starts a sandbox deployment with Debian's docker-compose, at a given application version.
    .DESCRIPTION
        Creates the deployment folder (default out/sandbox/<project>) from tests/Sandbox/compose/docker-compose.yml
        with a .env (VERSION, generated database password, canary secret, APP_SIGNING_KEY from 2.0.0 on) and a
        bare Git repository (remote/sandbox-config.git, two commits); runs the migrations of that version the way
        the upgrade guide does (docker-compose run --rm server-a sandbox upgrade), docker-compose up -d, and waits
        until the seven containers are healthy. -Seed adds data through the API: -SeedArtifacts artifacts
        generated by the workers, the repository synced by a worker, and -SeedRows bulk rows.
    .OUTPUTS
        UpgradeOps.Sandbox (see Get-Sandbox): ProjectName, Path, ComposeFile, Version, ApiEndpoint,
        DatabaseUrl (no password), DatabasePassword/SigningKey/CanarySecret (SecureString), RepositoryCommit, ...
    #>
    [CmdletBinding()]
    param(
        [ValidatePattern('^\d+\.\d+\.\d+$')][string] $Version = '1.7.5',
        [ValidatePattern('^[a-z0-9][a-z0-9_-]*$')][string] $ProjectName = $script:DefaultProject,
        # The deployment folder (default out/sandbox/<project> in the repository).
        [string] $Path,
        [switch] $Seed,
        [ValidateRange(0, 100000000)][long] $SeedRows = 20000,
        [ValidateRange(0, 100000)][int] $SeedArtifacts = 200,
        # Replace an existing deployment of that project (its containers and volumes are removed).
        [switch] $Force,
        [ValidateRange(10, 3600)][int] $TimeoutSeconds = 180
    )
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $null = Assert-SbxEngine
    if (-not (Test-SbxCommand docker-compose)) { throw 'docker-compose is not installed: run Initialize-SandboxHost first.' }
    $folder = Resolve-SbxPath $ProjectName $Path

    # An existing deployment of the same project is replaced only with -Force.
    $containers = @(Get-SbxProjectContainers $ProjectName -IncludeOneOff)
    $volumes = @(Get-SbxProjectVolumes $ProjectName)
    if ($containers.Count -gt 0 -or $volumes.Count -gt 0) {
        if (-not $Force) {
            throw "A deployment of project '$ProjectName' already exists ($($containers.Count) containers, $($volumes.Count) volumes). Remove it with Stop-Sandbox -ProjectName $ProjectName -RemoveVolumes, or use -Force."
        }
        $null = Stop-Sandbox -ProjectName $ProjectName -Path $folder -RemoveVolumes
    }
    # A port of a sandbox just removed can stay held for a while (seen once in CI: 55432 for about a minute after
    # docker-compose down): wait for it, then say what holds it.
    $portDeadline = [DateTime]::UtcNow.AddSeconds(120)
    foreach ($name in $script:Ports.Keys) {
        while (Test-SbxPort $script:Ports[$name]) {
            if ([DateTime]::UtcNow -gt $portDeadline) {
                $holder = if (Test-SbxCommand ss) { ((Invoke-SbxNative ss @('-ltnp', "sport = :$($script:Ports[$name])") -AllowFailure).Output | Select-Object -Skip 1) -join '; ' } else { 'unknown' }
                throw "Port $($script:Ports[$name]) ($name) on 127.0.0.1 is still in use after 120 s ($holder): another sandbox or program runs (docker ps --filter label=com.docker.compose.project). The sandbox uses fixed ports on the host network."
            }
            Start-Sleep -Milliseconds 500
        }
    }
    $image = "$($script:AppImage):$Version"
    if (-not (Get-SbxImageInfo $image) -and -not (Get-SbxRegistryDigest $image)) {
        throw "The image $image does not exist locally nor in the registry: run Build-SandboxImage (versions: $($script:Versions -join ', '))."
    }

    # The deployment folder.
    if (Test-Path $folder) {
        $existingEnv = Join-Path $folder '.env'
        $isSandbox = (Test-Path $existingEnv) -and ((Get-Content -Raw $existingEnv) -like "$($script:EnvMarker)*")
        $isEmpty = -not (Get-ChildItem -Force -LiteralPath $folder | Select-Object -First 1)
        if (-not $isSandbox -and -not $isEmpty) { throw "The folder $folder exists and is not a sandbox deployment folder: choose another -Path." }
        Remove-Item -LiteralPath $folder -Recurse -Force
    }
    $null = New-Item -ItemType Directory -Force -Path (Join-Path $folder 'remote')
    Copy-Item (Join-Path $script:SandboxDir 'compose/docker-compose.yml') (Join-Path $folder 'docker-compose.yml')
    $envLines = @(
        "$($script:EnvMarker) '$ProjectName', created by Start-Sandbox on $([DateTime]::UtcNow.ToString('u')).",
        '# docker-compose reads this file; the compose file shows where each value goes.',
        "COMPOSE_PROJECT_NAME=$ProjectName",
        '# The application version: the image tag of server-a, server-b and worker.',
        "VERSION=$Version",
        "SANDBOX_IMAGE=$($script:AppImage)",
        '# PostgreSQL credentials (generated).',
        'POSTGRES_USER=sandbox',
        "POSTGRES_PASSWORD=$(New-SbxSecret)",
        'POSTGRES_DB=sandbox',
        '# A canary: this value must never appear in anything UpgradeOps prints, logs or writes.',
        "APP_CANARY_SECRET=canary-$(New-SbxSecret 8)"
    )
    if (Test-SbxAtLeast $Version '2.0.0') {
        $envLines += @('# Required from 2.0.0 on: the key that signs artifacts.', "APP_SIGNING_KEY=$(New-SbxSecret)")
    }
    Set-Content -LiteralPath (Join-Path $folder '.env') -Value $envLines
    [System.IO.File]::SetUnixFileMode((Join-Path $folder '.env'), [System.IO.UnixFileMode]'UserRead, UserWrite')

    # The Git repository the workers sync from: fixed dates, so the commits are the same every time.
    Write-Host "sandbox ${ProjectName}: creating the Git repository remote/$($script:RepositoryName).git"
    $gitScript = @'
git init -q --bare -b main /remote/sandbox-config.git
w=$(mktemp -d); cd "$w"; git init -q -b main
printf '# Sandbox configuration\nDevices and their templates, synced by the sandbox workers.\n' > README.md
git add README.md; GIT_AUTHOR_DATE='2024-01-01T10:00:00Z' GIT_COMMITTER_DATE='2024-01-01T10:00:00Z' git commit -q -m 'Initial configuration'
printf 'devices:\n  - name: device-001\n    role: edge\n  - name: device-002\n    role: core\n' > devices.yml
git add devices.yml; GIT_AUTHOR_DATE='2024-01-02T10:00:00Z' GIT_COMMITTER_DATE='2024-01-02T10:00:00Z' git commit -q -m 'Add devices'
git push -q /remote/sandbox-config.git main
git --git-dir=/remote/sandbox-config.git rev-parse refs/heads/main
'@
    $commit = Invoke-SbxGitScript -Path $folder -Image $image -Script $gitScript
    if (-not $commit) { throw 'Creating the sandbox Git repository gave no commit.' }
    Write-SbxState $folder @{ ProjectName = $ProjectName; Version = $Version; RepositoryCommit = $commit; Seeded = $false; ArtifactCount = 0; BulkRows = 0 }

    # The upgrade guide's manual sequence: migrate with the new image, then start everything.
    Write-Host "sandbox ${ProjectName}: docker-compose run --rm server-a sandbox upgrade ($Version)"
    $migration = Invoke-SandboxCompose -ProjectName $ProjectName -Path $folder -Arguments @('run', '--rm', '-T', 'server-a', 'sandbox', 'upgrade') -AllowFailure
    if ($migration.ExitCode -ne 0) {
        throw "The migrations of $Version failed (exit code $($migration.ExitCode)):`n$(($migration.Output | Select-Object -Last 20) -join "`n")`nThe deployment is left as it is; remove it with Stop-Sandbox -ProjectName $ProjectName -RemoveVolumes."
    }
    Write-Host "sandbox ${ProjectName}: docker-compose up -d"
    $null = Invoke-SandboxCompose -ProjectName $ProjectName -Path $folder -Arguments @('up', '-d')
    $null = Wait-SandboxHealthy -ProjectName $ProjectName -TimeoutSeconds $TimeoutSeconds

    $networks = (Invoke-SbxNative docker @('network', 'ls', '--format', '{{.Name}}')).Output | Where-Object { $_ -and $_ -notin 'bridge', 'host', 'none' }
    $ours = @($networks | Where-Object { $_ -like "$ProjectName*" })
    if ($ours.Count -gt 0) { throw "docker-compose created networks ($($ours -join ', ')): every sandbox service must use network_mode: host." }

    if ($Seed) {
        Initialize-SbxData -ProjectName $ProjectName -Path $folder -Artifacts $SeedArtifacts -Rows $SeedRows -TimeoutSeconds $TimeoutSeconds
    }
    Write-Host ("sandbox {0}: {1} is up at http://127.0.0.1:{2} in {3:n0} s" -f $ProjectName, $Version, $script:Ports.lb, $watch.Elapsed.TotalSeconds)
    Get-Sandbox -ProjectName $ProjectName -Path $folder
}

function Initialize-SbxData {
    param([string] $ProjectName, [string] $Path, [int] $Artifacts, [long] $Rows, [int] $TimeoutSeconds)
    Write-Host "sandbox ${ProjectName}: seeding $Artifacts artifacts, the repository and $Rows bulk rows"
    # Artifacts through the API (50 aliased mutations per request); the workers generate them.
    for ($start = 1; $start -le $Artifacts; $start += 50) {
        $fields = for ($i = $start; $i -le [math]::Min($start + 49, $Artifacts); $i++) {
            $name = 'device-{0:d3}' -f $i
            $definition = "hostname sbx-{0:d3}\ninterface eth0\n  description uplink {0}\n  mtu {1}" -f $i, (1500 + $i % 7)
            "a${i}: ArtifactGenerate(name: `"$name`", definition: `"$definition`") { name status }"
        }
        $response = Invoke-SandboxGraphQL "mutation SeedArtifacts { $($fields -join ' ') }"
        if ($response.PSObject.Properties['errors'] -and $response.errors) { throw "Seeding artifacts failed: $(($response.errors | ForEach-Object message) -join '; ')" }
    }
    $response = Invoke-SandboxGraphQL ('mutation {{ RepositoryCreate(name: "{0}", location: "/remote/{0}.git") {{ name sync_status }} }}' -f $script:RepositoryName)
    if ($response.PSObject.Properties['errors'] -and $response.errors) { throw "Creating the repository failed: $(($response.errors | ForEach-Object message) -join '; ')" }
    if ($Rows -gt 0) {
        $null = Invoke-SandboxCompose -ProjectName $ProjectName -Path $Path -Arguments @('exec', '-T', 'server-a', 'sandbox', 'seed', '--bulk-rows', "$Rows")
    }
    # Wait for the workers.
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $r = Invoke-SandboxGraphQL 'query { ArtifactSummary { total ready pending error } Repositories { name sync_status commit last_error } }'
        $summary = $r.data.ArtifactSummary
        $repo = @($r.data.Repositories) | Where-Object name -eq $script:RepositoryName
        if ($summary.ready -eq $summary.total -and $repo -and $repo.sync_status -eq 'in-sync') { break }
        if ($summary.error -gt 0 -or ($repo -and $repo.sync_status -eq 'error')) {
            throw "Seeding failed: $($summary.error) artifacts in error; repository $($repo.sync_status) $($repo.last_error)"
        }
        if ([DateTime]::UtcNow -gt $deadline) { throw "The workers did not finish the seed within $TimeoutSeconds s: $($summary.ready)/$($summary.total) artifacts ready, repository $($repo.sync_status)" }
        Start-Sleep -Milliseconds 500
    }
    Write-SbxState $Path @{ Seeded = $true; ArtifactCount = [int]$summary.total; BulkRows = $Rows; RepositoryCommit = $repo.commit }
}

function Add-SandboxRepositoryCommit {
    <#
    .SYNOPSIS
        Adds a commit to the sandbox's bare Git repository (remote/sandbox-config.git); returns the new head commit.
    .DESCRIPTION
        The workers see it at their next sync (mutation RepositorySync). The repository is changed from a throwaway
        container of the sandbox image, so the host needs no git.
    #>
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipelineByPropertyName)][string] $ProjectName = $script:DefaultProject,
        [Parameter(ValueFromPipelineByPropertyName)][string] $Path,
        [string] $Message = 'Update devices'
    )
    process {
        $sandbox = Get-Sandbox -ProjectName $ProjectName -Path $Path
        $script = @'
w=$(mktemp -d); git clone -q /remote/sandbox-config.git "$w/repo"; cd "$w/repo"
printf '# %s\n' "$SBX_MESSAGE" >> CHANGES.md
git add CHANGES.md; git commit -q -m "$SBX_MESSAGE"; git push -q origin main
git --git-dir=/remote/sandbox-config.git rev-parse refs/heads/main
'@
        $commit = Invoke-SbxGitScript -Path $sandbox.Path -Image $sandbox.Image -Script $script -Environment @{ SBX_MESSAGE = $Message }
        if (-not $commit) { throw 'Adding a commit to the sandbox repository gave no commit.' }
        Write-SbxState $sandbox.Path @{ RepositoryCommit = $commit }
        $commit
    }
}

function Stop-Sandbox {
    <#
    .SYNOPSIS
        Stops a sandbox deployment: docker-compose down (-v with -RemoveVolumes); -RemoveFolder deletes its folder.
    .OUTPUTS
        UpgradeOps.SandboxStopped: ProjectName, Path, RemovedContainers, RemovedVolumes, RemovedFolder.
    #>
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipelineByPropertyName)][string] $ProjectName = $script:DefaultProject,
        [Parameter(ValueFromPipelineByPropertyName)][string] $Path,
        [switch] $RemoveVolumes,
        [switch] $RemoveFolder
    )
    process {
        $null = Assert-SbxEngine
        $folder = Resolve-SbxPath $ProjectName $Path
        $compose = Join-Path $folder 'docker-compose.yml'
        $before = @(Get-SbxProjectContainers $ProjectName -IncludeOneOff)
        $volumesBefore = @(Get-SbxProjectVolumes $ProjectName)
        if ((Test-Path $compose) -and (Test-SbxCommand docker-compose)) {
            $arguments = @('down', '--remove-orphans', '--timeout', '10')
            if ($RemoveVolumes) { $arguments += '--volumes' }
            $r = Invoke-SandboxCompose -ProjectName $ProjectName -Path $folder -Arguments $arguments -AllowFailure
            if ($r.ExitCode -ne 0) { Write-Warning "docker-compose down failed (exit code $($r.ExitCode)); removing the containers directly. $($r.Output | Select-Object -Last 5)" }
        }
        # Whatever compose left (one-off containers, a missing folder): by the project label.
        $left = @(Get-SbxProjectContainers $ProjectName -IncludeOneOff)
        if ($left.Count -gt 0) { $null = Invoke-SbxNative docker (@('rm', '-f', '-v') + @($left.Id)) }
        if ($RemoveVolumes) {
            $leftVolumes = @(Get-SbxProjectVolumes $ProjectName)
            if ($leftVolumes.Count -gt 0) { $null = Invoke-SbxNative docker (@('volume', 'rm', '-f') + $leftVolumes) }
        }
        $removedFolder = $false
        if ($RemoveFolder -and (Test-Path $folder)) {
            $envFile = Join-Path $folder '.env'
            if ((Test-Path $envFile) -and ((Get-Content -Raw $envFile) -like "$($script:EnvMarker)*")) {
                Remove-Item -LiteralPath $folder -Recurse -Force
                $removedFolder = $true
            }
            else { Write-Warning "$folder is not a sandbox deployment folder: left in place." }
        }
        [pscustomobject]@{
            PSTypeName        = 'UpgradeOps.SandboxStopped'
            ProjectName       = $ProjectName
            Path              = $folder
            RemovedContainers = [string[]]@($before | ForEach-Object Name)
            RemovedVolumes    = [string[]]@(if ($RemoveVolumes) { $volumesBefore })
            RemovedFolder     = $removedFolder
        }
    }
}

# ---- the Infrahub sandbox ---------------------------------------------------------------------------

function Start-InfrahubSandbox {
    <#
    .SYNOPSIS
        Starts the Infrahub sandbox (tests/Sandbox/infrahub: Infrahub's topology, for the built-in profile) at a version,
        from nothing: its compose file and an .env of generated secrets in its folder, then up -d until all 8 containers
        are healthy.
    .OUTPUTS
        UpgradeOps.InfrahubSandbox: ProjectName, Path, ComposeFile, Version, ApiEndpoint.
    .EXAMPLE
        $infrahub = Start-InfrahubSandbox -Version 1.1.7; Get-UpgradeDeployment -ComposeFile $infrahub.ComposeFile
    #>
    [CmdletBinding()]
    param(
        [ValidateSet('1.1.7', '1.1.8', '1.2.0')][string] $Version = '1.1.7',
        [string] $ProjectName = 'upgradeops-infrahub',
        # The deployment's folder (default: out/sandbox/PROJECT); whatever was there is replaced.
        [string] $Path,
        [int] $TimeoutSeconds = 180
    )
    $null = Assert-SbxEngine
    $folder = Resolve-SbxPath $ProjectName $Path
    $null = New-Item -ItemType Directory -Force $folder
    Copy-Item (Join-Path $script:SandboxDir 'infrahub/docker-compose.yml') (Join-Path $folder 'docker-compose.yml') -Force
    # The marker first, so Stop-Sandbox -RemoveFolder knows the folder for a sandbox's.
    @($script:EnvMarker, "COMPOSE_PROJECT_NAME=$ProjectName", "VERSION=$Version", "INFRAHUB_DB_PASSWORD=graph-$(New-SbxSecret 8)",
        "INFRAHUB_INITIAL_ADMIN_TOKEN=token-$(New-SbxSecret 8)", "INFRAHUB_BROKER_PASSWORD=broker-$(New-SbxSecret 8)") |
        Set-Content (Join-Path $folder '.env')
    $null = Invoke-SandboxCompose -ProjectName $ProjectName -Path $folder -Arguments down, -v, --remove-orphans -AllowFailure
    Write-Host "sandbox ${ProjectName}: docker-compose up -d ($Version)"
    $null = Invoke-SandboxCompose -ProjectName $ProjectName -Path $folder -Arguments up, -d
    $null = Wait-SandboxHealthy -ProjectName $ProjectName -ExpectedContainers 8 -TimeoutSeconds $TimeoutSeconds
    [pscustomobject]@{
        PSTypeName  = 'UpgradeOps.InfrahubSandbox'
        ProjectName = $ProjectName
        Path        = $folder
        ComposeFile = Join-Path $folder 'docker-compose.yml'
        Version     = $Version
        ApiEndpoint = 'http://127.0.0.1:8000'
    }
}

# ---- test lanes ------------------------------------------------------------------------------------

function Get-SbxLanePaths([string] $Name) {
    # /run for the sockets (containerd's must stay under 108 bytes), /var/tmp for the data root: it keeps the lane's
    # pulled images from one run to the next, as the machine's engine keeps its own.
    [pscustomobject]@{
        Namespace   = "upgradeops-$Name"
        NetnsPath   = "/run/netns/upgradeops-$Name"
        Run         = "/run/upgradeops-$Name"
        Data        = "/var/tmp/upgradeops-$Name"
        DockerHost  = "unix:///run/upgradeops-$Name/docker.sock"
        EnginePid   = Join-Path $script:HostDir "lane-$Name-dockerd.pid"
        RegistryPid = Join-Path $script:HostDir "lane-$Name-registry.pid"
    }
}

function Start-SandboxLane {
    <#
    .SYNOPSIS
        Starts a test lane: a network namespace of its own with a Docker Engine and a registry in it, so a sandbox with
        the same fixed ports on the host network runs beside the machine's own.
    .DESCRIPTION
        The sandboxes use host networking and fixed ports on 127.0.0.1, so only one can run per network namespace. A lane
        is a namespace (ip netns add upgradeops-NAME, loopback only: no route out, no private-range address) with a
        dockerd of its own (nsenter --net: same file systems and cgroups, own socket, data root and exec root) and
        Debian's docker-registry on the lane's 127.0.0.1:5000 serving the same storage as the machine's registry, so the
        lane pulls the images Build-SandboxImage pushed. Run a process in the lane with
        `nsenter --net=<NetnsPath> env DOCKER_HOST=<DockerHost> UPGRADEOPS_SANDBOX_PROJECT=<Project> ...`.
        Idempotent: a lane already running is reused. Stop it with Stop-SandboxLane.
    .OUTPUTS
        UpgradeOps.SandboxLane: Name, NetnsPath, DockerHost, Project, EnginePid, RegistryPid.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)][ValidatePattern('^[a-z0-9-]{1,20}$')][string] $Name, [ValidateRange(5, 600)][int] $TimeoutSeconds = 90)
    Assert-SbxRoot 'start a test lane (network namespace, dockerd)'
    foreach ($tool in 'ip', 'nsenter', 'dockerd', 'docker-registry') { if (-not (Test-SbxCommand $tool)) { throw "$tool is not installed: a test lane needs it (run Initialize-SandboxHost)." } }
    $lane = Get-SbxLanePaths $Name
    if (-not (Test-Path $lane.NetnsPath)) {
        $null = Invoke-SbxNative ip @('netns', 'add', $lane.Namespace)
        $null = Invoke-SbxNative ip @('-n', $lane.Namespace, 'link', 'set', 'lo', 'up')
    }
    $null = New-Item -ItemType Directory -Force -Path $lane.Run, $lane.Data
    $enter = @('nsenter', "--net=$($lane.NetnsPath)")
    $answers = { (Invoke-SbxNative docker @('-H', $lane.DockerHost, 'version', '--format', '{{.Server.Version}}') -AllowFailure).ExitCode -eq 0 }
    $enginePid = if (Test-Path $lane.EnginePid) { [int](Get-Content -Raw $lane.EnginePid).Trim() } else { 0 }
    if (-not ((Test-SbxProcess $enginePid 'dockerd') -and (& $answers))) {
        # nsenter execs dockerd in place: the pid it leaves is dockerd's.
        $enginePid = Start-SbxDetached -LogFile (Join-Path $script:HostDir "lane-$Name-dockerd.log") -Command ($enter + @('dockerd',
            '--bridge=none', '--iptables=false', '--ip-masq=false', '-H', $lane.DockerHost, '--data-root', "$($lane.Data)/docker",
            '--exec-root', "$($lane.Run)/exec", '--pidfile', "$($lane.Run)/docker.pid"))
        Set-Content -Path $lane.EnginePid -Value $enginePid
    }
    $registryPid = if (Test-Path $lane.RegistryPid) { [int](Get-Content -Raw $lane.RegistryPid).Trim() } else { 0 }
    if (-not (Test-SbxProcess $registryPid 'docker-registry')) {
        $registryPid = Start-SbxDetached -LogFile (Join-Path $script:HostDir "lane-$Name-registry.log") -Command ($enter + @('docker-registry', 'serve', (Join-Path $script:SandboxDir 'registry/config.yml')))
        Set-Content -Path $lane.RegistryPid -Value $registryPid
    }
    # The lane's registry answers on the lane's loopback only: connect from inside the namespace.
    $registryAnswers = { (Invoke-SbxNative nsenter @("--net=$($lane.NetnsPath)", 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/5000') -AllowFailure).ExitCode -eq 0 }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while (-not ((& $answers) -and (& $registryAnswers))) {
        foreach ($p in @(@{ Pid = $enginePid; Name = 'dockerd' }, @{ Pid = $registryPid; Name = 'docker-registry' })) {
            if (-not (Test-SbxAlive $p.Pid)) { throw "The lane's $($p.Name) exited while starting; see $(Join-Path $script:HostDir "lane-$Name-$($p.Name -replace 'docker-', '').log")" }
        }
        if ([DateTime]::UtcNow -gt $deadline) { throw "Test lane '$Name' did not answer within $TimeoutSeconds s (dockerd pid $enginePid, registry pid $registryPid)." }
        Start-Sleep -Milliseconds 300
    }
    [pscustomobject]@{
        PSTypeName  = 'UpgradeOps.SandboxLane'
        Name        = $Name
        NetnsPath   = $lane.NetnsPath
        DockerHost  = $lane.DockerHost
        Project     = "upgradeops-$Name"
        EnginePid   = $enginePid
        RegistryPid = $registryPid
    }
}

function Stop-SandboxLane {
    <#
    .SYNOPSIS
        Stops a test lane: removes every container and volume of its engine, stops its dockerd and registry by the pids
        Start-SandboxLane recorded, and deletes its network namespace. Its data root (the pulled images) stays for the next run.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)][ValidatePattern('^[a-z0-9-]{1,20}$')][string] $Name)
    $lane = Get-SbxLanePaths $Name
    $enginePid = if (Test-Path $lane.EnginePid) { [int](Get-Content -Raw $lane.EnginePid).Trim() } else { 0 }
    if (Test-SbxProcess $enginePid 'dockerd') {
        # Everything the lane's tests made goes with it: the engine is the lane's alone.
        $containers = @((Invoke-SbxNative docker @('-H', $lane.DockerHost, 'ps', '-aq') -AllowFailure).Output | Where-Object { $_ })
        if ($containers.Count -gt 0) { $null = Invoke-SbxNative docker (@('-H', $lane.DockerHost, 'rm', '-f', '-v') + $containers) -AllowFailure }
        $volumes = @((Invoke-SbxNative docker @('-H', $lane.DockerHost, 'volume', 'ls', '-q') -AllowFailure).Output | Where-Object { $_ })
        if ($volumes.Count -gt 0) { $null = Invoke-SbxNative docker (@('-H', $lane.DockerHost, 'volume', 'rm', '-f') + $volumes) -AllowFailure }
    }
    foreach ($target in @(@{ File = $lane.RegistryPid; Name = 'docker-registry' }, @{ File = $lane.EnginePid; Name = 'dockerd' })) {
        if (-not (Test-Path $target.File)) { continue }
        $processId = [int](Get-Content -Raw $target.File).Trim()
        if (Test-SbxProcess $processId $target.Name) {
            $null = Invoke-SbxNative kill @('-TERM', "$processId") -AllowFailure
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ((Test-SbxProcess $processId $target.Name) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
            if (Test-SbxProcess $processId $target.Name) { Stop-Process -Id $processId -Force }
        }
        Remove-Item $target.File -Force
    }
    # dockerd leaves its default network namespace mounted under the exec root when it exits.
    $mounts = @(Get-Content /proc/mounts | ForEach-Object { ($_ -split ' ')[1] } | Where-Object { $_.StartsWith("$($lane.Run)/") } | Sort-Object -Descending)
    foreach ($mount in $mounts) { $null = Invoke-SbxNative umount @($mount) -AllowFailure }
    if (Test-Path $lane.Run) { Remove-Item -LiteralPath $lane.Run -Recurse -Force -ErrorAction SilentlyContinue }
    if (Test-Path $lane.NetnsPath) { $null = Invoke-SbxNative ip @('netns', 'delete', $lane.Namespace) -AllowFailure }
    # The lane's sandbox deployment folder (its project is upgradeops-NAME), as Stop-Sandbox -RemoveFolder removes it.
    $folder = Resolve-SbxPath "upgradeops-$Name" $null
    $envFile = Join-Path $folder '.env'
    if ((Test-Path $envFile) -and ((Get-Content -Raw $envFile) -like "$($script:EnvMarker)*")) { Remove-Item -LiteralPath $folder -Recurse -Force }
}

Export-ModuleMember -Function Initialize-SandboxHost, Stop-SandboxHost, Build-SandboxImage, Remove-SandboxImage,
    Start-Sandbox, Stop-Sandbox, Get-Sandbox, Wait-SandboxHealthy, Invoke-SandboxCompose, Invoke-SandboxGraphQL,
    Add-SandboxRepositoryCommit, Start-SandboxLane, Stop-SandboxLane, Start-InfrahubSandbox

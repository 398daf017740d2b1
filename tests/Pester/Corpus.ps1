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

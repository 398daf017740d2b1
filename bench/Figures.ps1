# Shared by the benchmarks: one row of bench/run.ps1's table. Each benchmark emits its rows (and writes them to
# -ResultFile as JSON when run.ps1 asks), so a figure is computed once, where it is measured.

function New-BenchFigure {
    <# .SYNOPSIS A figure measured against its baseline in the same run, and whether it holds its goal. #>
    param(
        [Parameter(Mandatory)][string] $Figure,
        # UpgradeOps's figure and the baseline's, in -Unit.
        [Nullable[double]] $UpgradeOps,
        [Nullable[double]] $Baseline,
        [string] $Unit = 's',
        # 'ratio': UpgradeOps / Baseline <= Goal; 'added': UpgradeOps - Baseline <= Goal; 'at most': UpgradeOps <= Goal.
        [ValidateSet('ratio', 'added', 'at most')][string] $GoalKind = 'ratio',
        [Nullable[double]] $Goal,
        # What the figure also says (sizes, counts), or why it was not measured.
        [string] $Note = ''
    )
    $ratio = if ($null -ne $UpgradeOps -and $Baseline) { [math]::Round($UpgradeOps / $Baseline, 2) } else { $null }
    $held = if ($null -eq $Goal -or $null -eq $UpgradeOps) { $null }
            else {
                switch ($GoalKind) {
                    'ratio' { $null -ne $ratio -and $ratio -le $Goal }
                    'added' { $null -ne $Baseline -and ($UpgradeOps - $Baseline) -le $Goal }
                    'at most' { $UpgradeOps -le $Goal }
                }
            }
    $goalText = if ($null -eq $Goal) { '' } else {
        switch ($GoalKind) { 'ratio' { "<= $Goal" } 'added' { "<= $Goal $Unit added" } 'at most' { "<= $Goal $Unit" } }
    }
    [pscustomobject]@{
        PSTypeName = 'UpgradeOps.BenchFigure'
        Figure     = $Figure
        UpgradeOps = if ($null -ne $UpgradeOps) { [math]::Round($UpgradeOps, 3) } else { $null }
        Baseline   = if ($null -ne $Baseline) { [math]::Round($Baseline, 3) } else { $null }
        Unit       = $Unit
        Ratio      = $ratio
        Goal       = $goalText
        Held       = $held
        Note       = $Note
    }
}

function Write-BenchResult {
    <# .SYNOPSIS Passes the figures on, and writes them as JSON to -Path when one is given (bench/run.ps1 collects them). #>
    param([Parameter(ValueFromPipeline)] $Figure, [string] $Path)
    begin { $all = [System.Collections.Generic.List[object]]::new() }
    process { $all.Add($Figure); $Figure }
    end { if ($Path) { ConvertTo-Json -InputObject @($all) -Depth 4 | Set-Content -Path $Path -Encoding utf8 } }
}

function Wait-DockerHealthy {
    <# .SYNOPSIS Waits until every named container runs and, where it has a healthcheck, is healthy; throws after -TimeoutSeconds. #>
    param([Parameter(Mandatory)][string[]] $Names, [int] $IntervalMs = 250, [int] $TimeoutSeconds = 120)
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    do {
        Start-Sleep -Milliseconds $IntervalMs
        $states = docker inspect --format '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' $Names
        if ((Get-Date) -gt $deadline) { throw "$($Names -join ', ') not healthy within $TimeoutSeconds s: $($states -join ', ')" }
    } while ($states | Where-Object { $_ -notmatch '^running/(healthy)?$' })
}

function Get-BenchMedian([double[]] $Values) { ($Values | Sort-Object)[[int][math]::Floor($Values.Count / 2)] }

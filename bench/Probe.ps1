# Shared by the benchmarks: an HTTP probe that runs on its own thread while an upgrade happens.
# Every request is counted; downtime is the sum of the spans from a first failure to the next success.

function Start-ApiProbe {
    param([string] $Url = 'http://127.0.0.1:58000/api/info', [int] $IntervalMs = 20, [int] $TimeoutMs = 1000)
    $state = [hashtable]::Synchronized(@{ Stop = $false; Requests = 0; Failures = 0; DowntimeMs = 0.0; FirstFailure = $null; Errors = @{} })
    $job = Start-ThreadJob -ArgumentList $Url, $IntervalMs, $TimeoutMs, $state -ScriptBlock {
        param($Url, $IntervalMs, $TimeoutMs, $state)
        $http = [System.Net.Http.HttpClient]::new()
        $http.Timeout = [TimeSpan]::FromMilliseconds($TimeoutMs)
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $outageStart = $null
        $next = 0.0
        while (-not $state.Stop) {
            $at = $clock.Elapsed.TotalMilliseconds
            $ok = $false
            try {
                $response = $http.GetAsync($Url).GetAwaiter().GetResult()
                $ok = $response.IsSuccessStatusCode
                if (-not $ok) { $key = "HTTP $([int]$response.StatusCode)"; $state.Errors[$key] = 1 + [int]$state.Errors[$key] }
                $response.Dispose()
            }
            catch {
                # The type and its message, with the second of the run it happened at: enough to tell a client's own hiccup from an outage.
                $base = $_.Exception.GetBaseException()
                $key = "$($base.GetType().Name) ($($base.Message)) at $([math]::Round($clock.Elapsed.TotalSeconds, 1)) s"
                $state.Errors[$key] = 1 + [int]$state.Errors[$key]
            }
            $state.Requests++
            if (-not $ok) {
                $state.Failures++
                if ($null -eq $outageStart) { $outageStart = $at }
            }
            elseif ($null -ne $outageStart) {
                $state.DowntimeMs += $clock.Elapsed.TotalMilliseconds - $outageStart
                $outageStart = $null
            }
            $next += $IntervalMs
            $wait = $next - $clock.Elapsed.TotalMilliseconds
            if ($wait -gt 0) { Start-Sleep -Milliseconds ([int]$wait) }
        }
        if ($null -ne $outageStart) { $state.DowntimeMs += $clock.Elapsed.TotalMilliseconds - $outageStart }
        $http.Dispose()
    }
    [pscustomobject]@{ Job = $job; State = $state }
}

function Stop-ApiProbe {
    param([Parameter(Mandatory)] $Probe)
    $Probe.State.Stop = $true
    $Probe.Job | Wait-Job | Receive-Job
    $Probe.Job | Remove-Job
    [pscustomobject]@{
        Requests   = $Probe.State.Requests
        Failures   = $Probe.State.Failures
        DowntimeMs = [math]::Round($Probe.State.DowntimeMs)
        Errors     = ($Probe.State.Errors.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ', '
    }
}

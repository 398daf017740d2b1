using System.Diagnostics;

namespace UpgradeOps.Upgrades;

/// <summary>
/// Measures API downtime: requests the API every 20 ms on a background task and adds up the time between the
/// first failed probe of an outage and the next successful one.
/// </summary>
internal sealed class ApiProbe : IAsyncDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(1) };
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private TimeSpan _down;
    private long _failures;

    public ApiProbe(Uri url, TimeSpan interval) => _loop = Task.Run(() => LoopAsync(url, interval));

    /// <summary>
    /// A probe of the profile's info route (api.info) below <paramref name="endpoint"/> every 20 ms, the same on Compose and
    /// on Helm (an ingress URL may have a path of its own, kept as ProductApi keeps it); null when there is no endpoint or
    /// the profile names no info route, so nothing is measured.
    /// </summary>
    public static ApiProbe? Start(string? endpoint, string? infoRoute) =>
        endpoint is null || infoRoute is null ? null
            : new ApiProbe(new Uri(Platforms.ProductApi.RootOf(endpoint), infoRoute.TrimStart('/')), TimeSpan.FromMilliseconds(20));

    public TimeSpan Downtime => _down;
    public long FailedProbes => Interlocked.Read(ref _failures);

    private async Task LoopAsync(Uri url, TimeSpan interval)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan? outageStart = null;
        while (!_stop.IsCancellationRequested)
        {
            var at = clock.Elapsed;
            bool ok;
            try
            {
                using var response = await _http.GetAsync(url, _stop.Token).ConfigureAwait(false);
                ok = response.IsSuccessStatusCode;
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                ok = false;
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (!ok)
            {
                Interlocked.Increment(ref _failures);
                outageStart ??= at;
            }
            else if (outageStart is not null)
            {
                _down += clock.Elapsed - outageStart.Value;
                outageStart = null;
            }
            var wait = interval - (clock.Elapsed - at);
            if (wait > TimeSpan.Zero)
            {
                try { await Task.Delay(wait, _stop.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
        if (outageStart is not null) _down += clock.Elapsed - outageStart.Value;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        _http.Dispose();
        _stop.Dispose();
    }
}

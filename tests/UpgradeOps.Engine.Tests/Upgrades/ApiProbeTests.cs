using UpgradeOps.Engine.Tests.Validation;
using UpgradeOps.Upgrades;

namespace UpgradeOps.Engine.Tests.Upgrades;

/// <summary>
/// The API probe an upgrade runs on Compose and on Helm: the info route below the endpoint given, and the time from the first
/// failed answer of an outage to the next good one.
/// </summary>
public sealed class ApiProbeTests
{
    [Theory]
    [InlineData(null, "/api/info")]
    [InlineData("http://127.0.0.1:8000", null)]
    public void Nothing_is_measured_without_an_endpoint_or_an_info_route(string? endpoint, string? info) =>
        Assert.Null(ApiProbe.Start(endpoint, info));

    [Fact]
    public async Task Adds_up_the_outage_and_asks_the_info_route_below_the_endpoint_path()
    {
        var down = false;
        using var api = new ScriptedApi((_, _, _) => Volatile.Read(ref down) ? (503, "{}") : (200, "{\"version\": \"1.7.6\"}"));
        var lifetime = System.Diagnostics.Stopwatch.StartNew();
        // An ingress URL with a path of its own, as users reach Infrahub behind a reverse proxy.
        var probe = ApiProbe.Start(api.Root + "infrahub", "/api/info")!;
        // Waits on what the probe did, not on fixed sleeps: a loaded machine answers its first request late.
        await Until(() => api.Requests.Count > 0);
        var outage = System.Diagnostics.Stopwatch.StartNew();
        Volatile.Write(ref down, true);
        await Until(() => probe.FailedProbes > 0 && outage.Elapsed > TimeSpan.FromMilliseconds(500));
        var answered = api.Requests.Count;
        Volatile.Write(ref down, false);
        await Until(() => api.Requests.Count > answered + 1);
        await probe.DisposeAsync();

        // At most the probe's life, not the outage's length plus a margin: on a starved machine (CI runs this beside the
        // Compose tests on 2 cores) a probe that started before the outage can time out (1 s) and rightly count as down.
        Assert.InRange(probe.Downtime, TimeSpan.FromMilliseconds(1), lifetime.Elapsed);
        Assert.All(api.Requests, r => Assert.Equal("/infrahub/api/info", r.Path));
    }

    [Fact]
    public async Task An_api_that_never_failed_had_no_downtime()
    {
        using var api = new ScriptedApi((_, _, _) => (200, "{}"));
        var probe = ApiProbe.Start(api.Root, "api/info")!;
        await Until(() => api.Requests.Count > 2);
        await probe.DisposeAsync();

        Assert.Equal(TimeSpan.Zero, probe.Downtime);
        Assert.Equal(0, probe.FailedProbes);
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the probe did not get that far within 20 s");
            await Task.Delay(20);
        }
    }
}

using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// What a killed restore or upgrade left (volume helpers, migration one-offs) is found by its name's start, anchored:
/// "sandbox-" must not reach another project's "mysandbox-" containers. The fake engine ignores filters and lists every
/// container it has: the test reads what was asked and that each listed one is removed with its anonymous volumes.
/// </summary>
public class OneOffCleanupTests
{
    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token;

    [Fact]
    public async Task Asks_for_names_anchored_at_their_start_and_removes_each_listed_container_with_its_volumes()
    {
        using var fake = new RecordedDockerEngine("1.43");
        using var engine = await DockerEngine.ConnectAsync(fake.Endpoint, Timeout());

        var removed = await engine.RemoveOneOffsNamedAsync(new[] { "infrahub-upgradeops-migrate-", ComposeRestore.VolumeHelperPrefix("infrahub") }, Timeout());

        var list = Assert.Single(fake.Asked("GET", "^/containers/json$"));
        var query = Uri.UnescapeDataString(list.Query);
        Assert.Contains("\"^/infrahub-upgradeops-migrate-\":true", query);
        Assert.Contains("\"^/infrahub-upgradeops-restore-\":true", query);
        Assert.Contains("all=1", query, StringComparison.Ordinal);
        var deletes = fake.Asked("DELETE", "^/containers/[0-9a-f]{64}$");
        Assert.Equal(removed, deletes.Count);
        Assert.NotEqual(0, removed);
        Assert.All(deletes, d => Assert.Equal(new[] { "force=1", "v=1" }, d.Query.Split('&').Order()));
    }
}

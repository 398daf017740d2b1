using System.Diagnostics;
using k8s;
using System.Text.Json.Nodes;
using UpgradeOps.Kubernetes;
using Xunit.Abstractions;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>
/// The real helm v4 against the in-memory test API server: install, upgrade --wait (with the pre-upgrade
/// migration hook), history, rollback --wait, status, a release left pending-upgrade, uninstall; the release
/// read natively from its Secrets with KubernetesClient. Verified against this test server only.
/// </summary>
[Trait("Category", "Kubernetes")]
public sealed class KubeTestServerTests(ITestOutputHelper output)
{
    private const string Ns = "sandbox";
    private static readonly string Chart = Path.Combine(KubeTestServer.RepositoryRoot, "tests/Sandbox/chart");

    [Fact]
    public async Task Helm_installs_upgrades_rolls_back_and_uninstalls_the_sandbox_chart()
    {
        var total = Stopwatch.StartNew();
        using var server = new KubeTestServer(KubeTestServer.GetHelm());
        output.WriteLine($"server {server.Url} (pid {server.ProcessId}), helm {server.HelmPath}, ready after {total.ElapsedMilliseconds} ms");
        using var client = (k8s.Kubernetes)server.CreateClient();

        Step("install 1.7.5", server.Helm("install", "sbx", Chart, "-n", Ns, "--create-namespace", "--wait", "--timeout", "120s"));
        var installed = await HelmReleaseReader.GetLatestAsync(client, Ns, "sbx");
        Assert.Equal(("sbx", 1, "deployed", "1.7.5"), (installed!.Name, installed.Revision, installed.Status, installed.AppVersion));

        // The next release of the chart: appVersion 1.7.6 (a copy of the chart, as a new chart version would be).
        var chart176 = CopyChart(server.Folder, "1.7.6");
        var upgrade = Step("upgrade to 1.7.6", server.Helm("upgrade", "sbx", chart176, "-n", Ns, "--set", "image.tag=1.7.6", "--wait", "--timeout", "120s"));
        Assert.Contains("has been upgraded", upgrade);
        var deployment = await client.AppsV1.ReadNamespacedDeploymentAsync("sbx-sandbox-server", Ns);
        Assert.Equal("127.0.0.1:5000/upgradeops/sandbox:1.7.6", deployment.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(2, deployment.Status.ReadyReplicas);
        var database = await client.AppsV1.ReadNamespacedStatefulSetAsync("sbx-sandbox-database", Ns);
        Assert.Equal(1, database.Status.ReadyReplicas);
        // The pre-upgrade hook ran (and "succeeded") before the workloads changed.
        var migration = await client.BatchV1.ReadNamespacedJobAsync("sbx-sandbox-migrate", Ns);
        Assert.Equal(new[] { "sandbox", "upgrade" }, migration.Spec.Template.Spec.Containers[0].Command);

        var history = JsonNode.Parse(Step("history", server.Helm("history", "sbx", "-n", Ns, "-o", "json")))!.AsArray();
        Assert.Equal(2, history.Count);
        Assert.Equal(["superseded", "deployed"], history.Select(h => (string)h!["status"]!));

        var upgraded = await HelmReleaseReader.GetLatestAsync(client, Ns, "sbx");
        Assert.Equal((2, "deployed", "upgradeops-sandbox", "0.3.0", "1.7.6"),
            (upgraded!.Revision, upgraded.Status, upgraded.ChartName, upgraded.ChartVersion, upgraded.AppVersion));

        Step("rollback to 1", server.Helm("rollback", "sbx", "1", "-n", Ns, "--wait", "--timeout", "120s"));
        var status = JsonNode.Parse(Step("status", server.Helm("status", "sbx", "-n", Ns, "-o", "json")))!;
        Assert.Equal("deployed", (string)status["info"]!["status"]!);
        Assert.Equal(3, (int)status["version"]!);
        var revisions = await HelmReleaseReader.ListAsync(client, Ns, "sbx");
        Assert.Equal([(1, "superseded", "1.7.5"), (2, "superseded", "1.7.6"), (3, "deployed", "1.7.5")],
            revisions.Select(r => (r.Revision, r.Status, r.AppVersion)).ToArray());
        deployment = await client.AppsV1.ReadNamespacedDeploymentAsync("sbx-sandbox-server", Ns);
        Assert.Equal("127.0.0.1:5000/upgradeops/sandbox:1.7.5", deployment.Spec.Template.Spec.Containers[0].Image);

        // An interrupted helm leaves the newest revision pending-upgrade: helm then refuses any upgrade.
        var newest = (await HelmReleaseReader.ListSecretsAsync(client, Ns, "sbx")).Single(s => s.Metadata.Labels["version"] == "3");
        var pending = await HelmReleaseReader.SetStatusAsync(client, newest, "pending-upgrade");
        Assert.True(pending.IsPending);
        Assert.Equal("pending-upgrade", (await HelmReleaseReader.GetLatestAsync(client, Ns, "sbx"))!.Status);
        var refused = server.Helm("upgrade", "sbx", chart176, "-n", Ns, "--set", "image.tag=1.7.6", "--wait", "--timeout", "120s");
        output.WriteLine($"upgrade while pending-upgrade: exit {refused.ExitCode}: {refused.Error.Trim()}");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("another operation (install/upgrade/rollback) is in progress", refused.Error);

        // The same primitive puts it back (the repair itself belongs to the engine): helm upgrades again.
        newest = (await HelmReleaseReader.ListSecretsAsync(client, Ns, "sbx")).Single(s => s.Metadata.Labels["version"] == "3");
        await HelmReleaseReader.SetStatusAsync(client, newest, "deployed");
        Step("upgrade after repair", server.Helm("upgrade", "sbx", chart176, "-n", Ns, "--set", "image.tag=1.7.6", "--wait", "--timeout", "120s"));
        Assert.Equal((4, "deployed", "1.7.6"), await LatestAsync(client));

        Step("uninstall", server.Helm("uninstall", "sbx", "-n", Ns, "--wait", "--timeout", "120s"));
        Assert.Empty(await HelmReleaseReader.ListAsync(client, Ns, "sbx"));
        Assert.Empty((await client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items);

        // Timed for the log, never asserted: on a loaded CI machine the same scenario took more than 60 s.
        output.WriteLine($"whole scenario: {total.ElapsedMilliseconds} ms");

        string Step(string name, (int ExitCode, string Output, string Error) result)
        {
            output.WriteLine($"helm {name}: exit {result.ExitCode} at {total.ElapsedMilliseconds} ms");
            Assert.True(result.ExitCode == 0, $"helm {name} failed: {result.Error}{result.Output}");
            return result.Output;
        }
    }

    [Fact]
    public void Release_json_round_trips_through_helms_encoding()
    {
        var release = new JsonObject
        {
            ["name"] = "sbx", ["version"] = 7, ["namespace"] = Ns,
            ["info"] = new JsonObject { ["status"] = "deployed", ["last_deployed"] = "2026-01-02T03:04:05Z" },
            ["chart"] = new JsonObject { ["metadata"] = new JsonObject { ["name"] = "c", ["version"] = "0.3.0", ["appVersion"] = "1.7.6" } },
        };
        var secret = new k8s.Models.V1Secret
        {
            Metadata = new() { Name = "sh.helm.release.v1.sbx.v7", NamespaceProperty = Ns },
            Data = new Dictionary<string, byte[]> { ["release"] = HelmReleaseReader.EncodeReleaseJson(release) },
        };
        var decoded = HelmReleaseReader.FromSecret(secret);
        Assert.Equal(("sbx", 7, "deployed", "0.3.0", "1.7.6"), (decoded.Name, decoded.Revision, decoded.Status, decoded.ChartVersion, decoded.AppVersion));
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), decoded.LastDeployed);
        Assert.False(decoded.IsPending);
    }

    private static async Task<(int, string, string?)> LatestAsync(k8s.Kubernetes client)
    {
        var r = await HelmReleaseReader.GetLatestAsync(client, Ns, "sbx");
        return (r!.Revision, r.Status, r.AppVersion);
    }

    private static string CopyChart(string folder, string appVersion)
    {
        var target = Path.Combine(folder, $"chart-{appVersion}");
        foreach (var file in Directory.GetFiles(Chart, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(Chart, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        var chartYaml = Path.Combine(target, "Chart.yaml");
        File.WriteAllText(chartYaml, File.ReadAllText(chartYaml).Replace("appVersion: \"1.7.5\"", $"appVersion: \"{appVersion}\""));
        return target;
    }
}

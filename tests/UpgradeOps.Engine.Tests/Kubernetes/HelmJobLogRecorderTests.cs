using System.Text.Json.Nodes;
using k8s;
using UpgradeOps.Engine.Tests.Validation;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>
/// The migration Job's log recorder against a scripted pod API (a narrow fake: the pod list, the pod, its log). Shown on
/// the test API server and the real chart by HelmInfrahub.Tests; these pin the two ways a short Job's log was lost.
/// </summary>
public class HelmJobLogRecorderTests
{
    private const string Pod = "hv-sandbox-migrate-ab12c";

    [Fact]
    public async Task Follows_again_when_the_stream_ends_before_the_container_has_terminated()
    {
        var logReads = 0;
        var terminated = false;
        using var api = new ScriptedApi((_, path, _) =>
        {
            if (path.Contains("/log")) // the first stream is cut after one line while the container still runs
                return Interlocked.Increment(ref logReads) == 1 ? (200, "migrating 1.1.8 -> 1.2.0\n") : Finish(ref terminated);
            return (200, path.Contains($"/pods/{Pod}") ? PodJson(Volatile.Read(ref terminated)) : PodList(Volatile.Read(ref terminated)));
        });

        var output = await RecordUntilAsync(api, () => Volatile.Read(ref terminated));

        Assert.Equal("migrating 1.1.8 -> 1.2.0\nUpgrade cancelled due to migration failure\n", output);
    }

    [Fact]
    public async Task Tries_again_while_the_container_is_waiting_to_start()
    {
        var logReads = 0;
        var terminated = false;
        using var api = new ScriptedApi((_, path, _) =>
        {
            if (path.Contains("/log"))
                return Interlocked.Increment(ref logReads) <= 3
                    ? (400, """{"kind":"Status","status":"Failure","message":"container migrate is waiting to start: ContainerCreating","reason":"BadRequest","code":400}""")
                    : Finish(ref terminated);
            return (200, path.Contains($"/pods/{Pod}") ? PodJson(Volatile.Read(ref terminated)) : PodList(Volatile.Read(ref terminated)));
        });

        var output = await RecordUntilAsync(api, () => Volatile.Read(ref terminated));

        Assert.Equal("migrating 1.1.8 -> 1.2.0\nUpgrade cancelled due to migration failure\n", output);
        Assert.True(logReads >= 4);
    }

    /// <summary>The whole log of a container that has ended, and the pod says so from now on.</summary>
    private static (int, string) Finish(ref bool terminated)
    {
        Volatile.Write(ref terminated, true);
        return (200, "migrating 1.1.8 -> 1.2.0\nUpgrade cancelled due to migration failure\n");
    }

    private static async Task<string> RecordUntilAsync(ScriptedApi api, Func<bool> ended)
    {
        using var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = api.Root });
        var recorder = HelmJobLogRecorder.Start(client, "infrahub", "hv-sandbox-migrate", new SecretRedactor([]));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!ended() && DateTime.UtcNow < deadline) await Task.Delay(20);
        await recorder.DisposeAsync();
        return recorder.Output;
    }

    private static string PodJson(bool terminated) => PodObject(terminated).ToJsonString();

    private static string PodList(bool terminated) =>
        new JsonObject { ["kind"] = "PodList", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["items"] = new JsonArray(PodObject(terminated)) }.ToJsonString();

    private static JsonObject PodObject(bool terminated) => new()
    {
        ["kind"] = "Pod", ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject { ["name"] = Pod, ["namespace"] = "infrahub", ["labels"] = new JsonObject { ["job-name"] = "hv-sandbox-migrate" } },
        ["status"] = new JsonObject
        {
            ["containerStatuses"] = new JsonArray(new JsonObject
            {
                ["name"] = "migrate", ["ready"] = false, ["restartCount"] = 0, ["image"] = "x", ["imageID"] = "",
                ["state"] = terminated ? new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 0 } } : new JsonObject { ["running"] = new JsonObject() },
            }),
        },
    };
}

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
        var lists = 0;
        var terminated = false;
        using var api = new ScriptedApi((_, path, _) =>
        {
            if (path.Contains("/log")) // the first stream is cut after one line while the container still runs
                return Interlocked.Increment(ref logReads) == 1 ? (200, "migrating 1.1.8 -> 1.2.0\n") : Finish(ref terminated);
            return (200, path.Contains($"/pods/{Pod}") ? PodJson(Volatile.Read(ref terminated)) : PodList(Volatile.Read(ref terminated), Interlocked.Increment(ref lists) == 1));
        });

        var output = await RecordUntilAsync(api, () => Volatile.Read(ref terminated));

        Assert.Equal("migrating 1.1.8 -> 1.2.0\nUpgrade cancelled due to migration failure\n", output);
    }

    [Fact]
    public async Task Tries_again_while_the_container_is_waiting_to_start()
    {
        var logReads = 0;
        var lists = 0;
        var terminated = false;
        using var api = new ScriptedApi((_, path, _) =>
        {
            if (path.Contains("/log"))
                return Interlocked.Increment(ref logReads) <= 3
                    ? (400, """{"kind":"Status","status":"Failure","message":"container migrate is waiting to start: ContainerCreating","reason":"BadRequest","code":400}""")
                    : Finish(ref terminated);
            return (200, path.Contains($"/pods/{Pod}") ? PodJson(Volatile.Read(ref terminated)) : PodList(Volatile.Read(ref terminated), Interlocked.Increment(ref lists) == 1));
        });

        var output = await RecordUntilAsync(api, () => Volatile.Read(ref terminated));

        Assert.Equal("migrating 1.1.8 -> 1.2.0\nUpgrade cancelled due to migration failure\n", output);
        Assert.True(logReads >= 4);
    }

    [Fact]
    public async Task Leaves_out_the_pod_an_earlier_failed_Job_left_behind()
    {
        // A failed hook Job stays until helm replaces it: its pod is listed with the new one's for a while.
        const string Earlier = "hv-sandbox-migrate-old99";
        var lists = 0;
        var terminated = false;
        using var api = new ScriptedApi((_, path, _) =>
        {
            if (path.Contains($"/pods/{Earlier}/log")) return (200, "ERROR migration 1.7.7 failed: an earlier upgrade's failure\n");
            if (path.Contains("/log")) return Finish(ref terminated);
            if (path.Contains($"/pods/{Earlier}")) return (200, PodObject(true, Earlier, "uid-earlier").ToJsonString());
            if (path.Contains($"/pods/{Pod}")) return (200, PodJson(Volatile.Read(ref terminated)));
            var items = new JsonArray(PodObject(true, Earlier, "uid-earlier"));
            // The first list is the recorder's start, before helm runs: only the earlier Job's pod is there.
            if (Interlocked.Increment(ref lists) > 1) items.Add(PodObject(Volatile.Read(ref terminated)));
            return (200, new JsonObject { ["kind"] = "PodList", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["items"] = items }.ToJsonString());
        });

        var output = await RecordUntilAsync(api, () => Volatile.Read(ref terminated));

        Assert.Equal("migrating 1.1.8 -> 1.2.0\nUpgrade cancelled due to migration failure\n", output);
        Assert.DoesNotContain("earlier upgrade", output);
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
        var recorder = await HelmJobLogRecorder.StartAsync(client, "infrahub", "hv-sandbox-migrate", new SecretRedactor([]), default);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!ended() && DateTime.UtcNow < deadline) await Task.Delay(20);
        await recorder.DisposeAsync();
        return recorder.Output;
    }

    private static string PodJson(bool terminated) => PodObject(terminated).ToJsonString();

    /// <summary>The Job's pods; none at the first list, the recorder's start, before helm creates the Job.</summary>
    private static string PodList(bool terminated, bool beforeHelm) =>
        new JsonObject { ["kind"] = "PodList", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["items"] = beforeHelm ? new JsonArray() : new JsonArray(PodObject(terminated)) }.ToJsonString();

    private static JsonObject PodObject(bool terminated, string name = Pod, string uid = "uid-this-run") => new()
    {
        ["kind"] = "Pod", ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject { ["name"] = name, ["uid"] = uid, ["namespace"] = "infrahub", ["labels"] = new JsonObject { ["job-name"] = "hv-sandbox-migrate" } },
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

using System.Text.Json.Nodes;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// Discovery, container recreation and exec against newer Docker Engines than the Debian 20.10 (API 1.41) the
/// integration tests run on: a fake engine (<see cref="RecordedDockerEngine"/>) answers in the recorded shapes of API
/// 1.43 (Docker 24) to 1.51 (Docker 28.3), written from Docker's API reference (Compose/DockerApi/README.md says where
/// each field comes from). The engine code is pointed at it the way a user points it at an engine (-DockerHost), so the
/// client library reads the answers and sends the requests as it would to a real one. Recorded answers, not live engines:
/// what an engine does with a request (a create that it would refuse, a field it ignores) is not shown here.
/// </summary>
[Trait("Category", "DockerApi")]
public sealed class DockerApiVersionTests
{
    private const string ServerId = "4fa6e0f0c6786287e131c3852c58a2e01cc697a68231826813597e4994f1d6e2";
    private const string NewImage = "registry.opsmill.io/opsmill/infrahub:1.1.9";

    public static TheoryData<string> Versions => new() { "1.43", "1.44", "1.45", "1.46", "1.47", "1.48", "1.49", "1.50", "1.51" };

    private static bool AtLeast(string version, string minimum) => Version.Parse(version) >= Version.Parse(minimum);

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token;

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task The_client_sends_unversioned_requests_and_reads_version_and_info(string version)
    {
        using var fake = new RecordedDockerEngine(version);
        using var engine = await DockerEngine.ConnectAsync(fake.Endpoint, Timeout());

        var answered = await engine.Client.System.GetVersionAsync(Timeout());
        Assert.Equal(version, answered.APIVersion);
        var info = await engine.Client.System.GetSystemInfoAsync(Timeout());
        Assert.Equal("/var/lib/docker", info.DockerRootDir);
        Assert.Equal(fake.Recorded("version.json")["Version"]!.GetValue<string>(), info.ServerVersion);

        // No /v1.xx/ prefix: the engine answers in its own version, so Docker 29 (which refuses versions below 1.44) takes it too.
        Assert.All(fake.Requests, r => Assert.DoesNotMatch(@"^/v\d", r.Path));
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Discovery_describes_the_projects_containers(string version)
    {
        using var fake = new RecordedDockerEngine(version);
        var deployment = await ComposeDiscovery.DiscoverAsync(new ComposeDiscoveryRequest { ProjectName = "infrahub", DockerHost = fake.Endpoint },
            EngineContext.Silent(Timeout()));

        Assert.Equal(["cache", "database", "infrahub-server", "message-queue"], deployment.Services.Select(s => s.Name));
        Assert.All(deployment.Services, s =>
        {
            var container = Assert.Single(s.Containers);
            Assert.Equal("running", container.State);
            Assert.Equal("healthy", container.Health);
            Assert.True(s.Healthy);
        });
        var server = deployment.Services.Single(s => s.Name == "infrahub-server");
        Assert.Equal("registry.opsmill.io/opsmill/infrahub:1.1.8", server.Image);
        Assert.Equal(ServerId, server.Containers[0].Id);
        Assert.Equal("infrahub-infrahub-server-1", server.Containers[0].Name);
        Assert.Equal("1.1.8", deployment.RunningVersion);
        Assert.Equal("http://127.0.0.1:8000", deployment.ApiEndpoint);
        Assert.Equal(fake.Endpoint, deployment.Endpoint);
        // The containers' compose file is not on this machine: said, and the deployment described from the containers.
        Assert.Contains(deployment.Warnings, w => w.Contains("not readable here", StringComparison.Ordinal));

        // The label filter went to the engine, and the wait for health reads the same answers.
        var list = Assert.Single(fake.Asked("GET", "^/containers/json$"));
        Assert.Contains("com.docker.compose.project=infrahub", list.Query);
        using var engine = await DockerEngine.ConnectAsync(fake.Endpoint, Timeout());
        await ComposeHealth.WaitHealthyAsync(engine, "infrahub", TimeSpan.FromSeconds(5), Timeout());
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_recreated_container_keeps_every_setting_of_the_old_one(string version)
    {
        using var fake = new RecordedDockerEngine(version);
        using var engine = await DockerEngine.ConnectAsync(fake.Endpoint, Timeout());
        var replaced = await ContainerRecreator.ReplaceAsync(engine.Client, ServerId, NewImage, TimeSpan.FromSeconds(30), Timeout());

        Assert.Equal("infrahub-infrahub-server-1", replaced.Name);
        Assert.Equal("infrahub-infrahub-server-1-upgradeops-previous", replaced.PreviousName);
        Assert.Contains("t=30", Assert.Single(fake.Asked("POST", $"^/containers/{ServerId}/stop$")).Query);
        Assert.Contains("name=infrahub-infrahub-server-1-upgradeops-previous", Assert.Single(fake.Asked("POST", $"^/containers/{ServerId}/rename$")).Query);
        Assert.Single(fake.Asked("POST", $"^/containers/{replaced.NewId}/start$"));

        var create = Assert.Single(fake.Asked("POST", "^/containers/create$"));
        Assert.Contains("name=infrahub-infrahub-server-1", create.Query);
        var sent = create.Json;
        var old = fake.Recorded("container-infrahub-server.json");

        // Every host setting of the old container, the newer API's included (Annotations 1.43, BindOptions.ReadOnlyNonRecursive
        // 1.44, VolumeOptions.Subpath 1.45, TmpfsOptions.Options 1.46, a mount of Type image 1.48), reaches the create request.
        var lost = new List<string>();
        Carried(old["HostConfig"], sent["HostConfig"], "HostConfig", lost);
        Assert.Empty(lost);

        // The container's own configuration; what equals the old image's is left for the new image to supply.
        Assert.Equal(NewImage, sent["Image"]!.GetValue<string>());
        Assert.Equal(["INFRAHUB_ADDRESS=http://infrahub-server:8000", "INFRAHUB_DB_ADDRESS=database", "INFRAHUB_SECURITY_SECRET_KEY=327f747f-efac-42be-9e73-999f08f86b92"],
            sent["Env"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(["infrahub", "server", "start", "--workers", "4"], sent["Cmd"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(30, sent["StopTimeout"]!.GetValue<long>());
        Assert.Equal("infrahub-server", sent["Labels"]!["com.docker.compose.service"]!.GetValue<string>());
        Assert.Null(sent["Labels"]!["org.opencontainers.image.version"]);
        if (AtLeast(version, "1.44"))
        {
            // The compose file's start_interval (API 1.44) is the only difference from the image's healthcheck: it must be sent.
            var lostHealthcheck = new List<string>();
            Carried(old["Config"]!["Healthcheck"], sent["Healthcheck"], "Healthcheck", lostHealthcheck);
            Assert.Empty(lostHealthcheck);
            Assert.Equal(1_000_000_000L, sent["Healthcheck"]!["StartInterval"]!.GetValue<long>());
        }
        else
        {
            // The same as the image's: not sent, so the new image's own applies.
            Assert.Null(sent["Healthcheck"]);
        }

        // The network it is created on, as configured: aliases without the old id, the gateway priority (API 1.48); no runtime state.
        var endpoints = sent["NetworkingConfig"]!["EndpointsConfig"]!.AsObject();
        var primary = Assert.Single(endpoints);
        Assert.Equal("infrahub_default", primary.Key);
        Assert.Equal(["infrahub-infrahub-server-1", "infrahub-server"], primary.Value!["Aliases"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal(AtLeast(version, "1.48") ? 10 : 0, primary.Value["GwPriority"]?.GetValue<int>() ?? 0);
        foreach (var runtime in new[] { "IPAddress", "NetworkID", "EndpointID", "Gateway", "MacAddress", "DNSNames" })
            Assert.True(IsEmpty(primary.Value[runtime]), $"{runtime} was sent: {primary.Value[runtime]?.ToJsonString()}");

        // The other network is connected before the start, with its static address, driver options (API 1.46) and priority.
        var connect = Assert.Single(fake.Asked("POST", "^/networks/infrahub_backend/connect$")).Json;
        Assert.Equal(replaced.NewId, connect["Container"]!.GetValue<string>());
        var secondary = connect["EndpointConfig"]!;
        Assert.Equal("172.19.0.5", secondary["IPAMConfig"]!["IPv4Address"]!.GetValue<string>());
        Assert.Equal(AtLeast(version, "1.48") ? 5 : 0, secondary["GwPriority"]?.GetValue<int>() ?? 0);
        if (AtLeast(version, "1.46"))
            Assert.Equal("net.ipv4.conf.IFNAME.log_martians=1", secondary["DriverOpts"]!["com.docker.network.endpoint.sysctls"]!.GetValue<string>());
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_exec_returns_its_output_and_exit_code_over_the_socket(string version) => await ExecAsync(version, unixSocket: true);

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_exec_returns_its_output_and_exit_code_over_tcp(string version) => await ExecAsync(version, unixSocket: false);

    private static async Task ExecAsync(string version, bool unixSocket)
    {
        using var fake = new RecordedDockerEngine(version, unixSocket);
        using var engine = await DockerEngine.ConnectAsync(fake.Endpoint, Timeout());
        var result = await DockerExec.RunAsync(engine.Client, ServerId, ["sh", "-c", "echo infrahub 1.1.8; echo migrations pending >&2; exit 3"],
            Timeout(), environment: ["INFRAHUB_LOG_LEVEL=debug"]);

        Assert.Equal(3L, result.ExitCode);
        Assert.Equal(RecordedDockerEngine.ExecStdout, result.StandardOutputText);
        Assert.Equal(RecordedDockerEngine.ExecStderr, result.StandardError);
        var created = Assert.Single(fake.Asked("POST", $"^/containers/{ServerId}/exec$")).Json;
        Assert.Equal(["sh", "-c", "echo infrahub 1.1.8; echo migrations pending >&2; exit 3"], created["Cmd"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(["INFRAHUB_LOG_LEVEL=debug"], created["Env"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.All(fake.Requests, r => Assert.DoesNotMatch(@"^/v\d", r.Path));
    }

    /// <summary>
    /// An engine newer than any recorded one adds fields this client does not know, at every level of the answers it
    /// reads: they are skipped, and discovery, recreation and exec work as on 1.51.
    /// </summary>
    [Fact]
    public async Task Fields_the_client_does_not_know_break_nothing()
    {
        using var fake = new RecordedDockerEngine("1.51") { Alter = (_, answer) => AddUnknownFields(answer) };

        var deployment = await ComposeDiscovery.DiscoverAsync(new ComposeDiscoveryRequest { ProjectName = "infrahub", DockerHost = fake.Endpoint },
            EngineContext.Silent(Timeout()));
        Assert.Equal("1.1.8", deployment.RunningVersion);
        Assert.All(deployment.Services, s => Assert.True(s.Healthy));

        using var engine = await DockerEngine.ConnectAsync(fake.Endpoint, Timeout());
        await engine.Client.System.GetSystemInfoAsync(Timeout());
        await engine.Client.System.GetVersionAsync(Timeout());
        await ContainerRecreator.ReplaceAsync(engine.Client, ServerId, NewImage, TimeSpan.FromSeconds(30), Timeout());
        var sent = Assert.Single(fake.Asked("POST", "^/containers/create$")).Json;
        Assert.Equal(10, sent["NetworkingConfig"]!["EndpointsConfig"]!["infrahub_default"]!["GwPriority"]!.GetValue<int>());
        // An unknown field is not carried into the request: the client has nowhere to keep it.
        Assert.DoesNotContain("FutureField", sent.ToJsonString(), StringComparison.Ordinal);

        var result = await DockerExec.RunAsync(engine.Client, ServerId, ["true"], Timeout());
        Assert.Equal(3L, result.ExitCode);
    }

    /// <summary>Objects that are maps (labels, networks, ports...) get no field: a new key there is data, not a new field.</summary>
    private static readonly HashSet<string> Maps = new(StringComparer.Ordinal)
    {
        "Labels", "Networks", "ExposedPorts", "Volumes", "PortBindings", "Ports", "Sysctls", "DriverOpts", "Annotations", "Config", "Data",
        "Plugins", "Runtimes", "IndexConfigs", "status", "StorageOpt", "Tmpfs", "Options", "Details",
    };

    private static void AddUnknownFields(JsonNode node, string? name = null)
    {
        switch (node)
        {
            case JsonObject map when name is not null && Maps.Contains(name) && !(name == "Config" && map.ContainsKey("Env")):
                foreach (var (key, value) in map.ToList())
                    if (value is not null) AddUnknownFields(value, key);
                break;
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                    if (value is not null) AddUnknownFields(value, key);
                obj["FutureField"] = new JsonObject { ["Nested"] = new JsonArray(1, "two", true, null), ["At"] = "2030-01-01T00:00:00Z" };
                obj["FutureCount"] = 1L << 40;
                break;
            case JsonArray array:
                foreach (var item in array)
                    if (item is not null) AddUnknownFields(item, name);
                break;
        }
    }

    /// <summary>
    /// Whether a setting of the old container (non-empty) reached the request with the same value; "empty" (null, false,
    /// 0, "", [], {}) means the Engine's default, the same whether sent or not.
    /// </summary>
    private static void Carried(JsonNode? expected, JsonNode? actual, string path, List<string> lost)
    {
        if (IsEmpty(expected)) return;
        switch (expected)
        {
            case JsonObject obj:
                if (actual is not JsonObject sent) { lost.Add($"{path} (not sent)"); return; }
                foreach (var (key, value) in obj) Carried(value, sent[key], $"{path}.{key}", lost);
                break;
            case JsonArray array:
                if (actual is not JsonArray items || items.Count != array.Count) { lost.Add($"{path}: {expected.ToJsonString()} sent as {actual?.ToJsonString() ?? "nothing"}"); return; }
                for (var i = 0; i < array.Count; i++) Carried(array[i], items[i], $"{path}[{i}]", lost);
                break;
            default:
                if (actual is null || !SameValue((JsonValue)expected!, actual)) lost.Add($"{path}: {expected!.ToJsonString()} sent as {actual?.ToJsonString() ?? "nothing"}");
                break;
        }
    }

    private static bool SameValue(JsonValue expected, JsonNode actual) =>
        expected.GetValueKind() == System.Text.Json.JsonValueKind.Number && actual.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? expected.GetValue<decimal>() == actual.GetValue<decimal>()
            : expected.ToJsonString() == actual.ToJsonString();

    private static bool IsEmpty(JsonNode? node) => node switch
    {
        null => true,
        JsonObject obj => obj.All(p => IsEmpty(p.Value)),
        JsonArray array => array.All(IsEmpty),
        JsonValue value => value.GetValueKind() switch
        {
            System.Text.Json.JsonValueKind.False => true,
            System.Text.Json.JsonValueKind.Number => value.GetValue<decimal>() == 0,
            System.Text.Json.JsonValueKind.String => value.GetValue<string>().Length == 0,
            _ => false,
        },
        _ => false,
    };
}

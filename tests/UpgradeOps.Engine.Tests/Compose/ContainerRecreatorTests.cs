using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// Against the real Docker Engine and the sandbox images (the test task builds them first): a container with
/// aliases on two networks, a published port, a volume, environment, labels, healthcheck, restart policy,
/// user and command is recreated on another image, and everything but the image, ids and timestamps
/// survives. The networks are --internal on a link-local subnet: nothing is ever sent over them.
/// </summary>
[Trait("Category", "Docker")]
public sealed class ContainerRecreatorTests : IAsyncLifetime
{
    private const string OldImage = "127.0.0.1:5000/upgradeops/sandbox:1.7.5";
    private const string NewImage = "127.0.0.1:5000/upgradeops/sandbox:1.7.6";
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private DockerClient _client = null!;
    private readonly List<string> _containers = new();
    private readonly List<string> _networks = new();
    private string Volume => $"upgradeops-recreate-{_suffix}";

    public async Task InitializeAsync()
    {
        _client = new DockerClientBuilder().Build();
        for (var i = 0; i < 2; i++)
        {
            var network = await _client.Networks.CreateNetworkAsync(new NetworksCreateParameters
            {
                Name = $"upgradeops-recreate-{_suffix}-{i}",
                Internal = true,
                IPAM = new IPAM { Config = new List<IPAMConfig> { new() { Subnet = $"169.254.{77 + i}.0/24" } } },
            });
            _networks.Add(network.ID);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var id in _containers)
            try { await _client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }); } catch (DockerContainerNotFoundException) { }
        foreach (var id in _networks) await _client.Networks.DeleteNetworkAsync(id);
        try { await _client.Volumes.RemoveAsync(Volume, force: true); } catch (DockerApiException) { }
        _client.Dispose();
    }

    [Fact]
    public async Task Recreation_keeps_everything_but_the_image()
    {
        var created = await _client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = $"upgradeops-recreate-{_suffix}",
            Image = OldImage,
            Cmd = new List<string> { "sleep", "600" },
            User = "nobody",
            Env = new List<string> { "APP_SETTING=kept", "SECOND=2" },
            Labels = new Dictionary<string, string> { ["com.docker.compose.project"] = "recreate-test", ["com.docker.compose.service"] = "probe", ["custom"] = "yes" },
            Healthcheck = new HealthcheckConfig { Test = new List<string> { "CMD", "true" }, Interval = TimeSpan.FromSeconds(7), Retries = 4 },
            ExposedPorts = new Dictionary<string, EmptyStruct> { ["8080/tcp"] = default },
            HostConfig = new HostConfig
            {
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.UnlessStopped },
                PortBindings = new Dictionary<string, IList<PortBinding>> { ["8080/tcp"] = new List<PortBinding> { new() { HostIP = "127.0.0.1", HostPort = "58999" } } },
                Mounts = new List<Mount> { new() { Type = "volume", Source = Volume, Target = "/data" } },
                NetworkMode = $"upgradeops-recreate-{_suffix}-0",
            },
            NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [$"upgradeops-recreate-{_suffix}-0"] = new() { Aliases = new List<string> { "probe-alias", "second-alias" } } },
            },
        });
        _containers.Add(created.ID);
        await _client.Networks.ConnectNetworkAsync($"upgradeops-recreate-{_suffix}-1",
            new NetworkConnectParameters { Container = created.ID, EndpointConfig = new EndpointSettings { Aliases = new List<string> { "other-alias" } } });
        await _client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
        var before = await _client.Containers.InspectContainerAsync(created.ID);

        var replaced = await ContainerRecreator.ReplaceAsync(_client, created.ID, NewImage, TimeSpan.FromSeconds(5), CancellationToken.None);
        _containers.Add(replaced.NewId);
        var after = await _client.Containers.InspectContainerAsync(replaced.NewId);
        Assert.NotNull(after.Config);
        Assert.NotNull(after.State);

        Assert.Equal(NewImage, after.Config.Image);
        Assert.NotEqual(before.Image, after.Image);
        Assert.Equal(before.Name, after.Name);
        Assert.True(after.State.Running);
        Assert.Equal(Comparable(before), Comparable(after));

        // The old container waits, stopped, under another name until the replacement is proven.
        var previous = await _client.Containers.InspectContainerAsync(replaced.PreviousId);
        Assert.Equal($"/upgradeops-recreate-{_suffix}{ContainerRecreator.PreviousSuffix}", previous.Name);
        Assert.NotNull(previous.State);
        Assert.False(previous.State.Running);

        await ContainerRecreator.RevertAsync(_client, replaced, start: true);
        var reverted = await _client.Containers.InspectContainerAsync(created.ID);
        Assert.Equal(before.Name, reverted.Name);
        Assert.NotNull(reverted.State);
        Assert.True(reverted.State.Running);
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => _client.Containers.InspectContainerAsync(replaced.NewId));
    }

    /// <summary>The inspect output minus image, ids, timestamps, runtime state and what the image itself contributes.</summary>
    private static string Comparable(ContainerInspectResponse inspect)
    {
        Assert.NotNull(inspect.Config);
        Assert.NotNull(inspect.NetworkSettings);
        var labels = inspect.Config.Labels.Where(l => !l.Key.StartsWith("org.opencontainers.", StringComparison.Ordinal) && !l.Key.StartsWith("upgradeops.sandbox.", StringComparison.Ordinal))
            .OrderBy(l => l.Key).ToDictionary(l => l.Key, l => l.Value);
        var networks = inspect.NetworkSettings.Networks.OrderBy(n => n.Key).ToDictionary(n => n.Key,
            n => (n.Value.Aliases ?? new List<string>()).Where(a => !inspect.ID.StartsWith(a, StringComparison.Ordinal)).Order().ToList());
        return JsonSerializer.Serialize(new
        {
            inspect.Config.User, Env = inspect.Config.Env.Order().ToList(), inspect.Config.Cmd, inspect.Config.Entrypoint, inspect.Config.WorkingDir,
            inspect.Config.Healthcheck, ExposedPorts = inspect.Config.ExposedPorts?.Keys.Order().ToList(), Labels = labels,
            HostConfig = JsonSerializer.Serialize(inspect.HostConfig),
            Mounts = inspect.Mounts.Select(m => $"{m.Type}:{m.Name}:{m.Destination}:{m.RW}").Order().ToList(),
            Networks = networks,
        });
    }
}

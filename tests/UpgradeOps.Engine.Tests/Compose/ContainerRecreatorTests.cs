using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// Against the real Docker Engine and the sandbox images (the test task builds them first): a container with a
/// published port, a volume, environment, labels, healthcheck, restart policy, user and command is recreated on
/// another image, and everything but the image, ids and timestamps survives. No Docker network is created here
/// (the project's rule): the container has none, and what becomes of a container's networks and aliases is checked
/// on an inspect answer that names them, through the same code that builds the replacement's request.
/// </summary>
[Trait("Category", "Docker")]
public sealed class ContainerRecreatorTests : IAsyncLifetime
{
    private const string OldImage = "127.0.0.1:5000/upgradeops/sandbox:1.7.5";
    private const string NewImage = "127.0.0.1:5000/upgradeops/sandbox:1.7.6";
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private DockerClient _client = null!;
    private readonly List<string> _containers = new();
    private string Volume => $"upgradeops-recreate-{_suffix}";

    public Task InitializeAsync()
    {
        _client = new DockerClientBuilder().Build();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var id in _containers)
            try { await _client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }); } catch (DockerContainerNotFoundException) { }
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
                NetworkMode = "none",
            },
        });
        _containers.Add(created.ID);
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

    [Fact]
    public async Task Networks_keep_their_aliases_but_the_old_id_the_first_at_creation_the_others_connected_before_the_start()
    {
        // An inspect answer of a container on two Compose networks (not created: nothing is run here).
        var image = await _client.Images.InspectImageAsync(OldImage);
        var id = "0123456789ab" + new string('c', 52);
        var current = new ContainerInspectResponse
        {
            ID = id, Name = "/probe", Image = image.ID,
            Config = new ContainerConfig { Image = OldImage, Hostname = id[..12], Env = new List<string>(), Labels = new Dictionary<string, string>() },
            HostConfig = new HostConfig { NetworkMode = "app_back" },
            NetworkSettings = new NetworkSettings
            {
                Networks = new Dictionary<string, EndpointSettings>
                {
                    ["app_front"] = new() { Aliases = new List<string> { "other-alias", id[..12] }, MacAddress = "02:42:a9:fe:4e:02", IPAddress = "169.254.78.2" },
                    ["app_back"] = new() { Aliases = new List<string> { "probe-alias", "second-alias", id[..12] }, Links = new List<string> { "db:database" } },
                },
            },
        };
        var request = await ContainerRecreator.BuildAsync(_client, current, NewImage, CancellationToken.None);
        Assert.NotNull(request.NetworkingConfig);
        var created = Assert.Single(request.NetworkingConfig.EndpointsConfig);
        Assert.Equal("app_back", created.Key);
        Assert.Equal(["probe-alias", "second-alias"], created.Value.Aliases);
        Assert.Equal(["db:database"], created.Value.Links);
        Assert.Null(request.Hostname);

        var connected = Assert.Single(ContainerRecreator.SecondaryEndpoints(current));
        Assert.Equal("app_front", connected.Key);
        Assert.Equal(["other-alias"], connected.Value.Aliases);
        Assert.True(string.IsNullOrEmpty(connected.Value.MacAddress), "a MAC address of the old container is not carried over");
        Assert.True(string.IsNullOrEmpty(connected.Value.IPAddress), "nor its runtime address");

        current.HostConfig.NetworkMode = "host";
        Assert.Null((await ContainerRecreator.BuildAsync(_client, current, NewImage, CancellationToken.None)).NetworkingConfig);
        Assert.Empty(ContainerRecreator.SecondaryEndpoints(current));
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

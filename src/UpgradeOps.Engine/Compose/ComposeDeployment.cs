using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Compose;
using UpgradeOps.Profiles;

using UpgradeOps.Backups;

namespace UpgradeOps.Compose;

/// <summary>
/// What a Compose deployment offers a backup or a restore: its profile, compose file, the Docker Engine,
/// its containers, and the container that holds each data store.
/// </summary>
internal sealed class ComposeDeployment : IDataStoreHost
{
    private ComposeDeployment(Deployment deployment, ProductProfile profile, ComposeFile file, DockerEngine engine,
        IList<ContainerListResponse> containers)
    {
        Deployment = deployment;
        Profile = profile;
        File = file;
        Engine = engine;
        Containers = containers;
    }

    public Deployment Deployment { get; }
    public ProductProfile Profile { get; }
    public ComposeFile File { get; }
    public DockerEngine Engine { get; }
    public IList<ContainerListResponse> Containers { get; private set; }

    public static async Task<ComposeDeployment> OpenAsync(Deployment deployment, CancellationToken ct)
    {
        var (profile, file) = ReadLocal(deployment);
        var engine = await DockerEngine.ConnectAsync(deployment.Endpoint, ct).ConfigureAwait(false);
        var containers = await ComposeDiscovery.ListProjectContainersAsync(engine, deployment.Name, ct).ConfigureAwait(false);
        return new ComposeDeployment(deployment, profile, file, engine, containers);
    }

    /// <summary>
    /// The deployment's own files, read before the Docker Engine is asked anything (so their faults are not reported as the
    /// engine's): its profile and its compose file.
    /// </summary>
    public static (ProductProfile Profile, ComposeFile File) ReadLocal(Deployment deployment)
    {
        if (deployment.Platform != DeploymentPlatform.Compose || deployment.Location is null)
            throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, deployment.Name,
                $"Deployment '{deployment.Name}' is not a Compose deployment with a known compose file. Get it again with Get-UpgradeDeployment -ComposeFile.");
        return (ProfileLoader.Load(deployment.Profile), ComposeFile.Load(deployment.Location));
    }

    public async Task RefreshAsync(CancellationToken ct) =>
        Containers = await ComposeDiscovery.ListProjectContainersAsync(Engine, Deployment.Name, ct).ConfigureAwait(false);

    public IEnumerable<ContainerListResponse> ContainersOf(string service) =>
        Containers.Where(c => c.Labels.TryGetValue(ComposeDiscovery.ServiceLabel, out var s) && s == ComposeName(service));

    public string ComposeName(string service) => ComposeRestorePlan.ComposeName(Profile, service);

    /// <summary>The running container of a data store's service, inspected.</summary>
    public async Task<ContainerInspectResponse> RunningContainerAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var container = ContainersOf(store.Service!).FirstOrDefault(c => c.State == "running")
            ?? throw new UpgradeOpsException("DataStoreNotRunning", ErrorKind.ResourceUnavailable, store.Name,
                $"Data store '{store.Name}' needs its service '{ComposeName(store.Service!)}' running, and no container of it is. Start it ('docker compose up -d {ComposeName(store.Service!)}') and try again.");
        return await Engine.Client.Containers.InspectContainerAsync(container.ID, ct).ConfigureAwait(false);
    }

    /// <summary>The PostgreSQL of a data store, in its running container.</summary>
    public async Task<PostgresTarget> PostgresAsync(DataStoreDefinition store, CancellationToken ct) =>
        ComposePostgres.Of(Engine, store, await RunningContainerAsync(store, ct).ConfigureAwait(false));

    /// <summary>The Neo4j of a data store, in its running container.</summary>
    public async Task<Neo4jTarget> Neo4jAsync(DataStoreDefinition store, ILogger log, CancellationToken ct) =>
        ComposeNeo4j.Of(Engine, store, await RunningContainerAsync(store, ct).ConfigureAwait(false), log);

    /// <summary>The label key that says why UpgradeOps made a short-lived container (and its volume): neo4j-restore-test, volume-restore.</summary>
    public const string PurposeLabel = "org.upgradeops.purpose";

    /// <summary>
    /// The restore test's scratch container for a Neo4j data store: the live database container's image (by id, so nothing is
    /// pulled) and environment without NEO4J_AUTH, an anonymous volume at /data that is removed with it, no network, and
    /// sleep instead of the image's entrypoint, so its server never starts and binds nothing: only neo4j-admin runs in it.
    /// </summary>
    public async Task<Neo4jScratch?> Neo4jScratchAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var live = await RunningContainerAsync(store, ct).ConfigureAwait(false);
        var environment = (DockerModels.ConfigOf(live).Env ?? new List<string>()).Where(e => !e.StartsWith("NEO4J_AUTH=", StringComparison.Ordinal)).ToList();
        // The volume carries the container's label too: a leftover one (the engine gone before the removal) is findable by it.
        var labels = new Dictionary<string, string> { [PurposeLabel] = "neo4j-restore-test" };
        var created = await Engine.Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = live.Image,
            Name = $"{Deployment.Name}-upgradeops-neo4j-verify-{Guid.NewGuid():N}",
            Entrypoint = new List<string> { "sleep" },
            Cmd = new List<string> { "3600" },
            Env = environment,
            Labels = labels,
            HostConfig = new HostConfig
            {
                NetworkMode = "none",
                Mounts = new List<Mount> { new() { Type = "volume", Target = "/data", VolumeOptions = new VolumeOptions { Labels = labels } } },
            },
        }, ct).ConfigureAwait(false);
        async Task RemoveAsync() =>
            await Engine.RemoveOneOffAsync(created.ID, CancellationToken.None).ConfigureAwait(false);
        try
        {
            await Engine.Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
        }
        catch
        {
            await RemoveAsync().ConfigureAwait(false);
            throw;
        }
        return new Neo4jScratch(new DockerContainerExec(Engine.Client, created.ID, Array.Empty<string>()),
            "a scratch container of the database's image (a volume of its own, no network, its server not started)", RemoveAsync);
    }

    /// <summary>The Docker volume behind a compose volume name, and a container (running or not) that mounts it.</summary>
    public async Task<(string VolumeName, string ContainerId, string MountPath, string Image)> VolumeAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var volumes = await Engine.Client.Volumes.ListAsync(new VolumesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool>
                {
                    [$"{ComposeDiscovery.ProjectLabel}={Deployment.Name}"] = true,
                    [$"com.docker.compose.volume={store.Volume}"] = true,
                },
            },
        }, ct).ConfigureAwait(false);
        var volumeName = volumes.Volumes?.FirstOrDefault()?.Name ?? $"{Deployment.Name}_{store.Volume}";

        foreach (var container in Containers.OrderByDescending(c => c.State == "running"))
        {
            var mount = container.Mounts?.FirstOrDefault(m => m.Type == "volume" && m.Name == volumeName);
            if (mount is not null) return (volumeName, container.ID, mount.Destination, container.Image);
        }
        throw new UpgradeOpsException("BackupVolumeNotFound", ErrorKind.ObjectNotFound, store.Name,
            $"No container of project '{Deployment.Name}' mounts volume '{volumeName}' (data store '{store.Name}'). Check the profile's volume name against the compose file's volumes.");
    }

    /// <summary>Containers that write data: workers always, the API too when a data store must be backed up offline.</summary>
    public IReadOnlyList<ContainerListResponse> Writers(bool stopped = false) => ComposeBackupPlan.Writers(Profile, Containers, stopped);

    /// <summary>When each container of a data store's service last started, to tell afterwards whether it restarted.</summary>
    public async Task<Dictionary<string, string>> StartTimesAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var times = new Dictionary<string, string>();
        foreach (var container in ContainersOf(store.Service!))
            times[container.ID] = DockerModels.StateOf(await Engine.Client.Containers.InspectContainerAsync(container.ID, ct).ConfigureAwait(false)).StartedAt ?? "";
        return times;
    }

    /// <summary>
    /// After a Neo4j server was held stopped and resumed, it ends its shutdown and its container's restart policy brings the
    /// container back: waits until it has restarted (a container left exited is started here; one that never went away is
    /// accepted after half a minute) and is healthy, so the application does not start against a database about to go.
    /// </summary>
    public async Task BringBackAsync(IReadOnlyDictionary<string, string> startedBefore, TimeSpan timeout, CancellationToken ct)
    {
        foreach (var (id, started) in startedBefore)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            DateTime? exitedSince = null;
            while (DateTime.UtcNow < deadline)
            {
                var state = DockerModels.StateOf(await Engine.Client.Containers.InspectContainerAsync(id, ct).ConfigureAwait(false));
                if (state.Running && state.StartedAt != started && !state.Restarting) break;
                // Its exit was this operation's own: Docker's growing restart delay is not waited out.
                if (state.Restarting && await Engine.RestartIfHeldBackAsync(id, ct).ConfigureAwait(false)) break;
                if (!state.Running && !state.Restarting)
                {
                    exitedSince ??= DateTime.UtcNow;
                    // The restart policy restarts at once; a container still exited after a few seconds has none.
                    if (DateTime.UtcNow - exitedSince > TimeSpan.FromSeconds(3))
                    {
                        await Engine.Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct).ConfigureAwait(false);
                        break;
                    }
                }
                await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
            }
        }
        await ComposeHealth.WaitHealthyAsync(Engine, Deployment.Name, timeout, ct, startedBefore.Keys.ToList()).ConfigureAwait(false);
    }

    public void Dispose() => Engine.Dispose();
}

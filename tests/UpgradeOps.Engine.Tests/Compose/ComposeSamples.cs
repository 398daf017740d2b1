using Docker.DotNet.Models;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// An Infrahub-shaped profile and the containers the Docker Engine would list for it, for the plan tests: two API
/// replicas (compose service "server" for the profile's "api"), two workers, a task manager, its PostgreSQL, a cache,
/// a queue and a load balancer. Only "api" and "worker" run the product's image.
/// </summary>
internal static class ComposeSamples
{
    public const string Project = "prod";
    public const string OldImage = "registry.local/app:1.7.5";
    public const string NewImage = "registry.local/app:1.7.6";

    public static ProductProfile Profile(bool offlineStore = false) => new()
    {
        Name = "sample",
        Services =
        {
            new ServiceDefinition { Name = "api", ComposeService = "server", Role = ServiceRole.Api, ProductImage = true },
            new ServiceDefinition { Name = "worker", Role = ServiceRole.Worker, ProductImage = true },
            new ServiceDefinition { Name = "task-manager", Role = ServiceRole.TaskManager },
            new ServiceDefinition { Name = "task-manager-db", Role = ServiceRole.Database },
            new ServiceDefinition { Name = "cache", Role = ServiceRole.Cache },
            new ServiceDefinition { Name = "queue", Role = ServiceRole.Queue },
            new ServiceDefinition { Name = "lb", Role = ServiceRole.LoadBalancer },
        },
        DataStores =
        {
            new DataStoreDefinition { Name = "prefect", Kind = DataStoreKind.Postgres, Service = "task-manager-db", Database = "prefect", Offline = offlineStore },
            new DataStoreDefinition { Name = "artifacts", Kind = DataStoreKind.Volume, Volume = "storage_data" },
        },
    };

    public static ContainerListResponse Container(string name, string service, string image = OldImage, string? imageId = null, string state = "running") => new()
    {
        ID = "id-" + name,
        Names = new List<string> { "/" + name },
        Image = image,
        ImageID = imageId ?? "sha256:" + image.Split(':').Last(),
        State = state,
        Labels = new Dictionary<string, string> { ["com.docker.compose.project"] = Project, ["com.docker.compose.service"] = service },
    };

    /// <summary>The deployment as it runs before an upgrade, all containers running.</summary>
    public static List<ContainerListResponse> Containers() => new()
    {
        Container("prod-server-2", "server"),
        Container("prod-server-1", "server"),
        Container("prod-worker-1", "worker"),
        Container("prod-worker-2", "worker"),
        Container("prod-task-manager-1", "task-manager", "prefecthq/prefect:3"),
        Container("prod-task-manager-db-1", "task-manager-db", "postgres:16"),
        Container("prod-cache-1", "cache", "redis:7"),
        Container("prod-queue-1", "queue", "rabbitmq:3"),
        Container("prod-lb-1", "lb", "haproxy:2"),
    };

    public static IEnumerable<string> Names(IEnumerable<ContainerListResponse> containers) => containers.Select(c => c.Names[0].TrimStart('/'));

    public static PreviousContainer Previous(string name, string service, string image = OldImage, string? imageId = null) =>
        new() { Name = name, Service = service, Image = image, ImageId = imageId ?? "sha256:" + image.Split(':').Last() };

    public static UpgradeResult Result(string id, string from = "1.7.5", string to = "1.7.6", string? backupPath = "/backups/b1",
        UpgradeStatus status = UpgradeStatus.Failed) =>
        new() { Id = id, DeploymentName = Project, From = from, To = to, BackupPath = backupPath, Status = status };

    public static Deployment Deployment(string? version = "1.7.5") =>
        new() { Name = Project, Platform = DeploymentPlatform.Compose, Profile = "sample", Version = version };

    public static UpgradePath Path(params string[] versions) => new()
    {
        From = versions[0], To = versions[^1], IsSupported = true, Reason = "test",
        Steps = versions.Zip(versions.Skip(1)).Select(p => new UpgradeStep { From = p.First, To = p.Second, Kind = UpgradeKind.Minor }).ToList(),
    };
}

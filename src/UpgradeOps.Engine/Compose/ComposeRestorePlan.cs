using Docker.DotNet.Models;
using UpgradeOps.Backups;
using UpgradeOps.Profiles;

namespace UpgradeOps.Compose;

/// <summary>
/// The decisions of a restore onto a Compose deployment, apart from the Docker Engine that carries them out
/// (ComposeRestore): which containers stop, in which order the components are restored, and what -WhatIf says.
/// </summary>
internal static class ComposeRestorePlan
{
    private static readonly HashSet<ServiceRole> ApplicationRoles = new() { ServiceRole.Api, ServiceRole.Worker, ServiceRole.LoadBalancer, ServiceRole.TaskManager };

    /// <summary>
    /// The running containers that use the data: the product's own services and the load balancer in front of
    /// them. Databases keep running (pg_restore runs in them); caches and queues hold nothing to restore.
    /// </summary>
    public static List<ContainerListResponse> ContainersToStop(ProductProfile profile, IEnumerable<ContainerListResponse> containers)
    {
        var services = profile.Services.Where(s => s.ProductImage || ApplicationRoles.Contains(s.Role)).Select(s => s.ComposeService ?? s.Name)
            .Except(profile.DataStores.Where(d => d.Service is not null).Select(d => ComposeName(profile, d.Service!)))
            .ToHashSet();
        return containers.Where(c => c.State == "running" && services.Contains(c.Labels[ComposeDiscovery.ServiceLabel])).ToList();
    }

    /// <summary>A profile service's compose service name (the profile may name it differently).</summary>
    public static string ComposeName(ProductProfile profile, string service) =>
        profile.Services.FirstOrDefault(s => s.Name == service)?.ComposeService ?? service;

    /// <summary>
    /// The order a restore takes: every PostgreSQL dump first, into staging databases beside the live ones (any that fails
    /// leaves the live data untouched); then, the application stopped, each Neo4j dump loaded over its database (Neo4j
    /// Community has no database beside it to stage into), before the staged databases are swapped in, so a load that fails
    /// leaves PostgreSQL untouched; then the volumes (staged on their own file systems while the dumps restore, before the
    /// first Neo4j load, swapped in after the databases) and the configuration files. Each group in the manifest's order.
    /// </summary>
    public static (IReadOnlyList<BackupComponent> Dumps, IReadOnlyList<BackupComponent> Graphs, IReadOnlyList<BackupComponent> Others) Order(IEnumerable<BackupComponent> components)
    {
        var all = components.ToList();
        return (all.Where(c => c.Kind == BackupComponentKind.PostgresDump).ToList(), all.Where(c => c.Kind == BackupComponentKind.Neo4jDump).ToList(),
            all.Where(c => c.Kind is not (BackupComponentKind.PostgresDump or BackupComponentKind.Neo4jDump)).ToList());
    }

    /// <summary>What -WhatIf says a restore would do: the containers it stops (by name) and one action per component.</summary>
    public static RestorePlan Plan(ProductProfile profile, ComposeFile file, string deploymentName, IEnumerable<ContainerListResponse> containers, DeploymentBackup backup)
    {
        var stop = ContainersToStop(profile, containers).Select(ComposeUpgradePlan.NameOf).Order().ToList();
        var actions = backup.Components.Select(c => c.Kind switch
        {
            BackupComponentKind.PostgresDump => $"Drop and recreate database for '{c.Name}', then pg_restore {c.File} into it",
            BackupComponentKind.Neo4jDump => $"Stop the Neo4j database of '{c.Name}', load {c.File} over it (neo4j-admin database load --overwrite-destination=true), then bring it back",
            BackupComponentKind.Volume => $"Stage {c.File} on volume '{c.Name}' beside its content, then replace the content with it",
            BackupComponentKind.ConfigFile => $"Put {c.File} back at {ComposeRestore.ConfigFileTarget(file, deploymentName, c)}",
            _ => $"Restore {c.Name} from {c.File}",
        }).ToList();
        return new RestorePlan(stop, actions, "stop", "start the stopped containers and wait until they are healthy");
    }
}

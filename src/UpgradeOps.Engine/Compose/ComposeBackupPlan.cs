using Docker.DotNet.Models;
using UpgradeOps.Backups;
using UpgradeOps.Profiles;

namespace UpgradeOps.Compose;

/// <summary>
/// The decisions of a Compose backup, apart from the Docker Engine that carries them out (ComposeBackup): which
/// components it takes and into which files, whether writers pause, which containers they are, and which image ids it records.
/// </summary>
internal static class ComposeBackupPlan
{
    /// <summary>What happens to the writers during a backup: nothing, paused (frozen, resumed after), or stopped (started after).</summary>
    public enum WriterHold { None, Pause, Stop }

    /// <summary>
    /// The components in the order they are captured: each data store of the profile in its order (a PostgreSQL dump, a
    /// volume's archive, a Neo4j dump), then the compose file and, when there is one, its .env; narrowed to -Component.
    /// An encrypted backup's files end in .enc.
    /// </summary>
    public static List<PlannedComponent> Components(ProductProfile profile, ComposeFile file, string deploymentName, BackupRequest request)
    {
        var suffix = request.Passphrase is null ? "" : ".enc";
        var planned = new List<PlannedComponent>();
        foreach (var store in profile.DataStores)
        {
            switch (store.Kind)
            {
                case DataStoreKind.Postgres:
                    planned.Add(new(store.Name, BackupComponentKind.PostgresDump, $"database {store.DatabaseShown} in service {ComposeRestorePlan.ComposeName(profile, store.Service!)}", $"{store.Name}.dump{suffix}"));
                    break;
                case DataStoreKind.Volume:
                    planned.Add(new(store.Name, BackupComponentKind.Volume, $"volume {deploymentName}_{store.Volume}", $"{store.Name}.tar{suffix}"));
                    break;
                case DataStoreKind.Neo4j:
                    planned.Add(new(store.Name, BackupComponentKind.Neo4jDump, $"Neo4j in service {ComposeRestorePlan.ComposeName(profile, store.Service!)}", $"{store.Name}.dump{suffix}"));
                    break;
            }
        }
        planned.Add(new(BackupComponents.Config, BackupComponentKind.ConfigFile, file.Path, $"config/{System.IO.Path.GetFileName(file.Path)}{suffix}"));
        if (File.Exists(file.EnvFilePath))
            planned.Add(new(BackupComponents.Config, BackupComponentKind.ConfigFile, file.EnvFilePath, $"config/.env{suffix}"));

        return BackupComponents.Select(planned, request);
    }

    /// <summary>
    /// Whether writers pause during the backup. pg_dump alone is consistent (one snapshot, shared with the row counts), and
    /// so is Enterprise's online Neo4j backup: writers stop writing only when two or more data components must agree with
    /// each other, or when a dump's row counts cannot share pg_dump's snapshot (asked of each dump in turn, until one cannot).
    /// </summary>
    public static async Task<bool> NeedsPausedWritersAsync(IReadOnlyList<PlannedComponent> planned, Func<string, Task<bool>> canShareSnapshot)
    {
        if (planned.Count(p => p.Kind is BackupComponentKind.PostgresDump or BackupComponentKind.Volume or BackupComponentKind.Neo4jDump) > 1) return true;
        foreach (var component in planned.Where(p => p.Kind == BackupComponentKind.PostgresDump))
        {
            if (!await canShareSnapshot(component.Name).ConfigureAwait(false)) return true;
        }
        return false;
    }

    /// <summary>
    /// How the writers are held while the components are captured. A Neo4j dump taken offline (Community: its server goes
    /// away under them and restarts, which a paused client would not survive) stops them, the API and the workers, as
    /// infrahub-backup does; <paramref name="takenOffline"/> is asked of each Neo4j component, until one is. Otherwise they
    /// pause when <see cref="NeedsPausedWritersAsync"/> says so.
    /// </summary>
    public static async Task<WriterHold> WriterHoldAsync(IReadOnlyList<PlannedComponent> planned, Func<string, Task<bool>> canShareSnapshot,
        Func<string, Task<bool>> takenOffline)
    {
        foreach (var graph in planned.Where(p => p.Kind == BackupComponentKind.Neo4jDump))
            if (await takenOffline(graph.Name).ConfigureAwait(false)) return WriterHold.Stop;
        return await NeedsPausedWritersAsync(planned, canShareSnapshot).ConfigureAwait(false) ? WriterHold.Pause : WriterHold.None;
    }

    /// <summary>
    /// Containers that write data, running: workers always, the API too when a data store must be backed up offline or
    /// (<paramref name="stopped"/>) the writers stop for a Neo4j dump.
    /// </summary>
    public static IReadOnlyList<ContainerListResponse> Writers(ProductProfile profile, IEnumerable<ContainerListResponse> containers, bool stopped = false)
    {
        var roles = new HashSet<ServiceRole> { ServiceRole.Worker };
        if (stopped || profile.DataStores.Any(s => s.Offline)) roles.Add(ServiceRole.Api);
        var services = profile.Services.Where(s => roles.Contains(s.Role)).Select(s => s.ComposeService ?? s.Name).ToHashSet();
        return containers.Where(c => c.State == "running" && c.Labels.TryGetValue(ComposeDiscovery.ServiceLabel, out var s) && services.Contains(s)).ToList();
    }

    /// <summary>Which image id each image reference had (the first container's, for a reference two share), so a rollback can return to exactly these images.</summary>
    public static void RecordImages(IEnumerable<ContainerListResponse> containers, DeploymentBackup backup)
    {
        foreach (var container in containers)
            backup.ImageDigests.TryAdd(container.Image, container.ImageID);
    }
}

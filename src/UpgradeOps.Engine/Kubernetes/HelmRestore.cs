using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;


using UpgradeOps.Backups;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Restores a backup's data onto a Helm release: verifies it first, scales the application workloads (the profile's
/// Api, Worker, TaskManager and LoadBalancer services and the product images) to 0, restores each database into a
/// staging database in its pod and only then puts it in the live one's place, loads each Neo4j dump over its database with
/// neo4j-admin in its pod (each Volume the profile places in a pod is
/// emptied and extracted back through that pod's tar first, before its workload scales down), scales the workloads back (always,
/// also after a failure) and waits until they are ready. The release's values and manifest are not applied here:
/// the release returns to its revision with helm rollback (Invoke-Rollback).
/// </summary>
public static class HelmRestore
{
    public static async Task<RestorePlan> PlanAsync(RestoreRequest request, EngineContext context)
    {
        var backup = BackupCatalog.Open(request.BackupPath, request.Passphrase);
        using var source = HelmDeployment.Open(request.Deployment);
        var stop = (await ApplicationWorkloadsAsync(source, context.CancellationToken).ConfigureAwait(false))
            .Select(w => $"{w.Kind} {source.Namespace}/{w.Name} ({w.Replicas} → 0 replicas)").ToList();
        var actions = backup.Components.Select(c => c.Kind switch
        {
            BackupComponentKind.PostgresDump => $"Restore {c.File} into a staging database in the pod of '{c.Name}', then put it in place of the live database",
            BackupComponentKind.Neo4jDump => $"Load {c.File} over Neo4j database of '{c.Name}' in its pod with neo4j-admin (its server held stopped on Community), then wait until it answers",
            BackupComponentKind.Volume when VolumeStore(source, c) is { } store =>
                $"Empty {store.Path} in a pod of '{store.KubernetesWorkload}' and extract {c.File} into it (the other workloads scaled to 0 first)",
            BackupComponentKind.KubernetesResources when c.Name == KubernetesObjectSnapshot.Component =>
                backup.Encrypted ? $"Re-apply the ConfigMaps and Secrets of {c.File}" : $"Re-apply the ConfigMaps of {c.File} (its Secrets are redacted: not applied)",
            BackupComponentKind.HelmRelease or BackupComponentKind.KubernetesResources => $"Keep {c.File} for reference (helm rollback returns the release's values and objects)",
            _ => $"Skip {c.Name} ({c.Kind}): not restored on Kubernetes",
        }).ToList();
        return new RestorePlan(stop, actions, "scale down", "scale the workloads back and wait until they are ready");
    }

    /// <summary>The profile's data store a Volume component restores into on Kubernetes (null: none says where).</summary>
    private static DataStoreDefinition? VolumeStore(HelmDeployment source, BackupComponent component) =>
        source.Profile.DataStores.FirstOrDefault(s => s.Kind == DataStoreKind.Volume && s.KubernetesWorkload is not null && s.Name.Equals(component.Name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The workloads that use the data and run now (scaled to 0 for a restore, and for a Community Neo4j dump).</summary>
    internal static async Task<List<HelmDeployment.Workload>> ApplicationWorkloadsAsync(HelmDeployment source, CancellationToken ct)
    {
        var roles = new HashSet<ServiceRole> { ServiceRole.Api, ServiceRole.Worker, ServiceRole.LoadBalancer, ServiceRole.TaskManager };
        var dataServices = source.Profile.DataStores.Select(d => d.Service).Where(s => s is not null).ToHashSet();
        return (await source.WorkloadsAsync(ct).ConfigureAwait(false))
            .Where(w => w.Service is { } s && (s.ProductImage || roles.Contains(s.Role)) && !dataServices.Contains(s.Name) && w.Replicas > 0).ToList();
    }

    public static async Task<DeploymentBackup> RestoreAsync(RestoreRequest request, EngineContext context)
    {
        using var activity = context.StartActivity($"Restoring {Path.GetFileName(request.BackupPath)} onto {request.Deployment.Name}");
        activity.Report("Verifying the backup", 5);
        var backup = await DataRestore.VerifiedBackupAsync(new VerifiedRestore
        {
            BackupPath = request.BackupPath, Deployment = request.Deployment, Passphrase = request.Passphrase, Force = request.Force,
            DataStores = ct => Task.FromResult<IDataStoreHost>(HelmDeployment.Open(request.Deployment)),
        }, context).ConfigureAwait(false);
        using var source = HelmDeployment.Open(request.Deployment);
        await RestoreDataAsync(source, backup, request.Passphrase, request.HealthTimeout, context, activity).ConfigureAwait(false);
        activity.Complete();
        return backup;
    }

    /// <summary>The data part of a restore (also the data part of a Helm rollback): workloads down, databases restored, workloads up and ready.</summary>
    /// <param name="whileStopped">Runs once the databases are replaced and before the workloads scale back (a rollback's helm rollback).</param>
    internal static async Task RestoreDataAsync(HelmDeployment source, DeploymentBackup backup, byte[]? passphrase, TimeSpan healthTimeout,
        EngineContext context, ProgressActivity activity, Func<Task>? whileStopped = null)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmRestore));
        var folder = Path.GetFullPath(backup.Path);
        var stopped = await ApplicationWorkloadsAsync(source, ct).ConfigureAwait(false);
        var staged = new List<DataRestore.StagedDatabase>();
        Exception? failure = null;
        var scaledDown = new List<HelmDeployment.Workload>();
        var restartedGraphs = new List<HelmDeployment.Workload>();
        try
        {
            // A volume's files are extracted through a pod of the workload that mounts them: that workload stops only once
            // they are back, every other application workload (the API first) before.
            var volumes = backup.Components.Where(c => c.Kind == BackupComponentKind.Volume)
                .Select(c => (Component: c, Store: VolumeStore(source, c))).Where(v => v.Store is not null).ToList();
            var holders = volumes.Select(v => v.Store!.KubernetesWorkload).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var first = stopped.Where(w => w.Service is null || !holders.Contains(w.Service.Name)).ToList();
            activity.Report($"Scaling {string.Join(", ", first.Select(w => w.Name))} to 0", 15);
            foreach (var workload in first)
            {
                await source.ScaleAsync(workload, 0, ct).ConfigureAwait(false);
                scaledDown.Add(workload);
            }
            foreach (var (component, store) in volumes)
            {
                activity.Report($"Restoring {component.Name} into {store!.Path}", 20);
                var (_, exec) = await source.VolumeExecAsync(store, ct).ConfigureAwait(false);
                await using var content = BackupVerifier.OpenContent(folder, component, passphrase);
                await PodVolumeArchive.RestoreAsync(exec, store.Name, store.Path!, content, ct).ConfigureAwait(false);
                log.LogInformation("Restored {Component} into {Path} in {Pod}", component.Name, store.Path, exec.Description);
            }
            foreach (var workload in stopped.Except(first))
            {
                await source.ScaleAsync(workload, 0, ct).ConfigureAwait(false);
                scaledDown.Add(workload);
            }
            // Neo4j has no staging database beside the live one on Community: each dump is loaded over it, with the application down.
            foreach (var graph in backup.Components.Where(c => c.Kind == BackupComponentKind.Neo4jDump))
            {
                activity.Report($"Loading {graph.Name} from {graph.File}", 25);
                Neo4jTarget? target = null;
                await DataRestore.LoadNeo4jAsync(source, folder, graph, passphrase, log, ct, opened => target = opened).ConfigureAwait(false);
                if (target!.WasStopped)
                {
                    await target.WaitAnsweringAsync(healthTimeout, ct).ConfigureAwait(false);
                    restartedGraphs.Add(await source.DataStoreWorkloadAsync(source.Profile.DataStores.First(s => s.Name == graph.Name), ct).ConfigureAwait(false));
                }
                log.LogInformation("Loaded {Component} into Neo4j database {Database}", graph.Name, target.Database);
            }
            foreach (var dump in backup.Components.Where(c => c.Kind == BackupComponentKind.PostgresDump))
            {
                activity.Report($"Restoring {dump.Name} from {dump.File} into a staging database", 30);
                staged.Add(await DataRestore.StageDatabaseAsync(source, folder, dump, passphrase, ct).ConfigureAwait(false));
            }
            // Only now, with every dump restored and its checksum proven, are the live databases replaced.
            foreach (var database in staged)
            {
                activity.Report($"Replacing database {database.Target.Database} with the restored copy", 75);
                database.ReplacedName = await database.Target.ReplaceDatabaseAsync(database.Target.Database, database.Name, ct).ConfigureAwait(false);
                database.Replaced = true;
            }
            foreach (var resources in backup.Components.Where(c => c.Kind == BackupComponentKind.KubernetesResources && c.Name == KubernetesObjectSnapshot.Component))
            {
                activity.Report($"Re-applying the objects of {resources.File}", 80);
                string json;
                await using (var content = BackupVerifier.OpenContent(folder, resources, passphrase))
                using (var reader = new StreamReader(content))
                    json = await reader.ReadToEndAsync(ct).ConfigureAwait(false);
                foreach (var item in KubernetesObjectSnapshot.Parse(json))
                {
                    if (item.Kind == "Secret" && item.Redacted)
                    {
                        log.LogWarning("Secret {Namespace}/{Name} is not restored: this backup keeps only its keys ({Keys}), its values were redacted because the backup is not encrypted. " +
                            "It stays as it is; take backups with -EncryptionKey to restore Secrets.", source.Namespace, item.Name, string.Join(", ", item.Data.Keys));
                        continue;
                    }
                    if (item.Kind is not ("Secret" or "ConfigMap")) continue;
                    await source.ApplyAsync(item, ct).ConfigureAwait(false);
                    log.LogInformation("Re-applied {Kind} {Namespace}/{Name}", item.Kind, source.Namespace, item.Name);
                }
            }
            if (whileStopped is not null) await whileStopped().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            foreach (var database in staged.Where(d => !d.Replaced)) await database.Target.TryDropDatabaseAsync(database.Name, log).ConfigureAwait(false);
            // Scale back whatever happened; the restore's own error is the one raised.
            await source.ScaleBackAsync(scaledDown, log).ConfigureAwait(false);
        }
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);

        activity.Report("Waiting for the workloads to be ready", 90);
        await source.WaitReadyAsync(restartedGraphs.Concat(stopped), healthTimeout, ct).ConfigureAwait(false);
        foreach (var database in staged.Where(d => d.ReplacedName is not null)) await database.Target.TryDropDatabaseAsync(database.ReplacedName!, log).ConfigureAwait(false);
        foreach (var skipped in backup.Components.Where(c => c.Kind == BackupComponentKind.Volume && VolumeStore(source, c) is null))
            log.LogWarning("{Component} ({Kind}) is not restored on Kubernetes: restore it by hand.", skipped.Name, skipped.Kind);
    }
}

using System.Diagnostics;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

using UpgradeOps.Backups;

using UpgradeOps.Platforms;

namespace UpgradeOps.Compose;

/// <summary>
/// Backs up a Compose deployment through the Engine API only: pg_dump runs inside the database container
/// and streams into the backup file; volumes come through the archive API; configuration files are copied.
/// Writers are paused for the duration and always resumed. The backup is written into a hidden folder and
/// renamed into place with its manifest only when every component is complete.
/// </summary>
public static class ComposeBackup
{

    public static async Task<IReadOnlyList<PlannedComponent>> PlanAsync(BackupRequest request, EngineContext context)
    {
        using var source = await ComposeDeployment.OpenAsync(request.Deployment, context.CancellationToken).ConfigureAwait(false);
        return Plan(source, request);
    }

    private static List<PlannedComponent> Plan(ComposeDeployment source, BackupRequest request) =>
        ComposeBackupPlan.Components(source.Profile, source.File, source.Deployment.Name, request);

    public static async Task<DeploymentBackup> BackupAsync(BackupRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeBackup));
        var watch = Stopwatch.StartNew();
        using var source = await ComposeDeployment.OpenAsync(request.Deployment, ct).ConfigureAwait(false);
        var planned = Plan(source, request);
        // One backup or restore holds the application at a time; what a killed one left stopped comes back first.
        using var hold = ComposeHold.Take(source.File.Path, "backup", log);
        await hold.RecoverAsync(source, "run the backup again.", log, ct).ConfigureAwait(false);

        var writer = BackupWriter.Create(request, source.Deployment, source.File.Path, log);
        var backup = writer.Backup;

        using var activity = context.StartActivity($"Backing up {source.Deployment.Name}");
        var paused = new List<string>();
        var stopped = new List<ContainerListResponse>();
        // Neo4j data stores whose server was held stopped, with their containers' start times, to bring them back before the writers.
        var resumedStores = new List<(Neo4jTarget Target, Dictionary<string, string> StartedBefore)>();
        // One target per Neo4j store: its edition is asked of the server once, for the writers' hold and for the dump.
        var graphs = new Dictionary<string, Neo4jTarget>();
        async Task<Neo4jTarget> GraphAsync(string name) => graphs.TryGetValue(name, out var known) ? known
            : graphs[name] = await source.Neo4jAsync(source.Profile.DataStores.First(s => s.Name == name), log, ct).ConfigureAwait(false);
        try
        {
            ComposeBackupPlan.RecordImages(source.Containers, backup);

            // pg_dump alone is consistent (one snapshot, shared with the row counts). Writers stop writing only when the
            // database and the volumes must agree with each other, or when the counts cannot share pg_dump's snapshot;
            // a Neo4j dump stops them (the API and the workers) first.
            var writerHold = await ComposeBackupPlan.WriterHoldAsync(planned,
                async name => (await source.PostgresAsync(source.Profile.DataStores.First(s => s.Name == name), ct).ConfigureAwait(false)).CanShareSnapshot,
                async name => await (await GraphAsync(name).ConfigureAwait(false)).EditionAsync(ct).ConfigureAwait(false) == Neo4jEdition.Community).ConfigureAwait(false);
            if (writerHold == ComposeBackupPlan.WriterHold.Pause)
            {
                hold.Record(source.Writers().Select(c => c.ID), Array.Empty<string>());
                foreach (var container in source.Writers())
                {
                    activity.Report($"Pausing {container.Names.FirstOrDefault()?.TrimStart('/')}", 5);
                    await source.Engine.PauseAsync(container.ID, ct).ConfigureAwait(false);
                    paused.Add(container.ID);
                }
            }
            if (writerHold == ComposeBackupPlan.WriterHold.Stop)
            {
                var writers = source.Writers(stopped: true);
                hold.Record(Array.Empty<string>(), writers.Select(c => c.ID));
                activity.Report($"Stopping {string.Join(", ", writers.Select(ComposeUpgradePlan.NameOf))}", 5);
                stopped.AddRange(writers);
                // Not cancellable: a cancelled request does not stop the Engine from stopping them, and the start the finally
                // sends meanwhile would be a no-op, leaving the writers stopped after a Ctrl+C.
                await Task.WhenAll(writers.Select(c => source.Engine.Client.Containers.StopContainerAsync(c.ID, new ContainerStopParameters { WaitBeforeKillSeconds = 30 }, CancellationToken.None)))
                    .ConfigureAwait(false);
            }

            for (var i = 0; i < planned.Count; i++)
            {
                var component = planned[i];
                activity.Report($"{component.Name}: {component.Source}", 10 + 80 * i / planned.Count);
                log.LogDebug("Capturing {Component} from {Source}", component.Name, component.Source);
                await StepPause.AtAsync($"backup:capture {component.Name}", log, ct).ConfigureAwait(false);
                backup.Components.Add(await CaptureAsync(source, component, writer, activity, backup, resumedStores, GraphAsync, ct).ConfigureAwait(false));
            }
        }
        catch
        {
            writer.Abort();
            throw;
        }
        finally
        {
            // Always resume writers, also after a failure or Ctrl+C (so not with the cancelled token).
            foreach (var containerId in paused)
            {
                try
                {
                    await source.Engine.Client.Containers.UnpauseContainerAsync(containerId, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    log.LogWarning("Could not resume container {Container}: {Message}. Resume it with 'docker unpause {Container}'.", containerId, ex.Message, containerId);
                }
            }
            // A resumed Neo4j server ends and its container restarts: the application starts once it is back.
            foreach (var (graph, startedBefore) in resumedStores.Where(r => r.Target.WasStopped))
            {
                activity.Report($"Waiting for {graph.Name} to be back", 92);
                try
                {
                    await source.BringBackAsync(startedBefore, TimeSpan.FromMinutes(5), CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is UpgradeOpsException or Docker.DotNet.DockerApiException)
                {
                    log.LogWarning("After the backup the database of {Store} is not healthy: {Message}", graph.Name, ex.Message);
                }
            }
            await Task.WhenAll(stopped.Select(async container =>
            {
                try
                {
                    await source.Engine.Client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    log.LogWarning("Could not start {Container} again: {Message}. Start it with 'docker start {Container}'.", ComposeUpgradePlan.NameOf(container), ex.Message, ComposeUpgradePlan.NameOf(container));
                }
            })).ConfigureAwait(false);
            hold.Released(log);
        }
        // A healthcheck that ran while a writer was paused failed, and the Engine calls it unhealthy until its next one
        // passes: the backup is done when the writers are healthy again, as they were (and the stopped ones started).
        var held = paused.Concat(stopped.Select(c => c.ID)).ToList();
        try
        {
            if (held.Count > 0)
            {
                await StepPause.AtAsync("backup:writers", log, ct).ConfigureAwait(false);
                activity.Report("Waiting for the resumed writers to be healthy", 95);
                try
                {
                    await ComposeHealth.WaitHealthyAsync(source.Engine, source.Deployment.Name, TimeSpan.FromMinutes(2), ct, held).ConfigureAwait(false);
                }
                catch (UpgradeOpsException ex)
                {
                    log.LogWarning("After the backup the resumed writers are not healthy: {Message}", ex.Message);
                }
            }
            await StepPause.AtAsync("backup:complete", log, ct).ConfigureAwait(false);
            backup.ToolVersions["DockerEngine"] = (await source.Engine.Client.System.GetVersionAsync(ct).ConfigureAwait(false)).Version;
        }
        catch
        {
            // Also a Ctrl+C while the writers come back: the partial folder must not stay behind.
            writer.Abort();
            throw;
        }
        await writer.CompleteAsync(watch.Elapsed, ct).ConfigureAwait(false);
        activity.Complete();
        return backup;
    }

    private static async Task<BackupComponent> CaptureAsync(ComposeDeployment source, PlannedComponent planned, BackupWriter writer,
        ProgressActivity activity, DeploymentBackup backup, List<(Neo4jTarget, Dictionary<string, string>)> resumedStores,
        Func<string, Task<Neo4jTarget>> graphOf, CancellationToken ct)
    {
        var component = new BackupComponent { Name = planned.Name, Kind = planned.Kind, File = planned.File, Sha256 = "", Source = planned.Source };
        var store = source.Profile.DataStores.FirstOrDefault(s => s.Name == planned.Name);
        if (planned.Kind == BackupComponentKind.PostgresDump)
            return await BackupComponents.CapturePostgresAsync(await source.PostgresAsync(store!, ct).ConfigureAwait(false), component, writer, activity, backup, ct).ConfigureAwait(false);
        if (planned.Kind == BackupComponentKind.Neo4jDump)
        {
            var neo4j = await graphOf(store!.Name).ConfigureAwait(false);
            if (await neo4j.EditionAsync(ct).ConfigureAwait(false) == Neo4jEdition.Community)
                resumedStores.Add((neo4j, await source.StartTimesAsync(store!, ct).ConfigureAwait(false)));
            return await BackupComponents.CaptureNeo4jAsync(neo4j, component, writer, activity, ct).ConfigureAwait(false);
        }

        await writer.WriteAsync(component, async target =>
        {
            switch (planned.Kind)
            {
                case BackupComponentKind.Volume:
                    var volume = await source.VolumeAsync(store!, ct).ConfigureAwait(false);
                    component.Source = $"volume {volume.VolumeName} ({volume.MountPath})";
                    var archive = await source.Engine.Client.Containers.GetArchiveFromContainerAsync(volume.ContainerId,
                        new Docker.DotNet.Models.ContainerPathStatParameters { Path = volume.MountPath }, false, ct).ConfigureAwait(false);
                    await using (var stream = archive.Stream ?? throw new UpgradeOpsException("BackupVolumeUnreadable", ErrorKind.InvalidData, store!.Name,
                                     $"The Docker Engine sent no archive of volume {volume.VolumeName}. Check the volume with 'docker volume inspect {volume.VolumeName}' and run the backup again."))
                        await stream.CopyToAsync(target, ct).ConfigureAwait(false);
                    break;
                case BackupComponentKind.ConfigFile:
                    await using (var input = BackupFiles.OpenRead(planned.Source)) await input.CopyToAsync(target, ct).ConfigureAwait(false);
                    break;
            }
        }, ct).ConfigureAwait(false);
        activity.Report($"{planned.Name}: {component.SizeBytes:N0} bytes", -1);
        return component;
    }
}

using System.Diagnostics;
using Microsoft.Extensions.Logging;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Backups;

/// <summary>What New-DeploymentBackup asks.</summary>
public sealed class BackupRequest
{
    public required Deployment Deployment { get; init; }
    /// <summary>The folder that receives the backup's own folder.</summary>
    public required string Path { get; init; }
    /// <summary>UTF-8 bytes of the encryption passphrase, or null for no encryption. Zeroed by the caller.</summary>
    public byte[]? Passphrase { get; init; }
    /// <summary>Only these components (data store names, or "config"); empty means all.</summary>
    public IReadOnlyList<string> Components { get; init; } = Array.Empty<string>();
}

/// <summary>One component a backup would capture, for -WhatIf.</summary>
public sealed record PlannedComponent(string Name, BackupComponentKind Kind, string Source, string File);

/// <summary>
/// Backs up a Compose deployment through the Engine API only: pg_dump runs inside the database container
/// and streams into the backup file; volumes come through the archive API; configuration files are copied.
/// Writers are paused for the duration and always resumed. The backup is written into a hidden folder and
/// renamed into place with its manifest only when every component is complete.
/// </summary>
public static class ComposeBackupService
{
    public const string ConfigComponent = "config";

    public static async Task<IReadOnlyList<PlannedComponent>> PlanAsync(BackupRequest request, EngineContext context)
    {
        using var source = await ComposeBackupSource.OpenAsync(request.Deployment, context.CancellationToken).ConfigureAwait(false);
        return Plan(source, request);
    }

    private static List<PlannedComponent> Plan(ComposeBackupSource source, BackupRequest request)
    {
        var suffix = request.Passphrase is null ? "" : ".enc";
        var planned = new List<PlannedComponent>();
        foreach (var store in source.Profile.DataStores)
        {
            switch (store.Kind)
            {
                case DataStoreKind.Postgres:
                    planned.Add(new(store.Name, BackupComponentKind.PostgresDump, $"database '{store.Database}' in service {source.ComposeName(store.Service!)}", $"{store.Name}.dump{suffix}"));
                    break;
                case DataStoreKind.Volume:
                    planned.Add(new(store.Name, BackupComponentKind.Volume, $"volume {source.Deployment.Name}_{store.Volume}", $"{store.Name}.tar{suffix}"));
                    break;
                case DataStoreKind.Neo4j:
                    throw new UpgradeOpsException("BackupMethodNotSupported", ErrorKind.NotImplemented, store.Name,
                        $"Data store '{store.Name}' is Neo4j, whose backup (neo4j-admin database dump) UpgradeOps does not run on Compose yet. Back it up by hand, then pass -Component with the other components.");
            }
        }
        planned.Add(new(ConfigComponent, BackupComponentKind.ConfigFile, source.File.Path, $"config/{System.IO.Path.GetFileName(source.File.Path)}{suffix}"));
        if (File.Exists(source.File.EnvFilePath))
            planned.Add(new(ConfigComponent, BackupComponentKind.ConfigFile, source.File.EnvFilePath, $"config/.env{suffix}"));

        return Select(planned, request);
    }

    /// <summary>The components -Component asks for (all when it is empty); an unknown name is an error listing the known ones.</summary>
    internal static List<PlannedComponent> Select(List<PlannedComponent> planned, BackupRequest request)
    {
        if (request.Components.Count == 0) return planned;
        var unknown = request.Components.Where(c => planned.All(p => !p.Name.Equals(c, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0)
            throw new UpgradeOpsException("UnknownBackupComponent", ErrorKind.InvalidArgument, string.Join(", ", unknown),
                $"Unknown component(s) {string.Join(", ", unknown)}. This deployment has: {string.Join(", ", planned.Select(p => p.Name).Distinct())}.");
        return planned.Where(p => request.Components.Contains(p.Name, StringComparer.OrdinalIgnoreCase)).ToList();
    }

    public static async Task<DeploymentBackup> BackupAsync(BackupRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeBackupService));
        var watch = Stopwatch.StartNew();
        using var source = await ComposeBackupSource.OpenAsync(request.Deployment, ct).ConfigureAwait(false);
        var planned = Plan(source, request);

        var writer = BackupWriter.Create(request, source.Deployment, source.File.Path, log);
        var backup = writer.Backup;

        using var activity = context.StartActivity($"Backing up {source.Deployment.Name}");
        var paused = new List<string>();
        try
        {
            RecordImages(source, backup);

            // pg_dump alone is consistent (one snapshot, shared with the row counts). Writers stop writing only when the
            // database and the volumes must agree with each other, or when the counts cannot share pg_dump's snapshot.
            if (await NeedsPausedWritersAsync(source, planned, ct).ConfigureAwait(false))
            foreach (var container in source.Writers())
            {
                activity.Report($"Pausing {container.Names.FirstOrDefault()?.TrimStart('/')}", 5);
                await source.Engine.Client.Containers.PauseContainerAsync(container.ID, ct).ConfigureAwait(false);
                paused.Add(container.ID);
            }

            for (var i = 0; i < planned.Count; i++)
            {
                var component = planned[i];
                activity.Report($"{component.Name}: {component.Source}", 10 + 80 * i / planned.Count);
                log.LogDebug("Capturing {Component} from {Source}", component.Name, component.Source);
                backup.Components.Add(await CaptureAsync(source, component, writer, activity, backup, ct).ConfigureAwait(false));
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
        }
        // A healthcheck that ran while a writer was paused failed, and the Engine calls it unhealthy until its next one
        // passes: the backup is done when the writers are healthy again, as they were.
        if (paused.Count > 0)
        {
            activity.Report("Waiting for the resumed writers to be healthy", 95);
            try
            {
                await ComposeHealth.WaitHealthyAsync(source.Engine, source.Deployment.Name, TimeSpan.FromMinutes(2), ct, paused).ConfigureAwait(false);
            }
            catch (UpgradeOpsException ex)
            {
                log.LogWarning("After the backup the resumed writers are not healthy: {Message}", ex.Message);
            }
        }

        try
        {
            backup.ToolVersions["DockerEngine"] = (await source.Engine.Client.System.GetVersionAsync(ct).ConfigureAwait(false)).Version;
        }
        catch
        {
            writer.Abort();
            throw;
        }
        await writer.CompleteAsync(watch.Elapsed, ct).ConfigureAwait(false);
        activity.Complete();
        return backup;
    }

    private static async Task<BackupComponent> CaptureAsync(ComposeBackupSource source, PlannedComponent planned, BackupWriter writer,
        ProgressActivity activity, DeploymentBackup backup, CancellationToken ct)
    {
        var component = new BackupComponent { Name = planned.Name, Kind = planned.Kind, File = planned.File, Sha256 = "", Source = planned.Source };
        var store = source.Profile.DataStores.FirstOrDefault(s => s.Name == planned.Name);
        if (planned.Kind == BackupComponentKind.PostgresDump)
            return await CapturePostgresAsync(await source.PostgresAsync(store!, ct).ConfigureAwait(false), component, writer, activity, backup, ct).ConfigureAwait(false);

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

    /// <summary>
    /// pg_dump -Fc of one database into its component file, with the server and pg_dump versions and the row count of
    /// every table, counted in the very snapshot pg_dump dumps (through Npgsql from here, or a psql session beside the server).
    /// </summary>
    internal static async Task<BackupComponent> CapturePostgresAsync(PostgresTarget postgres, BackupComponent component, BackupWriter writer,
        ProgressActivity activity, DeploymentBackup backup, CancellationToken ct)
    {
        component.ServerMajorVersion = await postgres.ServerMajorVersionAsync(ct).ConfigureAwait(false);
        component.DumpMajorVersion = await postgres.DumpMajorVersionAsync(ct).ConfigureAwait(false);
        backup.ToolVersions["pg_dump"] = component.DumpMajorVersion.ToString()!;
        // Row counts are taken while the dump runs, in the snapshot pg_dump dumps: they match the dump while the application writes.
        await using var snapshot = await postgres.ShareSnapshotAsync(ct).ConfigureAwait(false);
        var counting = snapshot.RowCountsAsync(ct);
        await writer.WriteAsync(component, target => postgres.DumpAsync(target, ct, snapshot.Id), ct).ConfigureAwait(false);
        component.RowCounts = await counting.ConfigureAwait(false);
        activity.Report($"{component.Name}: {component.SizeBytes:N0} bytes", -1);
        return component;
    }

    private static async Task<bool> NeedsPausedWritersAsync(ComposeBackupSource source, IReadOnlyList<PlannedComponent> planned, CancellationToken ct)
    {
        if (planned.Count(p => p.Kind is BackupComponentKind.PostgresDump or BackupComponentKind.Volume) > 1) return true;
        foreach (var component in planned.Where(p => p.Kind == BackupComponentKind.PostgresDump))
        {
            var store = source.Profile.DataStores.First(s => s.Name == component.Name);
            if (!(await source.PostgresAsync(store, ct).ConfigureAwait(false)).CanShareSnapshot) return true;
        }
        return false;
    }

    /// <summary>Which image id each image reference had, so a rollback can return to exactly these images.</summary>
    private static void RecordImages(ComposeBackupSource source, DeploymentBackup backup)
    {
        foreach (var container in source.Containers)
            backup.ImageDigests.TryAdd(container.Image, container.ImageID);
    }
}

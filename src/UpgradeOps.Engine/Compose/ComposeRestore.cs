using System.Runtime.ExceptionServices;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

using UpgradeOps.Backups;

using UpgradeOps.Platforms;

namespace UpgradeOps.Compose;

/// <summary>
/// Restores a backup onto a Compose deployment: verifies it first, restores each PostgreSQL dump into a staging database
/// while it stops the application containers and then stages each volume's archive on the volume, loads each Neo4j dump,
/// then swaps the staged databases and volumes in, puts the configuration files back, starts the containers again (always,
/// also after a failure) and waits until they are healthy.
/// </summary>
public static class ComposeRestore
{
    private const string RestoreMount = "/upgradeops-restore";

    public static async Task<RestorePlan> PlanAsync(RestoreRequest request, EngineContext context)
    {
        var backup = BackupCatalog.Open(request.BackupPath, request.Passphrase);
        using var source = await ComposeDeployment.OpenAsync(request.Deployment, context.CancellationToken).ConfigureAwait(false);
        return Plan(source, backup);
    }

    private static RestorePlan Plan(ComposeDeployment source, DeploymentBackup backup) =>
        ComposeRestorePlan.Plan(source.Profile, source.File, source.Deployment.Name, source.Containers, backup);

    public static async Task<DeploymentBackup> RestoreAsync(RestoreRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeRestore));
        using var activity = context.StartActivity($"Restoring {Path.GetFileName(request.BackupPath)} onto {request.Deployment.Name}");

        activity.Report("Verifying the backup", 5);
        var backup = await DataRestore.VerifiedBackupAsync(Verified(request), context).ConfigureAwait(false);

        using var source = await ComposeDeployment.OpenAsync(request.Deployment, ct).ConfigureAwait(false);
        CheckConfigFileTargets(source, backup);
        // One backup or restore holds the application at a time; what a killed one left stopped comes back first.
        using var hold = ComposeHold.Take(source.File.Path, "restore", log);
        // A killed restore leaves its volume helpers running (each kept for its volume's swap); their staging folders go
        // with the swaps of this one.
        var leftHelpers = await source.Engine.RemoveOneOffsNamedAsync(new[] { VolumeHelperPrefix(source.Deployment.Name) }, ct).ConfigureAwait(false);
        if (leftHelpers > 0) log.LogWarning("Removed {Count} volume helper container(s) an interrupted restore had left.", leftHelpers);
        await hold.RecoverAsync(source, "run the restore again.", log, ct).ConfigureAwait(false);
        var folder = Path.GetFullPath(request.BackupPath);
        var stopped = ComposeRestorePlan.ContainersToStop(source.Profile, source.Containers);
        hold.Record(Array.Empty<string>(), stopped.Select(c => c.ID));
        var (dumps, graphs, others) = ComposeRestorePlan.Order(backup.Components);
        var volumes = others.Where(c => c.Kind == BackupComponentKind.Volume).ToList();
        var staged = new List<DataRestore.StagedDatabase>();
        var stagedVolumes = new List<StagedVolume>();
        // The application stops (all at once) while the dumps restore into staging databases beside the live ones;
        // the database containers keep running so pg_restore can run in them.
        activity.Report($"Stopping {string.Join(", ", stopped.Select(c => c.Names.First().TrimStart('/')))}", 15);
        // Not cancellable: a cancelled request does not stop the Engine from stopping the container, and a start sent
        // meanwhile is a no-op, so after a Ctrl+C the application would stay stopped. The finally waits for these instead.
        var stopping = Task.WhenAll(stopped.Select(c => source.Engine.Client.Containers.StopContainerAsync(c.ID, new ContainerStopParameters { WaitBeforeKillSeconds = 30 }, CancellationToken.None)));
        Exception? failure = null;
        try
        {
            // The volumes are staged while the dumps restore, where a person would do one after the other: each copy goes
            // beside its live content, once the application is stopped (it never sees the staging folder), and nothing live
            // is replaced before both are done, so a full disk or a damaged archive, here or in a dump, leaves every database
            // and volume as it was. A failure on one side stops the other.
            await SideBySide.RunAsync(ct,
                async token =>
                {
                    foreach (var dump in dumps)
                    {
                        activity.Report($"Restoring {dump.Name} from {dump.File} into a staging database", 30);
                        log.LogDebug("Restoring {Component} into a staging database", dump.Name);
                        await StepPause.AtAsync($"restore:stage {dump.Name}", log, token).ConfigureAwait(false);
                        staged.Add(await DataRestore.StageDatabaseAsync(source, folder, dump, request.Passphrase, token).ConfigureAwait(false));
                    }
                },
                async token =>
                {
                    await stopping.ConfigureAwait(false);
                    foreach (var volume in volumes)
                    {
                        activity.Report($"Staging {volume.Name} from {volume.File}", 45);
                        await StepPause.AtAsync($"restore:stage {volume.Name}", log, token).ConfigureAwait(false);
                        stagedVolumes.Add(await StageVolumeAsync(source, DataRestore.StoreFor(source.Profile, volume), folder, volume, request.Passphrase, token)
                            .ConfigureAwait(false));
                    }
                }).ConfigureAwait(false);
            await stopping.ConfigureAwait(false);

            // The application is stopped: each Neo4j database is loaded over (no staging beside it on Community), and is
            // back before the application starts.
            foreach (var graph in graphs)
            {
                activity.Report($"Loading {graph.Name} from {graph.File}", 60);
                await LoadGraphAsync(source, folder, graph, request.Passphrase, request.HealthTimeout, log, ct).ConfigureAwait(false);
            }

            // Only now, with every dump restored and its checksum proven, are the live databases replaced.
            foreach (var database in staged)
            {
                activity.Report($"Replacing database {database.Target.Database} with the restored copy", 75);
                await StepPause.AtAsync($"restore:replace {database.Target.Database}", log, ct).ConfigureAwait(false);
                database.ReplacedName = await database.Target.ReplaceDatabaseAsync(database.Target.Database, database.Name, ct).ConfigureAwait(false);
                database.Replaced = true;
            }
            foreach (var volume in stagedVolumes)
            {
                activity.Report($"Putting {volume.Component.Name} in place", 78);
                await StepPause.AtAsync($"restore:component {volume.Component.Name}", log, ct).ConfigureAwait(false);
                await SwapVolumeAsync(source, volume, ct).ConfigureAwait(false);
            }
            foreach (var component in others.Where(c => c.Kind != BackupComponentKind.Volume))
            {
                activity.Report($"Restoring {component.Name} from {component.File}", 80);
                log.LogDebug("Restoring {Component} ({Kind})", component.Name, component.Kind);
                await StepPause.AtAsync($"restore:component {component.Name}", log, ct).ConfigureAwait(false);
                await RestoreComponentAsync(source, folder, component, request.Passphrase, log, ct).ConfigureAwait(false);
            }
            // Where the data phase ends: everything is in place, and what follows is what any restore pays to bring the application back.
            activity.Report("Data restored; starting the stopped containers", 85);
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            foreach (var database in staged.Where(d => !d.Replaced)) await database.Target.TryDropDatabaseAsync(database.Name, log).ConfigureAwait(false);
            foreach (var volume in stagedVolumes.Where(v => !v.Swapped)) await DiscardVolumeAsync(source, volume).ConfigureAwait(false);
            // Stopped after a database was swapped (a later component failed, or Ctrl+C): the live one holds the backup's
            // data, which running the restore again completes; the one it replaced would only stay behind, unnamed, taking space.
            if (failure is not null)
                foreach (var database in staged.Where(d => d.ReplacedName is not null))
                    await database.Target.TryDropDatabaseAsync(database.ReplacedName!, log).ConfigureAwait(false);
            try
            {
                await stopping.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                log.LogWarning("Stopping the application did not complete: {Message}", ex.Message);
            }
            // Bring the application back whatever happened (not with the cancelled token); the volumes' helpers go meanwhile.
            await Task.WhenAll(stagedVolumes.Select(v => ReleaseVolumeHelperAsync(source, v)).Concat(stopped.Select(async container =>
            {
                try
                {
                    await source.Engine.Client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    log.LogWarning("Could not start {Container} again: {Message}. Start it with 'docker start {Container}'.", container.Names.First(), ex.Message, container.Names.First());
                }
            }))).ConfigureAwait(false);
            hold.Released(log);
        }

        if (failure is not null)
        {
            // A refused or failed restore still hands back a serving deployment (its data untouched when a dump failed).
            if (failure is not OperationCanceledException)
            {
                try
                {
                    await ComposeHealth.WaitHealthyAsync(source.Engine, source.Deployment.Name, request.HealthTimeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (UpgradeOpsException ex)
                {
                    log.LogWarning("After the failed restore the services are not healthy: {Message}", ex.Message);
                }
            }
            ExceptionDispatchInfo.Throw(failure);
        }

        activity.Report("Waiting for the services to be healthy", 90);
        await StepPause.AtAsync("restore:health", log, ct).ConfigureAwait(false);
        // The replaced databases go while the services start: the application never needs them again.
        var dropping = Task.WhenAll(staged.Where(d => d.ReplacedName is not null)
            .Select(d => d.Target.TryDropDatabaseAsync(d.ReplacedName!, log)));
        await ComposeHealth.WaitHealthyAsync(source.Engine, source.Deployment.Name, request.HealthTimeout, ct).ConfigureAwait(false);
        await dropping.ConfigureAwait(false);
        activity.Complete();
        return backup;
    }

    internal static async Task RestoreComponentAsync(ComposeDeployment source, string folder, BackupComponent component, byte[]? passphrase, ILogger log, CancellationToken ct)
    {
        switch (component.Kind)
        {
            case BackupComponentKind.PostgresDump:
                await DataRestore.RestoreDatabaseAsync(source, folder, component, passphrase, ct).ConfigureAwait(false);
                break;
            case BackupComponentKind.Neo4jDump:
                await LoadGraphAsync(source, folder, component, passphrase, TimeSpan.FromMinutes(5), log, ct).ConfigureAwait(false);
                break;
            case BackupComponentKind.Volume:
                await RestoreVolumeAsync(source, DataRestore.StoreFor(source.Profile, component), folder, component, passphrase, ct).ConfigureAwait(false);
                break;
            case BackupComponentKind.ConfigFile:
                await RestoreFileAsync(ConfigFileTarget(source, component), folder, component, passphrase, ct).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>
    /// A Neo4j dump loaded over its database, then, when its server was held stopped for the load (Community), its container
    /// waited for until it is back and healthy (the server ends and restarts), also after a failed load: the application
    /// never starts against it half-way. Enterprise's server stays up (STOP/START DATABASE): waiting for a restart that never
    /// comes cost every Enterprise restore half a minute (seen on the graph sandbox).
    /// </summary>
    private static async Task LoadGraphAsync(ComposeDeployment source, string folder, BackupComponent component, byte[]? passphrase, TimeSpan healthTimeout,
        ILogger log, CancellationToken ct)
    {
        var store = source.Profile.DataStores.FirstOrDefault(s => s.Name == component.Name);
        var startedBefore = store?.Service is null ? new Dictionary<string, string>() : await source.StartTimesAsync(store, ct).ConfigureAwait(false);
        Exception? failure = null;
        Neo4jTarget? target = null;
        try
        {
            await DataRestore.LoadNeo4jAsync(source, folder, component, passphrase, log, ct, opened => target = opened).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            try
            {
                if (startedBefore.Count > 0 && target is { WasStopped: true }) await source.BringBackAsync(startedBefore, healthTimeout, CancellationToken.None).ConfigureAwait(false);
            }
            // After a failed load its own error is the one to report; the restore's end waits for the services anyway.
            catch (Exception ex) when (failure is not null && ex is UpgradeOpsException or Docker.DotNet.DockerApiException) { }
        }
    }

    /// <summary>A volume archive extracted into a hidden folder of the volume itself, not yet in the live content's place.</summary>
    internal sealed record StagedVolume(BackupComponent Component, string VolumeName, string Image, string MountPath, string StagingFolder)
    {
        public bool Swapped { get; set; }

        /// <summary>
        /// The helper container that staged the copy, kept for its swap or its removal: a helper's create, start and removal
        /// took 0.5-0.7 s of each volume's swap, with the application stopped, against an exec's tenth of a second.
        /// </summary>
        public string? Helper { get; set; }
    }

    private const string StagingPrefix = ".upgradeops-staging-";

    /// <summary>
    /// Stages the archive, then puts it in the live content's place: a restore that fails while it writes (a full disk, a
    /// damaged archive) leaves the volume as it was, which emptying it first and extracting into it did not.
    /// </summary>
    private static async Task RestoreVolumeAsync(ComposeDeployment source, DataStoreDefinition store, string folder, BackupComponent component,
        byte[]? passphrase, CancellationToken ct)
    {
        var staged = await StageVolumeAsync(source, store, folder, component, passphrase, ct).ConfigureAwait(false);
        try
        {
            await SwapVolumeAsync(source, staged, ct).ConfigureAwait(false);
        }
        finally
        {
            if (!staged.Swapped) await DiscardVolumeAsync(source, staged).ConfigureAwait(false);
            await ReleaseVolumeHelperAsync(source, staged).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Extracts the archive into a hidden staging folder on the volume's own file system (so the swap is renames, which need no
    /// space), through a short-lived container of the same image that mounts only that volume and has no network, kept for
    /// the swap (the caller releases it with <see cref="ReleaseVolumeHelperAsync"/>). The live content is not touched; a
    /// staging folder a killed restore left is removed by the swap.
    /// </summary>
    internal static async Task<StagedVolume> StageVolumeAsync(ComposeDeployment source, DataStoreDefinition store, string folder, BackupComponent component,
        byte[]? passphrase, CancellationToken ct)
    {
        var volume = await source.VolumeAsync(store, ct).ConfigureAwait(false);
        var staged = new StagedVolume(component, volume.VolumeName, volume.Image, $"{RestoreMount}/{Path.GetFileName(volume.MountPath.TrimEnd('/'))}",
            StagingPrefix + Guid.NewGuid().ToString("N"));
        var helper = staged.Helper = await StartVolumeHelperAsync(source, staged, ct).ConfigureAwait(false);
        try
        {
            var made = await DockerExec.RunAsync(source.Engine.Client, helper, new[] { "mkdir", $"{staged.MountPath}/{staged.StagingFolder}" }, ct).ConfigureAwait(false);
            if (made.ExitCode != 0) throw VolumeFailure(staged, "making its staging folder", swapping: false, made.StandardError.Trim());
            try
            {
                await using var archive = BackupVerifier.OpenContent(folder, component, passphrase);
                await source.Engine.Client.Containers.ExtractArchiveToContainerAsync(helper,
                    new CopyToContainerParameters { Path = $"{staged.MountPath}/{staged.StagingFolder}" }, archive, ct).ConfigureAwait(false);
            }
            catch (Docker.DotNet.DockerApiException ex)
            {
                throw VolumeFailure(staged, "staging the backup's copy beside the live content", swapping: false, DockerModels.ErrorOf(ex), ex);
            }
        }
        catch
        {
            await DiscardVolumeAsync(source, staged).ConfigureAwait(false);
            await ReleaseVolumeHelperAsync(source, staged).ConfigureAwait(false);
            throw;
        }
        return staged;
    }

    /// <summary>
    /// Puts a staged copy in the live content's place: everything else at the volume's root goes (a staging folder an earlier,
    /// killed restore left too), the staged entries move up by rename, the root takes the archive's owner and mode.
    /// </summary>
    internal static async Task SwapVolumeAsync(ComposeDeployment source, StagedVolume staged, CancellationToken ct)
    {
        var helper = staged.Helper ?? throw VolumeFailure(staged, "putting the staged copy in place", swapping: false, "its helper container was already removed");
        var swap = await DockerExec.RunAsync(source.Engine.Client, helper, new[] { "sh", "-c", SwapScript, "upgradeops-volume-swap", staged.MountPath, staged.StagingFolder }, ct)
            .ConfigureAwait(false);
        if (swap.ExitCode != 0) throw VolumeFailure(staged, "putting the staged copy in place", swapping: true, swap.StandardError.Trim());
        staged.Swapped = true;
    }

    /// <summary>Removes a staged copy that was not swapped in (best effort: a leftover is removed by the next restore's swap).</summary>
    internal static async Task DiscardVolumeAsync(ComposeDeployment source, StagedVolume staged)
    {
        if (staged.Helper is { } helper)
            await RunQuietlyAsync(source, helper, new[] { "rm", "-rf", $"{staged.MountPath}/{staged.StagingFolder}" }).ConfigureAwait(false);
    }

    /// <summary>Removes the helper container a staged volume kept (best effort: it mounts only the volume, and its sleep ends within the hour).</summary>
    internal static async Task ReleaseVolumeHelperAsync(ComposeDeployment source, StagedVolume staged)
    {
        if (staged.Helper is not { } helper) return;
        staged.Helper = null;
        try
        {
            // With the anonymous volumes of the image's other VOLUME paths: else each restore of a volume would leave empty ones behind.
            await source.Engine.RemoveOneOffAsync(helper, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Docker.DotNet.DockerApiException or HttpRequestException or IOException)
        {
            // Found by its label (org.upgradeops.purpose=volume-restore) and removed by hand at worst.
        }
    }

    // $1 the volume's root, $2 the staging folder there; the archive's one top-level folder (the source's mount point) holds
    // the content. POSIX sh and find/rm/mv/stat/chown/chmod only, as in busybox images.
    internal const string SwapScript =
        "set -e; root=\"$1\"; stage=\"$1/$2\"; set -- \"$stage\"/* \"$stage\"/.[!.]* \"$stage\"/..?*; top=''; " +
        "for f do if [ -e \"$f\" ] || [ -L \"$f\" ]; then [ -z \"$top\" ] || { echo 'the archive has more than one top-level entry' >&2; exit 3; }; top=\"$f\"; fi; done; " +
        "[ -d \"$top\" ] || { echo 'the archive has no top-level folder' >&2; exit 3; }; " +
        "for f in \"$root\"/* \"$root\"/.[!.]* \"$root\"/..?*; do if { [ -e \"$f\" ] || [ -L \"$f\" ]; } && [ \"$f\" != \"$stage\" ]; then rm -rf -- \"$f\"; fi; done; " +
        "for f in \"$top\"/* \"$top\"/.[!.]* \"$top\"/..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then mv -- \"$f\" \"$root\"/; fi; done; " +
        "chown \"$(stat -c %u:%g \"$top\")\" \"$root\"; chmod \"$(stat -c %a \"$top\")\" \"$root\"; rm -rf -- \"$stage\"";

    /// <summary>How a volume helper's name starts: its deployment's name, so a next restore or rollback finds what a killed one left.</summary>
    internal static string VolumeHelperPrefix(string deploymentName) => $"{deploymentName}-upgradeops-restore-";

    /// <summary>Starts a short-lived container of the volume's image that mounts only the volume and has no network; returns its id.</summary>
    private static async Task<string> StartVolumeHelperAsync(ComposeDeployment source, StagedVolume staged, CancellationToken ct)
    {
        var helper = await source.Engine.Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = staged.Image,
            Name = VolumeHelperPrefix(source.Deployment.Name) + Guid.NewGuid().ToString("N"),
            Entrypoint = new List<string> { "sleep" },
            Cmd = new List<string> { "3600" },
            Labels = new Dictionary<string, string> { [ComposeDeployment.PurposeLabel] = "volume-restore" },
            HostConfig = new HostConfig
            {
                NetworkMode = "none",
                Mounts = new List<Mount> { new() { Type = "volume", Source = staged.VolumeName, Target = staged.MountPath } },
            },
        }, ct).ConfigureAwait(false);
        try
        {
            await source.Engine.Client.Containers.StartContainerAsync(helper.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
            return helper.ID;
        }
        catch
        {
            await source.Engine.RemoveOneOffAsync(helper.ID, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task RunQuietlyAsync(ComposeDeployment source, string container, IReadOnlyList<string> command)
    {
        try
        {
            await DockerExec.RunAsync(source.Engine.Client, container, command, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Docker.DotNet.DockerApiException or HttpRequestException or IOException)
        {
            // Best effort: the swap of the next restore removes what is left.
        }
    }

    /// <param name="swapping">Whether the live content was being replaced (it may be half old, half new) rather than only staged beside it.</param>
    private static UpgradeOpsException VolumeFailure(StagedVolume staged, string doing, bool swapping, string error, Exception? inner = null)
    {
        var full = error.Contains("no space left", StringComparison.OrdinalIgnoreCase);
        var state = swapping
            ? "The volume may hold part of its old and part of the backup's content."
            : "Its live content was not changed.";
        var next = full
            ? $"Its file system needs room for the backup's copy ({staged.Component.SizeBytes:N0} bytes in the backup) beside the live content while it is staged: free space there, then run the restore again."
            : swapping
                ? "Run the restore again: it stages the copy anew and replaces what is there."
                : "Check the backup with Test-DeploymentBackup and the volume's file system, then run the restore again.";
        return new UpgradeOpsException("VolumeRestoreFailed", full ? ErrorKind.ResourceUnavailable : ErrorKind.InvalidOperation, staged.Component.Name,
            $"Restoring volume {staged.VolumeName} failed while {doing}: {error.TrimEnd('.')}. {state} {next}", inner);
    }

    /// <summary>
    /// Where a configuration file of the backup goes back: the deployment's own compose file, or the .env beside it, never
    /// the path the manifest names (a manifest can be edited to name any file). The backup writes each as
    /// config/&lt;its own file name&gt;, and records where it came from; both must say the same.
    /// </summary>
    internal static string ConfigFileTarget(ComposeDeployment source, BackupComponent component) =>
        ConfigFileTarget(source.File, source.Deployment.Name, component);

    internal static string ConfigFileTarget(ComposeFile deploymentFile, string deploymentName, BackupComponent component)
    {
        var stored = Path.GetFileName(component.File.EndsWith(".enc", StringComparison.Ordinal) ? component.File[..^4] : component.File);
        var agrees = component.Source is null || Path.GetFileName(component.Source) == stored;
        if (agrees && stored == ".env") return deploymentFile.EnvFilePath;
        if (agrees && stored == Path.GetFileName(deploymentFile.Path)) return deploymentFile.Path;
        throw new UpgradeOpsException("BackupConfigFileUnknown", ErrorKind.InvalidData, component.File,
            $"The backup's configuration file {LocalFile.Shown(component.File)} (taken from {LocalFile.Shown(component.Source ?? "an unrecorded place")}) is neither the compose file " +
            $"nor the .env of '{deploymentName}' ({LocalFile.Shown(deploymentFile.Path)}): a restore puts configuration back only into the deployment's own files, " +
            "never where a manifest says. Restore the backup onto the deployment it was taken from, or copy that file back by hand.");
    }

    /// <summary>Every configuration file of the backup has its place in the deployment, checked before anything stops.</summary>
    internal static void CheckConfigFileTargets(ComposeDeployment source, DeploymentBackup backup)
    {
        foreach (var component in backup.Components.Where(c => c.Kind == BackupComponentKind.ConfigFile)) ConfigFileTarget(source, component);
    }

    /// <summary>Writes the file beside its target, then renames it over the target: never a half-written file.</summary>
    private static async Task RestoreFileAsync(string target, string folder, BackupComponent component, byte[]? passphrase, CancellationToken ct)
    {
        var temporary = target + $".upgradeops-{Guid.NewGuid():N}";
        try
        {
            await using (var content = BackupVerifier.OpenContent(folder, component, passphrase))
            await using (var output = File.Create(temporary))
                await content.CopyToAsync(output, ct).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows() && File.Exists(target)) File.SetUnixFileMode(temporary, File.GetUnixFileMode(target));
            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>The verification a restore of this deployment starts with; its dumps are read by its own database containers.</summary>
    internal static VerifiedRestore Verified(RestoreRequest request) => new()
    {
        BackupPath = request.BackupPath, Deployment = request.Deployment, Passphrase = request.Passphrase, Force = request.Force,
        DataStores = async ct => await ComposeDeployment.OpenAsync(request.Deployment, ct).ConfigureAwait(false),
    };
}

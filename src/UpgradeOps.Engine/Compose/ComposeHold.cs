using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;

namespace UpgradeOps.Compose;

/// <summary>The containers a backup or restore stopped or paused, as its hold file records them.</summary>
internal sealed record HeldContainers(string Operation, int ProcessId, DateTimeOffset Since, IReadOnlyList<string> Paused, IReadOnlyList<string> Stopped)
{
    public bool Any => Paused.Count + Stopped.Count > 0;
}

/// <summary>
/// The hold a backup or restore of a Compose deployment has on its application: a file in the deployment's state folder
/// (.upgradeops/hold.json) that the run keeps open and locked (FileShare.None: an advisory lock on Linux, released by the
/// kernel when the process dies) and in which it records the containers it stops or pauses before it does. A run killed
/// while it held them (kill -9, a lost session) leaves the file unlocked with its record: the next backup or restore takes
/// it over and brings those containers back first. A run that finds the file locked refuses (OperationInProgress): only one
/// backup or restore holds the application at a time, so a second one cannot take a Neo4j server another run holds stopped
/// for a leftover. The run empties the record once the containers are back (also after a failure or Ctrl+C) and closes the
/// file when it ends; the file stays: removing it would let a run that opened it meanwhile lock a file no longer there.
/// </summary>
internal sealed class ComposeHold : IDisposable
{
    public const string FileName = "hold.json";
    private readonly FileStream _file;
    private readonly string _operation;

    private ComposeHold(FileStream file, string operation, HeldContainers? left)
    {
        _file = file;
        _operation = operation;
        Left = left;
    }

    /// <summary>What an interrupted run recorded and never brought back (null when none was left, or nothing was held).</summary>
    public HeldContainers? Left { get; }

    public string Path => _file.Name;

    public static string PathOf(string composeFile) => System.IO.Path.Combine(UpgradeJournal.StateFolder(composeFile), FileName);

    /// <summary>
    /// Where the hold is kept when the compose file's folder cannot be written (a backup run by a user who may only read it,
    /// as backups could before): the temp folder, named by the compose file's full path.
    /// </summary>
    internal static string FallbackPathOf(string composeFile) =>
        System.IO.Path.Combine(System.IO.Path.GetTempPath(),
            $"upgradeops-hold-{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(System.IO.Path.GetFullPath(composeFile))))[..16].ToLowerInvariant()}.json");

    /// <summary>Takes the hold for <paramref name="operation"/> ("backup", "restore"), or refuses while another run has it.</summary>
    public static ComposeHold Take(string composeFile, string operation, ILogger? log = null)
    {
        FileStream? file = null;
        Exception? unwritable = null;
        foreach (var path in new[] { PathOf(composeFile), FallbackPathOf(composeFile) })
        {
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
                file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                break;
            }
            // Locked by the run that holds it (FileShare.None: flock on Linux and macOS, a sharing violation on Windows).
            catch (IOException ex) when (IsLocked(path))
            {
                throw new UpgradeOpsException("OperationInProgress", ErrorKind.ResourceBusy, composeFile,
                    $"Another backup or restore of this deployment is running: it holds {path}. Wait for it to finish, then run this one again; " +
                    "only one backup or restore stops the application at a time.", ex);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                unwritable ??= ex;
                log?.LogDebug("The hold file {Path} cannot be opened ({Message}); trying the next place.", path, ex.Message);
            }
        }
        if (file is null)
            throw new UpgradeOpsException("StateFolderNotWritable", ErrorKind.PermissionDenied, composeFile,
                $"The hold file {PathOf(composeFile)} cannot be created ({unwritable!.Message}), nor {FallbackPathOf(composeFile)}. A backup or restore records there " +
                "which containers it stops; give write access to the compose file's folder or to the temp folder, then run it again.", unwritable);

        HeldContainers? left = null;
        try
        {
            if (file.Length > 0)
            {
                var text = new StreamReader(file, leaveOpen: true).ReadToEnd();
                try
                {
                    left = JsonSerializer.Deserialize<HeldContainers>(text);
                }
                catch (JsonException)
                {
                    log?.LogWarning("The hold file {Path} an interrupted backup or restore left cannot be read; the containers it may have stopped are not known. " +
                                    "Check with 'docker compose ps -a' that every service runs.", file.Name);
                }
            }
            var hold = new ComposeHold(file, operation, left is { Any: true } ? left : null);
            hold.Record(Array.Empty<string>(), Array.Empty<string>());
            return hold;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Whether another handle holds the file (then even a shared read is refused); false when it is not there or readable.</summary>
    private static bool IsLocked(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using (new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)) return false;
        }
        catch (IOException)
        {
            return File.Exists(path);
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Records the containers about to be paused and stopped (empty: all are back), replacing the record.</summary>
    public void Record(IEnumerable<string> paused, IEnumerable<string> stopped)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new HeldContainers(_operation, Environment.ProcessId, DateTimeOffset.UtcNow, paused.ToList(), stopped.ToList()));
        _file.SetLength(0);
        _file.Position = 0;
        _file.Write(bytes);
        _file.Flush(flushToDisk: true);
    }

    /// <summary>The held containers are back (or were tried): the record is emptied; a failure to write it is only a warning.</summary>
    public void Released(ILogger log)
    {
        try
        {
            Record(Array.Empty<string>(), Array.Empty<string>());
        }
        catch (IOException ex)
        {
            log.LogWarning("The hold file {Path} could not be emptied: {Message}", Path, ex.Message);
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>
    /// Brings back what an interrupted backup or restore left: each Neo4j server it left held stopped is resumed and waited
    /// for until its container is back and healthy, then the containers it had stopped are started and those it had paused
    /// resumed. When a Neo4j server had been left stopped, the run stops there with Neo4jLeftStopped (saying all is back);
    /// otherwise it goes on, the deployment's containers read again.
    /// </summary>
    public async Task RecoverAsync(ComposeDeployment source, string whatToRunAgain, ILogger log, CancellationToken ct)
    {
        // The first Neo4j server found left held stopped: its target and process id, for the error at the end.
        (Neo4jTarget Target, string Pid)? leftStopped = null;
        foreach (var store in source.Profile.DataStores.Where(s => s.Kind == DataStoreKind.Neo4j && s.Service is not null))
        {
            if (!source.ContainersOf(store.Service!).Any(c => c.State == "running")) continue;
            var startedBefore = await source.StartTimesAsync(store, ct).ConfigureAwait(false);
            var target = await source.Neo4jAsync(store, log, ct).ConfigureAwait(false);
            if (await target.ResumeIfLeftHeldAsync(ct).ConfigureAwait(false) is not { } pid) continue;
            leftStopped ??= (target, pid);
            try
            {
                // The application must not start against a database about to go: it is waited for until it is back.
                await source.BringBackAsync(startedBefore, TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
            }
            catch (Exception back) when (back is UpgradeOpsException or Docker.DotNet.DockerApiException)
            {
                log.LogWarning("The database of {Store} is not back after it was resumed: {Message}", store.Name, back.Message);
            }
        }

        var broughtBack = new List<string>();
        if (Left is { } left)
        {
            foreach (var id in left.Paused)
            {
                try
                {
                    await source.Engine.Client.Containers.UnpauseContainerAsync(id, CancellationToken.None).ConfigureAwait(false);
                    broughtBack.Add(id);
                }
                catch (Docker.DotNet.DockerApiException ex)
                {
                    log.LogDebug("Container {Container} the interrupted {Operation} had paused was not resumed: {Message}", id, left.Operation, ex.Message);
                }
            }
            await Task.WhenAll(left.Stopped.Select(async id =>
            {
                try
                {
                    await source.Engine.Client.Containers.StartContainerAsync(id, new Docker.DotNet.Models.ContainerStartParameters(), CancellationToken.None).ConfigureAwait(false);
                    lock (broughtBack) broughtBack.Add(id);
                }
                catch (Docker.DotNet.DockerApiException ex)
                {
                    log.LogWarning("Container {Container} the interrupted {Operation} had stopped could not be started: {Message}. Start it with 'docker start {Container}'.",
                        id, left.Operation, ex.Message, id);
                }
            })).ConfigureAwait(false);
            Record(Array.Empty<string>(), Array.Empty<string>());
            await source.RefreshAsync(ct).ConfigureAwait(false);
            var names = source.Containers.Where(c => broughtBack.Contains(c.ID)).Select(ComposeUpgradePlan.NameOf).ToList();
            log.LogWarning("A {Operation} interrupted at {Since:u} (process {Process}) had left containers stopped or paused; they were brought back: {Containers}.",
                left.Operation, left.Since, left.ProcessId, string.Join(", ", names));
            if (broughtBack.Count > 0)
            {
                try
                {
                    await ComposeHealth.WaitHealthyAsync(source.Engine, source.Deployment.Name, TimeSpan.FromMinutes(2), ct, broughtBack).ConfigureAwait(false);
                }
                catch (UpgradeOpsException ex)
                {
                    log.LogWarning("The containers brought back are not healthy: {Message}", ex.Message);
                }
            }
        }

        if (leftStopped is { } held)
        {
            var started = Left is { Stopped.Count: > 0 } ? " The containers that run had stopped were started again." : "";
            throw held.Target.LeftStopped(held.Pid, $"it was resumed and its container is back.{started} Nothing else was done: {whatToRunAgain}");
        }
    }
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace UpgradeOps.Journal;

/// <summary>A product container as it was before the upgrade: what to return to on rollback.</summary>
public sealed class PreviousContainer
{
    public required string Name { get; set; }
    public required string Service { get; set; }
    public required string Image { get; set; }
    public required string ImageId { get; set; }
}

/// <summary>
/// The journal of one upgrade or rollback, written (atomically) before each step: what is about to happen,
/// what is done, and what to restore — backup, previous image ids, previous file hashes. -Resume continues
/// from it; Invoke-Rollback returns to what it recorded; Get-UpgradeHistory lists them.
/// </summary>
public sealed class UpgradeJournal
{
    public int SchemaVersion { get; set; } = 1;
    public required UpgradeResult Result { get; set; }
    public string? ComposeFile { get; set; }
    public string? Profile { get; set; }
    public string? DockerEndpoint { get; set; }
    /// <summary>The hops, in order ("1.6.4→1.7.6").</summary>
    public List<string> Hops { get; set; } = new();
    /// <summary>Steps that finished, by key ("hop1:migrate"), so a resume skips them.</summary>
    public List<string> Completed { get; set; } = new();
    /// <summary>The step about to run or running when the journal was last written.</summary>
    public string? Current { get; set; }
    public List<PreviousContainer> PreviousContainers { get; set; } = new();
    /// <summary>File path → SHA-256 of its content before the upgrade.</summary>
    public Dictionary<string, string> PreviousFileHashes { get; set; } = new();
    /// <summary>Variables a configuration migration added (names only; values live in .env, never here).</summary>
    public List<string> AddedVariables { get; set; } = new();
    /// <summary>Helm: the release revision the upgrade started from, which Invoke-Rollback returns to.</summary>
    public int? PreviousRevision { get; set; }
    /// <summary>Helm: the version the whole path went to (each hop journals only its own To): what Invoke-Upgrade -Resume continues to.</summary>
    public string? Target { get; set; }

    [JsonIgnore]
    public string Path { get; set; } = "";

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The state folder of a Compose deployment: beside its compose file.</summary>
    public static string StateFolder(string composeFile) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(composeFile))!, ".upgradeops");

    public static string JournalFolder(string composeFile) => System.IO.Path.Combine(StateFolder(composeFile), "journal");

    /// <summary>Writes the journal beside itself and renames it into place, so a kill never leaves half a journal.</summary>
    public void Save()
    {
        // What a report made later from this result needs to find the deployment's secrets to mask (never the secrets).
        Result.Location ??= ComposeFile;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var temporary = Path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Options));
        File.Move(temporary, Path, overwrite: true);
    }

    public static UpgradeJournal Load(string path)
    {
        if (Directory.Exists(path))
            throw Unreadable(path, "it is a folder, not a journal file");
        UpgradeJournal? journal;
        try
        {
            journal = JsonSerializer.Deserialize<UpgradeJournal>(File.ReadAllText(path), Options);
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw Unreadable(path, ex is JsonException json ? JsonReason(json) : ex.Message, ex);
        }
        if (journal is null) throw Unreadable(path, "it is empty (null)");
        if (Missing(journal) is { } field) throw Unreadable(path, $"its field '{field}' is missing or null");
        journal.Path = path;
        journal.Result.JournalPath = path;
        // Journals written before results carried their location and platform: the compose file is the location, and a
        // journal without one was a Helm release's (its strategy says so).
        journal.Result.Location ??= journal.ComposeFile;
        if (journal.ComposeFile is null && journal.Result.Strategy == UpgradeStrategy.Helm) journal.Result.Platform = DeploymentPlatform.Kubernetes;
        return journal;
    }

    /// <summary>Every journal of a deployment, newest first; one that cannot be read stops with JournalUnreadable.</summary>
    public static IReadOnlyList<UpgradeJournal> List(string stateAnchor)
    {
        var (journals, unreadable) = ListReadable(stateAnchor);
        if (unreadable.Count > 0) throw unreadable[0];
        return journals;
    }

    /// <summary>
    /// Every journal that can be read, newest first, and an error for each that cannot: a history lists what it can and says
    /// what it could not, where a resume or a rollback (which must know every upgrade) refuses through <see cref="List"/>.
    /// </summary>
    public static (IReadOnlyList<UpgradeJournal> Journals, IReadOnlyList<UpgradeOpsException> Unreadable) ListReadable(string stateAnchor)
    {
        var folder = JournalFolder(stateAnchor);
        if (!Directory.Exists(folder)) return (Array.Empty<UpgradeJournal>(), Array.Empty<UpgradeOpsException>());
        var journals = new List<UpgradeJournal>();
        var unreadable = new List<UpgradeOpsException>();
        foreach (var path in Directory.GetFileSystemEntries(folder, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                journals.Add(Load(path));
            }
            catch (UpgradeOpsException ex)
            {
                unreadable.Add(ex);
            }
        }
        return (journals.OrderByDescending(j => j.Result.Started).ToList(), unreadable);
    }

    /// <summary>The first field the engine relies on that a damaged or hand-edited journal lacks.</summary>
    private static string? Missing(UpgradeJournal journal)
    {
        var result = journal.Result;
        if (result is null) return "result";
        if (string.IsNullOrWhiteSpace(result.Id)) return "result.id";
        if (string.IsNullOrWhiteSpace(result.DeploymentName)) return "result.deploymentName";
        if (string.IsNullOrWhiteSpace(result.From)) return "result.from";
        if (string.IsNullOrWhiteSpace(result.To)) return "result.to";
        if (result.Operation is not ("Upgrade" or "Rollback")) return "result.operation";
        if (result.Steps is null || result.Steps.Any(s => s is null || s.Name is null)) return "result.steps";
        if (result.MigrationOutput is null || result.MigrationOutput.Any(o => o is null)) return "result.migrationOutput";
        if (result.Rollout is null || result.Rollout.Any(r => r is null || r.Workload is null)) return "result.rollout";
        if (journal.Hops is null || journal.Hops.Any(h => h is null || h.Split('→').Length != 2)) return "hops";
        if (journal.Completed is null || journal.Completed.Any(c => c is null)) return "completed";
        if (journal.PreviousContainers is null || journal.PreviousContainers.Any(c => c is null || c.Name is null || c.Service is null || c.Image is null || c.ImageId is null))
            return "previousContainers";
        if (journal.PreviousFileHashes is null) return "previousFileHashes";
        if (journal.AddedVariables is null || journal.AddedVariables.Any(v => v is null)) return "addedVariables";
        return null;
    }

    private static string JsonReason(JsonException ex) =>
        ex.LineNumber is { } line ? $"{ex.Message.Split(" Path:", 2)[0].TrimEnd('.')} (line {line + 1}, position {ex.BytePositionInLine + 1})" : ex.Message;

    private static UpgradeOpsException Unreadable(string path, string reason, Exception? inner = null) =>
        new("JournalUnreadable", ErrorKind.InvalidData, path,
            $"The upgrade journal {path} cannot be read: {Hosting.LocalFile.Shown(reason)}. It is damaged or was edited by hand, and UpgradeOps does not guess " +
            "what it recorded. Move it out of the journal folder (keep it for support) and run the command again; if that upgrade was interrupted, " +
            "check the deployment with Get-UpgradeDeployment and return it to its backup with Invoke-Rollback -Backup.", inner);

    public bool IsDone(string key) => Completed.Contains(key);
}

/// <summary>
/// One upgrade at a time per deployment: a lock file with the owner's process id and host. A lock whose
/// process is gone is stale: reported, and taken over only with -Force.
/// </summary>
public sealed class UpgradeLock : IDisposable
{
    private readonly string _path;

    private UpgradeLock(string path) => _path = path;

    public sealed record Owner(int ProcessId, string Host, string UpgradeId, DateTimeOffset Since);

    public static UpgradeLock Acquire(string composeFile, string upgradeId, bool force)
    {
        var folder = UpgradeJournal.StateFolder(composeFile);
        Directory.CreateDirectory(folder);
        var path = System.IO.Path.Combine(folder, "upgrade.lock");
        var me = new Owner(Environment.ProcessId, Environment.MachineName, upgradeId, DateTimeOffset.UtcNow);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                JsonSerializer.Serialize(stream, me);
                return new UpgradeLock(path);
            }
            catch (IOException) when (File.Exists(path))
            {
                var owner = Read(path);
                // Another machine's process cannot be checked from here (a compose folder on shared storage): it may run, or that
                // machine may have died mid-upgrade. -Force never takes such a lock (runbooks pass -Force routinely); the
                // message says how a person who knows it is gone takes it.
                if (owner is not null && owner.Host != Environment.MachineName)
                    throw new UpgradeOpsException("UpgradeInProgress", ErrorKind.ResourceBusy, composeFile,
                        $"Upgrade {owner.UpgradeId} of this deployment was started on {owner.Host} (process {owner.ProcessId}, since {owner.Since:u}), which " +
                        $"this machine cannot check. If it still runs there, wait for it to finish. If {owner.Host} stopped or was restarted during it, " +
                        $"delete {path} and continue it with Invoke-Upgrade -Resume or undo it with Invoke-Rollback; -Force does not take another machine's lock.");
                if (owner is not null && IsAlive(owner.ProcessId))
                    throw new UpgradeOpsException("UpgradeInProgress", ErrorKind.ResourceBusy, composeFile,
                        $"Upgrade {owner.UpgradeId} of this deployment is running (process {owner.ProcessId} on {owner.Host}, since {owner.Since:u}). " +
                        "Wait for it to finish; only one upgrade or rollback runs at a time.");
                if (!force)
                    throw new UpgradeOpsException("StaleUpgradeLock", ErrorKind.ResourceBusy, composeFile,
                        (owner is null
                            ? $"A lock ({path}) is left that cannot be read (damaged, or not written by UpgradeOps), so no running upgrade owns it. "
                            : $"Upgrade {owner.UpgradeId} left a lock ({path}) but its process {owner.ProcessId} is gone: it was interrupted. ") +
                        "Continue it with Invoke-Upgrade -Resume (a Helm release: with -Chart; it first repairs a release left pending), " +
                        "undo it with Invoke-Rollback, or take the lock with -Force.");
                File.Delete(path);
            }
        }
        throw new UpgradeOpsException("UpgradeInProgress", ErrorKind.ResourceBusy, composeFile, $"The upgrade lock {path} could not be taken. Try again.");
    }

    /// <summary>The journal id of an interrupted upgrade whose lock was left behind, if any.</summary>
    public static Owner? Current(string composeFile)
    {
        var path = System.IO.Path.Combine(UpgradeJournal.StateFolder(composeFile), "upgrade.lock");
        return File.Exists(path) ? Read(path) : null;
    }

    private static Owner? Read(string path)
    {
        try
        {
            // A lock without its owner's host and upgrade is damaged: it cannot be another machine's running upgrade.
            return JsonSerializer.Deserialize<Owner>(File.ReadAllText(path)) is { Host.Length: > 0, UpgradeId.Length: > 0 } owner ? owner : null;
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsAlive(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // the next Acquire reports it as stale
        }
    }
}

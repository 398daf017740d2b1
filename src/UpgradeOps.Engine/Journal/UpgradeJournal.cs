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
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var temporary = Path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Options));
        File.Move(temporary, Path, overwrite: true);
    }

    public static UpgradeJournal Load(string path)
    {
        try
        {
            var journal = JsonSerializer.Deserialize<UpgradeJournal>(File.ReadAllText(path), Options)
                          ?? throw new JsonException("empty journal");
            journal.Path = path;
            journal.Result.JournalPath = path;
            return journal;
        }
        catch (Exception ex) when (ex is JsonException or IOException)
        {
            throw new UpgradeOpsException("JournalUnreadable", ErrorKind.InvalidData, path, $"The upgrade journal {path} cannot be read: {ex.Message}");
        }
    }

    /// <summary>Every journal of a deployment, newest first.</summary>
    public static IReadOnlyList<UpgradeJournal> List(string composeFile)
    {
        var folder = JournalFolder(composeFile);
        if (!Directory.Exists(folder)) return Array.Empty<UpgradeJournal>();
        return Directory.GetFiles(folder, "*.json").Select(Load).OrderByDescending(j => j.Result.Started).ToList();
    }

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
                var alive = owner is not null && owner.Host == Environment.MachineName && IsAlive(owner.ProcessId);
                if (alive || owner is not null && owner.Host != Environment.MachineName)
                    throw new UpgradeOpsException("UpgradeInProgress", ErrorKind.ResourceBusy, composeFile,
                        $"Upgrade {owner!.UpgradeId} of this deployment is running (process {owner.ProcessId} on {owner.Host}, since {owner.Since:u}). " +
                        "Wait for it to finish; only one upgrade or rollback runs at a time.");
                if (!force)
                    throw new UpgradeOpsException("StaleUpgradeLock", ErrorKind.ResourceBusy, composeFile,
                        $"Upgrade {owner?.UpgradeId ?? "(unknown)"} left a lock ({path}) but its process {owner?.ProcessId} is gone: it was interrupted. " +
                        "Continue it with Invoke-Upgrade -Resume (a Helm release: run Invoke-Upgrade again with -Force, which also repairs a release left pending), " +
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
            return JsonSerializer.Deserialize<Owner>(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is JsonException or IOException)
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

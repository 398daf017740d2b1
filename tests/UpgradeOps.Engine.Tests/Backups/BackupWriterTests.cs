using UpgradeOps.Backups;
using UpgradeOps.Hosting;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// The partial folder of a backup whose process was killed (kill -9: no catch or finally runs) is never removed by that
/// process: the next backup into the same folder removes it when its lock file is free, and leaves alone a partial folder
/// a running backup is writing (its lock held, by this process or another one).
/// </summary>
public sealed class BackupWriterTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("uops-writer-").FullName;
    private readonly CapturedLog _log = new();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static Deployment Deployment(string name) => new() { Name = name, Platform = DeploymentPlatform.Compose, Profile = "infrahub", Version = "1.7.5" };

    private BackupWriter Create(string name) => BackupWriter.Create(new BackupRequest { Deployment = Deployment(name), Path = _folder }, Deployment(name), "/srv/docker-compose.yml", _log);

    private static string[] Partials(string folder) => Directory.GetDirectories(folder, ".*.partial").Select(Path.GetFileName).Order().ToArray()!;

    /// <summary>What a killed backup leaves: its partial folder, a component half-written, the lock file no process holds.</summary>
    private string Abandoned(string id, bool withLockFile = true)
    {
        var partial = Path.Combine(_folder, $".{id}.partial");
        Directory.CreateDirectory(Path.Combine(partial, "config"));
        File.WriteAllText(Path.Combine(partial, "database.dump"), "half a dump");
        if (withLockFile) File.WriteAllText(Path.Combine(partial, BackupWriter.LockFileName), "");
        return partial;
    }

    [Fact]
    public async Task A_killed_backups_partial_folder_is_removed_by_the_next_backup_with_a_warning_that_names_it()
    {
        var left = Abandoned("prod-20260101-020000-1.7.5");
        var writer = Create("prod");
        Assert.False(Directory.Exists(left));
        Assert.Contains(_log.Lines, l => l.Contains(left) && l.Contains("unfinished folder of a backup"));
        await writer.CompleteAsync(TimeSpan.FromSeconds(1), default);
        Assert.Empty(Partials(_folder));
        Assert.Equal([writer.Backup.Id], BackupCatalog.List(_folder, null, EngineContext.Silent()).Select(b => b.Id));
    }

    [Fact]
    public async Task A_partial_folder_a_running_backup_writes_is_left_alone_and_its_lock_file_is_not_part_of_the_backup()
    {
        var running = Create("other");
        var writer = Create("prod");
        Assert.Equal([$".{running.Backup.Id}.partial", $".{writer.Backup.Id}.partial"], Partials(_folder).Order());
        Assert.DoesNotContain(_log.Lines, l => l.Contains("Removed"));

        await writer.CompleteAsync(TimeSpan.FromSeconds(1), default);
        Assert.False(File.Exists(Path.Combine(writer.Backup.Path, BackupWriter.LockFileName)));
        Assert.Equal(["config", "manifest.json"], Directory.EnumerateFileSystemEntries(writer.Backup.Path).Select(Path.GetFileName).Order());
        running.Abort();
        Assert.Empty(Partials(_folder));
    }

    [Fact]
    public void A_partial_folder_without_a_lock_file_is_left_alone()
    {
        // Made a moment ago (its writer has not opened the lock yet), or by an earlier UpgradeOps, which made none.
        var unknown = Abandoned("prod-20260101-020000-1.7.5", withLockFile: false);
        Create("prod").Abort();
        Assert.True(Directory.Exists(unknown));
        Assert.Equal([Path.GetFileName(unknown)], Partials(_folder));
    }
}

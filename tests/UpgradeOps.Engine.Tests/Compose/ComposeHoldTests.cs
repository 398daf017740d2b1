using System.Text.Json;
using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// The hold file of a Compose backup or restore (.upgradeops/hold.json): what a killed run stopped is found by the next
/// one, a run that still holds it keeps a second one out, and a finished run leaves nothing to bring back.
/// </summary>
public sealed class ComposeHoldTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("uops-hold-").FullName;
    private string ComposeFile => Path.Combine(_folder, "docker-compose.yml");
    private readonly CapturedLog _log = new();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void What_a_killed_run_recorded_is_what_the_next_one_finds_and_it_finds_it_once()
    {
        using (var killed = ComposeHold.Take(ComposeFile, "backup"))
        {
            Assert.Null(killed.Left);
            killed.Record(["paused-worker"], ["api", "worker"]);
            // kill -9 here: the process never empties the record; the kernel releases its lock (here: the file is closed).
        }
        using (var next = ComposeHold.Take(ComposeFile, "restore"))
        {
            var left = Assert.IsType<HeldContainers>(next.Left);
            Assert.Equal(("backup", Environment.ProcessId), (left.Operation, left.ProcessId));
            Assert.Equal(["paused-worker"], left.Paused);
            Assert.Equal(["api", "worker"], left.Stopped);
            // Taking the hold replaced the record with its own, holding nothing yet.
            next.Released(_log);
        }
        using var third = ComposeHold.Take(ComposeFile, "backup");
        Assert.Null(third.Left);
        Assert.Equal(Path.Combine(_folder, ".upgradeops", ComposeHold.FileName), third.Path);
    }

    [Fact]
    public void A_second_run_while_one_holds_the_application_is_refused_and_takes_nothing_over()
    {
        using var running = ComposeHold.Take(ComposeFile, "backup");
        running.Record([], ["api", "worker"]);
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeHold.Take(ComposeFile, "backup"));
        Assert.Equal(("OperationInProgress", ErrorKind.ResourceBusy, (object?)ComposeFile), (error.ErrorId, error.Kind, error.Target));
        Assert.Contains("Wait for it to finish, then run this one again", error.Message);
        running.Dispose();
        using var next = ComposeHold.Take(ComposeFile, "backup");
        Assert.Equal(["api", "worker"], next.Left!.Stopped);
    }

    [Theory]
    [InlineData("{\"Operation\": \"backup\", \"Paus")]
    [InlineData("not json")]
    public void A_record_cut_short_is_a_warning_and_nothing_is_brought_back(string text)
    {
        Directory.CreateDirectory(Path.Combine(_folder, ".upgradeops"));
        File.WriteAllText(ComposeHold.PathOf(ComposeFile), text);
        using (var hold = ComposeHold.Take(ComposeFile, "backup", _log)) Assert.Null(hold.Left);
        Assert.Contains(_log.Lines, l => l.Contains("cannot be read") && l.Contains("docker compose ps -a"));
        Assert.Equal("backup", JsonSerializer.Deserialize<HeldContainers>(File.ReadAllText(ComposeHold.PathOf(ComposeFile)))!.Operation);
    }

    [Fact]
    public void A_compose_folder_that_cannot_be_written_keeps_the_hold_in_the_temp_folder_as_backups_needed_no_write_access_before()
    {
        // .upgradeops is a file here, so no folder can be made there (as root, a read-only folder would not stop the test).
        File.WriteAllText(Path.Combine(_folder, ".upgradeops"), "");
        try
        {
            using (var hold = ComposeHold.Take(ComposeFile, "backup", _log))
            {
                Assert.Equal(ComposeHold.FallbackPathOf(ComposeFile), hold.Path);
                hold.Record([], ["api"]);
                Assert.Equal("OperationInProgress", Assert.Throws<UpgradeOpsException>(() => ComposeHold.Take(ComposeFile, "restore")).ErrorId);
            }
            using var next = ComposeHold.Take(ComposeFile, "restore");
            Assert.Equal(["api"], next.Left!.Stopped);
        }
        finally
        {
            File.Delete(ComposeHold.FallbackPathOf(ComposeFile));
        }
    }

    [Fact]
    public void A_record_of_nothing_held_brings_nothing_back()
    {
        using (var hold = ComposeHold.Take(ComposeFile, "backup")) hold.Record([], []);
        using var next = ComposeHold.Take(ComposeFile, "restore");
        Assert.Null(next.Left);
    }
}

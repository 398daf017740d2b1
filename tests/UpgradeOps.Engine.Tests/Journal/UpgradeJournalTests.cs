using UpgradeOps.Journal;
using UpgradeOps.Upgrades;

namespace UpgradeOps.Tests.Journal;

/// <summary>Journals as the disk may hold them: damaged, edited by hand, cut short, beside good ones.</summary>
public sealed class UpgradeJournalTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("uops-journal-").FullName;
    private string ComposeFile => Path.Combine(_folder, "docker-compose.yml");
    private string JournalFolder => UpgradeJournal.JournalFolder(ComposeFile);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private UpgradeJournal Save(string id, DateTimeOffset started)
    {
        var journal = new UpgradeJournal
        {
            Path = Path.Combine(JournalFolder, id + ".json"), ComposeFile = ComposeFile,
            Result = new UpgradeResult { Id = id, DeploymentName = "proj", From = "1.7.5", To = "1.7.6", Started = started },
        };
        journal.Save();
        return journal;
    }

    private string Write(string name, string text)
    {
        Directory.CreateDirectory(JournalFolder);
        var path = Path.Combine(JournalFolder, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData("{", "line")]
    [InlineData("", "")]
    [InlineData("null", "empty")]
    [InlineData("{\"result\": null}", "'result'")]
    [InlineData("{\"result\": {\"id\": null, \"deploymentName\": \"p\", \"from\": \"1\", \"to\": \"2\"}}", "'result.id'")]
    [InlineData("{\"result\": {\"id\": \"x\", \"deploymentName\": \"p\", \"from\": \"1.7.5\", \"to\": \"1.7.6\", \"steps\": null}}", "'result.steps'")]
    [InlineData("{\"result\": {\"id\": \"x\", \"deploymentName\": \"p\", \"from\": \"1.7.5\", \"to\": \"1.7.6\", \"steps\": [null]}}", "'result.steps'")]
    [InlineData("{\"result\": {\"id\": \"x\", \"deploymentName\": \"p\", \"from\": \"1.7.5\", \"to\": \"1.7.6\", \"status\": \"Exploded\"}}", "")]
    [InlineData("{\"result\": {\"id\": \"x\", \"deploymentName\": \"p\", \"from\": \"1.7.5\", \"to\": \"1.7.6\"}, \"hops\": [\"1.7.5\"]}", "'hops'")]
    [InlineData("{\"result\": {\"id\": \"x\", \"deploymentName\": \"p\", \"from\": \"1.7.5\", \"to\": \"1.7.6\"}, \"previousContainers\": [{\"name\": null, \"service\": \"s\", \"image\": \"i\", \"imageId\": \"d\"}]}", "'previousContainers'")]
    public void A_damaged_journal_is_JournalUnreadable_naming_the_file_and_what_is_wrong(string text, string reason)
    {
        var path = Write("damaged.json", text);
        var error = Assert.Throws<UpgradeOpsException>(() => UpgradeJournal.Load(path));
        Assert.Equal("JournalUnreadable", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Equal(path, error.Target);
        Assert.Contains(reason, error.Message);
        Assert.Contains("Move it out of the journal folder", error.Message);
    }

    [Fact]
    public void A_folder_named_like_a_journal_is_JournalUnreadable()
    {
        Directory.CreateDirectory(Path.Combine(JournalFolder, "x.json"));
        var error = Assert.Throws<UpgradeOpsException>(() => UpgradeJournal.Load(Path.Combine(JournalFolder, "x.json")));
        Assert.Contains("is a folder", error.Message);
    }

    [Fact]
    public void Control_characters_of_a_damaged_file_are_not_echoed_raw()
    {
        var path = Write("binary.json", "\0\u0001\u0002garbage");
        var error = Assert.Throws<UpgradeOpsException>(() => UpgradeJournal.Load(path));
        Assert.DoesNotContain(error.Message, c => char.IsControl(c));
    }

    [Fact]
    public void The_readable_journals_are_listed_newest_first_and_each_damaged_one_is_reported()
    {
        Save("old", DateTimeOffset.UtcNow.AddHours(-2));
        Save("new", DateTimeOffset.UtcNow);
        var damaged = Write("cut.json", "{\"result\": {\"id\": \"cut\"");

        var (journals, unreadable) = UpgradeJournal.ListReadable(ComposeFile);
        Assert.Equal(new[] { "new", "old" }, journals.Select(j => j.Result.Id));
        Assert.Equal(damaged, Assert.Single(unreadable).Target);

        // A resume or a rollback must know every upgrade, so it refuses rather than guess.
        Assert.Equal("JournalUnreadable", Assert.Throws<UpgradeOpsException>(() => UpgradeJournal.List(ComposeFile)).ErrorId);
    }

    [Fact]
    public void A_history_result_keeps_where_its_deployment_is_so_a_report_can_mask_its_secrets()
    {
        Save("up", DateTimeOffset.UtcNow);
        var loaded = UpgradeJournal.Load(Path.Combine(JournalFolder, "up.json"));
        Assert.Null(loaded.Result.Deployment);
        Assert.Equal(ComposeFile, loaded.Result.Location);

        var deployment = new Deployment { Name = "proj", Platform = DeploymentPlatform.Compose, Profile = "infrahub", Location = ComposeFile };
        var (results, unreadable) = UpgradeHistory.List(deployment);
        Assert.Empty(unreadable);
        Assert.Same(deployment, Assert.Single(results).Deployment);
    }

    [Fact]
    public void A_failed_result_keeps_the_kind_of_its_error_so_its_ErrorRecord_has_the_right_category()
    {
        var journal = Save("failed", DateTimeOffset.UtcNow);
        journal.Result.Status = UpgradeStatus.Failed;
        journal.Result.RecordError(new UpgradeOpsException("RolloutTimedOut", ErrorKind.OperationTimeout, "ns/rel", "did not finish"), "UpgradeFailed", ErrorKind.InvalidOperation);
        journal.Save();
        Assert.Contains("\"errorCategory\": \"OperationTimeout\"", File.ReadAllText(journal.Path));
        var loaded = UpgradeJournal.Load(journal.Path).Result;
        Assert.Equal(("RolloutTimedOut", ErrorKind.OperationTimeout, "did not finish"), (loaded.ErrorId, loaded.ErrorCategory, loaded.Error));

        // An exception the engine did not raise itself (an I/O error, Ctrl+C) gets the caller's id and kind.
        loaded.RecordError(new IOException("disk gone"), "RollbackFailed", ErrorKind.InvalidOperation, "the disk went away");
        Assert.Equal(("RollbackFailed", ErrorKind.InvalidOperation, "the disk went away"), (loaded.ErrorId, loaded.ErrorCategory, loaded.Error));
        // A journal written before the kind was kept still loads, without one.
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(journal.Path))!;
        Assert.True(json["result"]!.AsObject().Remove("errorCategory"));
        var old = Write("old.json", json.ToJsonString());
        Assert.Null(UpgradeJournal.Load(old).Result.ErrorCategory);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("{}")]
    [InlineData("{\"ProcessId\": 1}")]
    public void A_lock_that_cannot_be_read_is_stale_and_says_how_to_take_it(string text)
    {
        var state = UpgradeJournal.StateFolder(ComposeFile);
        Directory.CreateDirectory(state);
        File.WriteAllText(Path.Combine(state, "upgrade.lock"), text);
        var error = Assert.Throws<UpgradeOpsException>(() => UpgradeLock.Acquire(ComposeFile, "id", force: false));
        Assert.Equal("StaleUpgradeLock", error.ErrorId);
        Assert.Contains("cannot be read", error.Message);
        Assert.Contains("-Force", error.Message);
        using (UpgradeLock.Acquire(ComposeFile, "id", force: true)) { }
    }

    [Fact]
    public void A_lock_from_another_machine_is_never_taken_and_says_how_a_person_clears_it()
    {
        var state = UpgradeJournal.StateFolder(ComposeFile);
        Directory.CreateDirectory(state);
        var path = Path.Combine(state, "upgrade.lock");
        File.WriteAllText(path, "{\"ProcessId\": 4242, \"Host\": \"jump-host-7\", \"UpgradeId\": \"proj-up\", \"Since\": \"2026-12-04T02:00:00+00:00\"}");
        foreach (var force in new[] { false, true })
        {
            var error = Assert.Throws<UpgradeOpsException>(() => UpgradeLock.Acquire(ComposeFile, "id", force));
            Assert.Equal("UpgradeInProgress", error.ErrorId);
            Assert.Equal(ErrorKind.ResourceBusy, error.Kind);
            Assert.Contains("jump-host-7", error.Message);
            Assert.Contains(path, error.Message);
            Assert.Contains("Invoke-Upgrade -Resume", error.Message);
            Assert.True(File.Exists(path));
        }
    }
}

using Docker.DotNet.Models;
using UpgradeOps.Compose;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;
using static UpgradeOps.Engine.Tests.Compose.ComposeSamples;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>The decisions of a Compose rollback: which upgrade it undoes, its steps, what stops, which container set aside comes back, and what goes back on its previous image.</summary>
public class ComposeRollbackPlanTests
{
    private static UpgradeJournal Journal(string id, UpgradeStatus status = UpgradeStatus.Failed, string? backupPath = "/backups/b1") =>
        new() { Result = Result(id, status: status, backupPath: backupPath) };

    private static RollbackRequest Request(string? upgradeId = null, string? backupPath = null) =>
        new() { Deployment = Deployment(), UpgradeId = upgradeId, BackupPath = backupPath };

    [Fact]
    public void The_upgrade_UpgradeId_names_is_undone_even_one_already_rolled_back()
    {
        var journals = new[] { Journal("u2"), Journal("u1", UpgradeStatus.RolledBack) };
        Assert.Equal("u1", ComposeRollbackPlan.SelectJournal(journals, Request("u1"), "/srv/docker-compose.yml")!.Result.Id);
    }

    [Fact]
    public void An_UpgradeId_no_journal_records_is_not_found()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeRollbackPlan.SelectJournal([Journal("u1")], Request("u9"), "/srv/docker-compose.yml"));
        Assert.Equal(("UpgradeNotFound", ErrorKind.ObjectNotFound, (object?)"u9"), (error.ErrorId, error.Kind, error.Target));
    }

    [Fact]
    public void Without_UpgradeId_the_latest_upgrade_not_rolled_back_is_undone()
    {
        var journals = new[] { Journal("u3", UpgradeStatus.RolledBack), Journal("u2", UpgradeStatus.Succeeded), Journal("u1") };
        Assert.Equal("u2", ComposeRollbackPlan.SelectJournal(journals, Request(), "/srv/docker-compose.yml")!.Result.Id);
    }

    [Fact]
    public void Nothing_to_roll_back_when_every_upgrade_was_rolled_back()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeRollbackPlan.SelectJournal([Journal("u1", UpgradeStatus.RolledBack)], Request(), "/srv/docker-compose.yml"));
        Assert.Equal(("NothingToRollBack", (object?)"/srv/docker-compose.yml"), (error.ErrorId, error.Target));
    }

    [Fact]
    public void With_Backup_and_no_UpgradeId_no_journal_is_chosen_the_backup_says_where_to_return()
    {
        Assert.Null(ComposeRollbackPlan.SelectJournal([Journal("u1")], Request(backupPath: "/backups/b2"), "/srv/docker-compose.yml"));
    }

    [Fact]
    public void An_upgrade_that_ran_without_a_backup_needs_Backup_to_be_undone()
    {
        var journals = new[] { Journal("u1", backupPath: null) };
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeRollbackPlan.SelectJournal(journals, Request(), "/srv/docker-compose.yml"));
        Assert.Equal(("RollbackNeedsBackup", (object?)"u1"), (error.ErrorId, error.Target));
        Assert.Equal("u1", ComposeRollbackPlan.SelectJournal(journals, Request("u1", "/backups/b2"), "/srv/docker-compose.yml")!.Result.Id);
    }

    private static BackupComponent Component(string name, BackupComponentKind kind) => new() { Name = name, Kind = kind, File = name + ".bin", Sha256 = "" };

    [Fact]
    public void A_rollback_stops_the_product_restores_each_component_in_the_manifests_order_then_returns_to_the_previous_images_and_waits()
    {
        var components = new List<BackupComponent>
        {
            Component("prefect", BackupComponentKind.PostgresDump), Component("artifacts", BackupComponentKind.Volume), Component("config", BackupComponentKind.ConfigFile),
        };
        var steps = ComposeRollbackPlan.Steps(components);
        Assert.Equal(["stop product containers", "restore prefect", "restore artifacts", "restore config", "previous images", "wait healthy"], steps.Select(s => s.Name));
        Assert.Equal([5, 20, 36, 53, 75, 90], steps.Select(s => s.Percent));
        Assert.Equal(components, steps.Where(s => s.Kind == RollbackStepKind.RestoreComponent).Select(s => s.Component!));
    }

    [Fact]
    public void A_backup_without_components_still_stops_returns_to_the_images_and_waits()
    {
        Assert.Equal([RollbackStepKind.StopProductContainers, RollbackStepKind.PreviousImages, RollbackStepKind.WaitHealthy],
            ComposeRollbackPlan.Steps([]).Select(s => s.Kind));
    }

    [Fact]
    public void A_rollback_goes_from_where_the_upgrade_was_heading_to_the_backups_version_or_where_the_upgrade_started()
    {
        var backup = new DeploymentBackup { Id = "b1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = Project, Version = "1.7.4" };
        Assert.Equal(("1.8.0", "1.7.4"), ComposeRollbackPlan.Versions(Result("u1", "1.7.5", "1.8.0"), backup));
        backup.Version = null;
        Assert.Equal(("1.8.0", "1.7.5"), ComposeRollbackPlan.Versions(Result("u1", "1.7.5", "1.8.0"), backup));
    }

    [Fact]
    public void The_rollback_stops_running_and_restarting_product_containers_and_leaves_the_data_stores_running()
    {
        var containers = Containers();
        containers[0] = Container("prod-server-2", "server", state: "restarting");
        containers[2] = Container("prod-worker-1", "worker", state: "exited");
        Assert.Equal(["prod-server-2", "prod-server-1", "prod-worker-2"], Names(ComposeRollbackPlan.ToStop(Profile(), containers)));
    }

    [Fact]
    public void A_container_set_aside_on_its_recorded_image_takes_its_name_back_from_its_replacement_and_any_other_goes()
    {
        var containers = new List<ContainerListResponse> { Container("prod-server-1", "server", NewImage), Container("prod-worker-1", "worker", NewImage) };
        var asides = new[]
        {
            Container("prod-server-1-upgradeops-previous", "server"),
            Container("prod-worker-1-upgradeops-previous", "worker", imageId: "sha256:other"),
            Container("prod-stranger-upgradeops-previous", "worker"),
        };
        var previous = new List<PreviousContainer> { Previous("prod-server-1", "server"), Previous("prod-worker-1", "worker") };
        var returns = ComposeRollbackPlan.AsideReturns(containers, asides, previous);
        Assert.Equal([("prod-server-1", true), ("prod-worker-1", false), ("prod-stranger", false)], returns.Select(r => (r.Original, r.TakesNameBack)));
        Assert.Equal("id-prod-server-1", returns[0].Replacement!.ID);
        Assert.Null(returns[2].Replacement);
    }

    [Fact]
    public void Each_recorded_container_is_recreated_on_its_previous_image_started_when_still_on_it_or_missing_in_the_journals_order()
    {
        var containers = new List<ContainerListResponse>
        {
            Container("prod-server-1", "server", NewImage), Container("prod-server-2", "server"),
        };
        var previous = new List<PreviousContainer> { Previous("prod-server-2", "server"), Previous("prod-worker-1", "worker"), Previous("prod-server-1", "server") };
        var actions = ComposeRollbackPlan.PreviousImageActions(containers, previous);
        Assert.Equal([("prod-server-2", PreviousImageActionKind.Start), ("prod-worker-1", PreviousImageActionKind.Missing), ("prod-server-1", PreviousImageActionKind.Recreate)],
            actions.Select(a => (a.Previous.Name, a.Kind)));
        Assert.Null(actions[1].Current);
    }

    [Fact]
    public void Variables_the_upgrade_added_take_the_restored_env_value_or_become_empty()
    {
        var reset = ComposeRollbackPlan.AddedVariablesReset(["REDIS_HOST", "NEW_FLAG"], new Dictionary<string, string> { ["REDIS_HOST"] = "cache", ["VERSION"] = "1.7.5" });
        Assert.Equal(new Dictionary<string, string?> { ["REDIS_HOST"] = "cache", ["NEW_FLAG"] = "" }, reset);
    }

    [Fact]
    public void Without_a_journal_each_product_container_returns_to_its_image_at_the_backups_version_on_the_id_the_backup_recorded()
    {
        var containers = new List<ContainerListResponse>
        {
            Container("prod-server-1", "server", NewImage), Container("prod-worker-1", "worker", "registry.local/worker:1.7.6"),
            Container("prod-task-manager-db-1", "task-manager-db", "postgres:16"),
        };
        var backup = new DeploymentBackup
        {
            Id = "b1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = Project, Version = "1.7.5",
            ImageDigests = { [OldImage] = "sha256:old", ["postgres:16"] = "sha256:pg" },
        };
        var previous = ComposeRollbackPlan.PreviousFromBackup(Profile(), containers, backup);
        // The worker's image at 1.7.5 is not in the backup: it is left as it is.
        Assert.Equal([("prod-server-1", "server", OldImage, "sha256:old")], previous.Select(p => (p.Name, p.Service, p.Image, p.ImageId)));
    }

    [Fact]
    public void A_backup_without_a_version_returns_each_container_to_the_id_its_current_reference_had()
    {
        var backup = new DeploymentBackup { Id = "b1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = Project, ImageDigests = { [NewImage] = "sha256:then" } };
        var previous = ComposeRollbackPlan.PreviousFromBackup(Profile(), [Container("prod-server-1", "server", NewImage)], backup);
        Assert.Equal([(NewImage, "sha256:then")], previous.Select(p => (p.Image, p.ImageId)));
    }
}

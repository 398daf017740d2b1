using Docker.DotNet.Models;
using UpgradeOps.Compose;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;
using static UpgradeOps.Engine.Tests.Compose.ComposeSamples;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>The decisions of a Compose upgrade: the steps of a hop and their journal keys, what a resume still runs, what stops, what is recreated on which image, what is put back after a failure.</summary>
public class ComposeUpgradePlanTests
{
    private static readonly string[] StandardOrder =
        ["pull images", "configuration", "stop workers", "stop API", "migrate", "recreate API", "recreate workers", "update compose files", "clean up"];

    [Fact]
    public void A_standard_hop_pulls_first_stops_workers_before_the_API_migrates_with_both_stopped_and_brings_the_API_back_before_the_workers()
    {
        var steps = ComposeUpgradePlan.HopSteps(0, 1, "1.7.5", "1.7.6", rolling: false);
        Assert.Equal(StandardOrder, steps.Select(s => s.Name));
        Assert.Equal(StandardOrder.Select(n => "hop1:" + n), steps.Select(s => s.Key));
    }

    [Fact]
    public void A_rolling_hop_stops_nothing_and_keeps_the_order_of_the_other_steps()
    {
        var steps = ComposeUpgradePlan.HopSteps(0, 1, "1.7.5", "1.7.6", rolling: true);
        Assert.Equal(StandardOrder.Where(n => !n.StartsWith("stop", StringComparison.Ordinal)), steps.Select(s => s.Name));
        Assert.DoesNotContain(steps, s => s.Key.Contains("stop", StringComparison.Ordinal));
    }

    [Fact]
    public void A_single_hop_records_its_steps_by_name_alone()
    {
        var steps = ComposeUpgradePlan.HopSteps(0, 1, "1.7.5", "1.7.6", rolling: false);
        Assert.Equal(StandardOrder, steps.Select(s => s.RecordName));
    }

    [Fact]
    public void Each_hop_of_several_has_keys_of_its_own_and_records_name_its_versions()
    {
        var second = ComposeUpgradePlan.HopSteps(1, 2, "1.7.6", "1.8.0", rolling: false);
        Assert.All(second, s => Assert.StartsWith("hop2:", s.Key));
        Assert.All(second, s => Assert.Equal("1.7.6→1.8.0 " + s.Name, s.RecordName));
    }

    [Fact]
    public void Progress_rises_through_the_hops_and_ends_at_100()
    {
        var all = Enumerable.Range(0, 3).SelectMany(h => ComposeUpgradePlan.HopSteps(h, 3, "1.0.0", "1.1.0", rolling: false)).ToList();
        Assert.Equal(0, all[0].Percent);
        Assert.Equal(all.Select(s => s.Percent).Order(), all.Select(s => s.Percent));
        Assert.Equal(100, all[^1].Percent);
        // The step index counts also when the stop steps are left out, so a rolling hop's migration is where a standard one's is.
        Assert.Equal(ComposeUpgradePlan.HopSteps(0, 1, "a", "b", false).Single(s => s.Name == "migrate").Percent,
            ComposeUpgradePlan.HopSteps(0, 1, "a", "b", true).Single(s => s.Name == "migrate").Percent);
    }

    [Fact]
    public void A_resume_after_the_API_stopped_continues_with_the_migration_then_runs_every_later_hop_whole()
    {
        var completed = new[] { "hop1:pull images", "hop1:configuration", "hop1:stop workers", "hop1:stop API" };
        var pending = ComposeUpgradePlan.PendingSteps(Path("1.7.5", "1.7.6", "1.8.0").Steps, rolling: false, completed);
        Assert.Equal("hop1:migrate", pending[0].Key);
        Assert.Equal(5 + 9, pending.Count);
        Assert.Equal(StandardOrder.Select(n => "hop2:" + n), pending.Skip(5).Select(s => s.Key));
    }

    [Fact]
    public void A_resume_with_nothing_done_runs_everything_and_with_everything_done_nothing()
    {
        var hops = Path("1.7.5", "1.7.6").Steps;
        var all = ComposeUpgradePlan.PendingSteps(hops, rolling: false, Array.Empty<string>());
        Assert.Equal(9, all.Count);
        Assert.Empty(ComposeUpgradePlan.PendingSteps(hops, rolling: false, all.Select(s => s.Key).ToList()));
    }

    [Fact]
    public void A_step_that_was_running_when_the_session_died_runs_again_on_resume()
    {
        // The journal's Current names it, but only Completed makes a step done.
        var completed = new[] { "hop1:pull images", "hop1:configuration", "hop1:stop workers", "hop1:stop API" };
        var pending = ComposeUpgradePlan.PendingSteps(Path("1.7.5", "1.7.6").Steps, rolling: false, completed);
        Assert.Equal(["migrate", "recreate API", "recreate workers", "update compose files", "clean up"], pending.Select(s => s.Name));
    }

    [Fact]
    public void A_resumed_path_is_read_back_from_the_journals_hops()
    {
        var journal = new UpgradeJournal { Result = Result("u1", "1.6.4", "1.8.0"), Hops = { "1.6.4→1.7.6", "1.7.6→1.8.0" } };
        var path = ComposeUpgradePlan.ResumedPath(journal);
        Assert.True(path.IsSupported);
        Assert.Equal(("1.6.4", "1.8.0"), (path.From, path.To));
        Assert.Equal(["1.6.4→1.7.6", "1.7.6→1.8.0"], path.Steps.Select(s => $"{s.From}→{s.To}"));
    }

    [Fact]
    public void An_unsupported_path_is_refused()
    {
        var path = new UpgradePath { From = "1.7.5", To = "1.5.0", IsSupported = false, Reason = "a downgrade" };
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeUpgradePlan.CheckPath(new UpgradeRequest { Deployment = Deployment(), Path = path }));
        Assert.Equal("UpgradePathNotSupported", error.ErrorId);
    }

    [Fact]
    public void A_path_without_steps_has_nothing_to_upgrade()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeUpgradePlan.CheckPath(new UpgradeRequest { Deployment = Deployment(), Path = Path("1.7.5") }));
        Assert.Equal("NothingToUpgrade", error.ErrorId);
    }

    [Fact]
    public void A_path_from_another_version_than_the_deployment_runs_is_refused_and_an_unknown_version_is_not()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeUpgradePlan.CheckPath(new UpgradeRequest { Deployment = Deployment("1.7.4"), Path = Path("1.7.5", "1.7.6") }));
        Assert.Equal("DeploymentVersionChanged", error.ErrorId);
        ComposeUpgradePlan.CheckPath(new UpgradeRequest { Deployment = Deployment(null), Path = Path("1.7.5", "1.7.6") });
    }

    private static UpgradeRequest Rolling(params string[] versions) =>
        new() { Deployment = Deployment(), Path = Path(versions), Strategy = UpgradeStrategy.Rolling };

    [Fact]
    public void Rolling_needs_two_API_containers_and_one_set_aside_does_not_count()
    {
        var profile = Profile();
        profile.Migration.MixedVersionSafe.Add("1.7.6");
        var containers = Containers().Where(c => c.Names[0] != "/prod-server-2").ToList();
        containers.Add(Container("prod-server-2-upgradeops-previous", "server"));
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeUpgradePlan.CheckStrategy(Rolling("1.7.5", "1.7.6"), profile, containers, Project));
        Assert.Equal("RollingNotPossible", error.ErrorId);
        Assert.Contains("has 1", error.Message);
    }

    [Fact]
    public void Rolling_is_refused_for_hops_the_profile_does_not_mark_safe_with_mixed_versions_and_the_error_names_them()
    {
        var profile = Profile();
        profile.Migration.MixedVersionSafe.Add("1.7.6");
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeUpgradePlan.CheckStrategy(Rolling("1.7.5", "1.7.6", "1.8.0"), profile, Containers(), Project));
        Assert.Equal("RollingNotSafe", error.ErrorId);
        Assert.Equal("1.7.6 → 1.8.0", error.Target);
    }

    [Fact]
    public void Rolling_on_two_API_containers_with_safe_migrations_and_standard_on_one_are_accepted()
    {
        var profile = Profile();
        profile.Migration.MixedVersionSafe.Add("1.7.6");
        ComposeUpgradePlan.CheckStrategy(Rolling("1.7.5", "1.7.6"), profile, Containers(), Project);
        var standard = new UpgradeRequest { Deployment = Deployment(), Path = Path("1.7.5", "1.7.6") };
        ComposeUpgradePlan.CheckStrategy(standard, Profile(), Containers().Take(1), Project);
    }

    [Fact]
    public void Product_containers_are_those_of_product_image_services_by_compose_name_without_the_ones_set_aside()
    {
        var containers = Containers();
        containers.Add(Container("prod-worker-1-upgradeops-previous", "worker"));
        Assert.Equal(["prod-server-2", "prod-server-1", "prod-worker-1", "prod-worker-2"], Names(ComposeUpgradePlan.ProductContainers(Profile(), containers)));
    }

    [Fact]
    public void A_container_takes_its_role_from_its_compose_service_and_an_unknown_service_is_Other()
    {
        var profile = Profile();
        Assert.Equal(ServiceRole.Api, ComposeUpgradePlan.RoleOf(profile, Container("prod-server-1", "server")));
        Assert.Equal(ServiceRole.Worker, ComposeUpgradePlan.RoleOf(profile, Container("prod-worker-1", "worker")));
        Assert.Equal(ServiceRole.Other, ComposeUpgradePlan.RoleOf(profile, Container("prod-api-1", "api")));
    }

    [Fact]
    public void The_journal_records_each_product_container_and_the_image_id_it_runs_before_anything_changes()
    {
        var previous = ComposeUpgradePlan.PreviousContainers(Profile(), Containers());
        Assert.Equal(["prod-server-2", "prod-server-1", "prod-worker-1", "prod-worker-2"], previous.Select(p => p.Name));
        Assert.All(previous, p => Assert.Equal((OldImage, "sha256:1.7.5"), (p.Image, p.ImageId)));
        Assert.Equal(["server", "server", "worker", "worker"], previous.Select(p => p.Service));
    }

    [Fact]
    public void Only_the_product_images_move_to_the_new_tag()
    {
        var containers = Containers();
        containers.Add(Container("prod-worker-3", "worker", "registry.local/app-worker:1.7.5"));
        var images = ComposeUpgradePlan.NewImages(Profile(), containers, "1.7.6");
        Assert.Equal(new Dictionary<string, string> { [OldImage] = NewImage, ["registry.local/app-worker:1.7.5"] = "registry.local/app-worker:1.7.6" }, images);
    }

    [Fact]
    public void Stopping_a_role_stops_only_its_running_product_containers()
    {
        var containers = Containers();
        containers[3] = Container("prod-worker-2", "worker", state: "exited");
        var profile = Profile();
        Assert.Equal(["prod-worker-1"], Names(ComposeUpgradePlan.ToStop(profile, containers, ServiceRole.Worker)));
        Assert.Equal(["prod-server-2", "prod-server-1"], Names(ComposeUpgradePlan.ToStop(profile, containers, ServiceRole.Api)));
        Assert.Empty(ComposeUpgradePlan.ToStop(profile, containers, ServiceRole.TaskManager));
    }

    [Fact]
    public void Recreation_goes_through_a_roles_containers_by_name_each_onto_the_new_image_of_its_repository()
    {
        var recreations = ComposeUpgradePlan.Recreations(Profile(), Containers(), ServiceRole.Api, new Dictionary<string, string> { [OldImage] = NewImage });
        Assert.Equal(["prod-server-1", "prod-server-2"], Names(recreations.Select(r => r.Container)));
        Assert.All(recreations, r => Assert.Equal((NewImage, false), (r.NewImage, r.AlreadyReplaced)));
    }

    [Fact]
    public void A_container_replaced_before_an_interruption_is_only_made_to_run()
    {
        var containers = Containers();
        containers[1] = Container("prod-server-1", "server", NewImage, state: "exited");
        var recreations = ComposeUpgradePlan.Recreations(Profile(), containers, ServiceRole.Api, new Dictionary<string, string> { [OldImage] = NewImage });
        Assert.Equal([true, false], recreations.Select(r => r.AlreadyReplaced));
    }

    [Theory]
    [InlineData(ServiceRole.Api, false, 3)]
    [InlineData(ServiceRole.Api, true, 0)]
    [InlineData(ServiceRole.Worker, false, 0)]
    [InlineData(ServiceRole.Worker, true, 0)]
    public void A_rolling_upgrade_waits_minReadySeconds_only_between_API_servers(ServiceRole role, bool last, int expectedSeconds)
    {
        var profile = Profile();
        profile.Rolling.MinReadySeconds = 3;
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), ComposeUpgradePlan.MinReadyAfter(profile, role, last));
    }

    [Theory]
    [InlineData("registry.local/app:1.7.5", "registry.local/app:1.7.6")]
    [InlineData("registry.local/app:1.7.6", "registry.local/app:1.7.6")]
    [InlineData("registry.local/app:latest", "registry.local/app:1.7.6")]
    [InlineData("127.0.0.1:5000/other:1.7.5", "127.0.0.1:5000/other:1.7.6")]
    public void A_container_moves_to_its_repositorys_new_image_or_its_own_repository_at_the_new_tag(string current, string expected)
    {
        Assert.Equal(expected, ComposeUpgradePlan.NewImageFor(current, new Dictionary<string, string> { [OldImage] = NewImage }));
    }

    [Fact]
    public void A_container_set_aside_takes_its_name_back_only_when_no_replacement_has_it()
    {
        var containers = Containers().Where(c => c.Names[0] != "/prod-server-1").ToList();
        var asides = new[] { Container("prod-server-1-upgradeops-previous", "server"), Container("prod-server-2-upgradeops-previous", "server") };
        var back = ComposeUpgradePlan.AsidesToPutBack(containers, asides);
        Assert.Equal([("id-prod-server-1-upgradeops-previous", "prod-server-1")], back.Select(b => (b.Aside.ID, b.Original)));
    }

    [Fact]
    public void After_a_failure_only_the_stopped_containers_still_on_their_previous_image_start_again()
    {
        var containers = new List<ContainerListResponse>
        {
            Container("prod-server-1", "server", state: "exited"),
            Container("prod-server-2", "server", NewImage, state: "exited"),
            Container("prod-worker-1", "worker", state: "running"),
            Container("prod-worker-2", "worker", state: "exited"),
            Container("prod-task-manager-db-1", "task-manager-db", "postgres:16", state: "exited"),
        };
        var previous = new List<PreviousContainer> { Previous("prod-server-1", "server"), Previous("prod-server-2", "server"), Previous("prod-worker-1", "worker") };
        Assert.Equal(["prod-server-1"], Names(ComposeUpgradePlan.ToStartAfterFailure(Profile(), containers, previous)));
    }

    [Theory]
    [InlineData(new[] { "hop1:pull images", "hop1:configuration" }, null, false)]
    [InlineData(new[] { "hop1:pull images", "hop1:configuration", "hop1:stop workers" }, "hop1:stop API", false)]
    [InlineData(new[] { "hop1:pull images", "hop1:configuration", "hop1:stop workers", "hop1:stop API" }, null, true)]
    [InlineData(new[] { "hop1:pull images", "hop1:configuration" }, "hop1:migrate", true)]
    [InlineData(new[] { "hop1:migrate", "hop1:recreate API" }, "hop1:recreate workers", true)]
    public void The_data_may_have_changed_once_the_API_stopped_or_the_migration_started(string[] completed, string? current, bool expected)
    {
        Assert.Equal(expected, ComposeUpgradePlan.DataMayHaveChanged(completed, current));
    }

    [Theory]
    [InlineData("running", "reg/app:1.1.8", true)]      // the killed session's migration still runs: waited for, not killed
    [InlineData("exited", "reg/app:1.1.8", false)]      // it ended: replaced, the migration runs again
    [InlineData("created", "reg/app:1.1.8", false)]
    [InlineData("running", "reg/app:1.2.0", false)]     // another hop's migration (a resume to another target): replaced
    public void A_resume_waits_only_for_a_leftover_migration_still_running_the_same_image(string state, string image, bool waited) =>
        Assert.Equal(waited, ComposeUpgrade.IsRunningMigrationOf(new ContainerListResponse { State = state, Image = image }, "reg/app:1.1.8"));

    [Fact]
    public void Without_a_leftover_migration_a_resume_starts_one() =>
        Assert.False(ComposeUpgrade.IsRunningMigrationOf(null, "reg/app:1.1.8"));
}

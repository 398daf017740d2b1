using UpgradeOps.Compose;
using UpgradeOps.Profiles;
using static UpgradeOps.Engine.Tests.Compose.ComposeSamples;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>The decisions of a restore onto a Compose deployment: which containers stop, the order of the components, what -WhatIf says.</summary>
public sealed class ComposeRestorePlanTests : IDisposable
{
    private readonly string _folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"restore-plan-{Guid.NewGuid():N}");
    private readonly string _composePath;

    public ComposeRestorePlanTests()
    {
        Directory.CreateDirectory(_folder);
        _composePath = System.IO.Path.Combine(_folder, "docker-compose.yml");
        File.WriteAllText(_composePath, "services:\n  server: {image: \"registry.local/app:1.7.5\"}\n");
    }

    public void Dispose() => Directory.Delete(_folder, true);

    [Fact]
    public void A_restore_stops_the_running_application_API_workers_task_manager_and_load_balancer_and_keeps_databases_caches_and_queues()
    {
        var containers = Containers();
        containers[3] = Container("prod-worker-2", "worker", state: "exited");
        Assert.Equal(["prod-server-2", "prod-server-1", "prod-worker-1", "prod-task-manager-1", "prod-lb-1"],
            Names(ComposeRestorePlan.ContainersToStop(Profile(), containers)));
    }

    [Fact]
    public void A_service_that_holds_a_data_store_keeps_running_whatever_its_role_since_pg_restore_runs_in_it()
    {
        var profile = Profile();
        // The profile names the service; the containers carry its compose name.
        profile.Services.Add(new ServiceDefinition { Name = "app-db", ComposeService = "appdb", Role = ServiceRole.TaskManager });
        profile.DataStores.Add(new DataStoreDefinition { Name = "app", Kind = DataStoreKind.Postgres, Service = "app-db", Database = "app" });
        var containers = Containers();
        containers.Add(Container("prod-appdb-1", "appdb", "postgres:16"));
        Assert.DoesNotContain("prod-appdb-1", Names(ComposeRestorePlan.ContainersToStop(profile, containers)));
        Assert.Contains("prod-task-manager-1", Names(ComposeRestorePlan.ContainersToStop(profile, containers)));
    }

    [Fact]
    public void A_profile_service_is_known_to_compose_by_its_compose_name_or_its_own()
    {
        Assert.Equal("server", ComposeRestorePlan.ComposeName(Profile(), "api"));
        Assert.Equal("worker", ComposeRestorePlan.ComposeName(Profile(), "worker"));
        Assert.Equal("unknown", ComposeRestorePlan.ComposeName(Profile(), "unknown"));
    }

    private static BackupComponent Component(string name, BackupComponentKind kind, string? file = null, string? source = null) =>
        new() { Name = name, Kind = kind, File = file ?? name + ".bin", Sha256 = "", Source = source };

    [Fact]
    public void Every_dump_is_restored_before_any_volume_or_file_each_group_in_the_manifests_order()
    {
        var components = new[]
        {
            Component("config", BackupComponentKind.ConfigFile), Component("one", BackupComponentKind.PostgresDump), Component("artifacts", BackupComponentKind.Volume),
            Component("two", BackupComponentKind.PostgresDump), Component("other", BackupComponentKind.Volume), Component("graph", BackupComponentKind.Neo4jDump),
        };
        var (dumps, graphs, others) = ComposeRestorePlan.Order(components);
        Assert.Equal(["one", "two"], dumps.Select(c => c.Name));
        Assert.Equal(["graph"], graphs.Select(c => c.Name));
        Assert.Equal(["config", "artifacts", "other"], others.Select(c => c.Name));
    }

    [Fact]
    public void WhatIf_names_the_containers_to_stop_in_order_and_one_action_per_component_with_the_files_own_place()
    {
        var backup = new DeploymentBackup
        {
            Id = "b1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = Project,
            Components =
            {
                Component("prefect", BackupComponentKind.PostgresDump, "prefect.dump"),
                Component("artifacts", BackupComponentKind.Volume, "artifacts.tar"),
                Component("graph", BackupComponentKind.Neo4jDump, "graph.dump"),
                Component("config", BackupComponentKind.ConfigFile, "config/docker-compose.yml", "/elsewhere/docker-compose.yml"),
                Component("config", BackupComponentKind.ConfigFile, "config/.env.enc"),
            },
        };
        var plan = ComposeRestorePlan.Plan(Profile(), ComposeFile.Load(_composePath), Project, Containers(), backup);
        Assert.Equal(["prod-lb-1", "prod-server-1", "prod-server-2", "prod-task-manager-1", "prod-worker-1", "prod-worker-2"], plan.StopContainers);
        Assert.Equal(
        [
            "Drop and recreate database for 'prefect', then pg_restore prefect.dump into it",
            "Stage artifacts.tar on volume 'artifacts' beside its content, then replace the content with it",
            "Stop the Neo4j database of 'graph', load graph.dump over it (neo4j-admin database load --overwrite-destination=true), then bring it back",
            $"Put config/docker-compose.yml back at {_composePath}",
            $"Put config/.env.enc back at {System.IO.Path.Combine(_folder, ".env")}",
        ], plan.Actions);
        Assert.Equal("stop", plan.StopVerb);
    }

    [Theory]
    [InlineData("config/passwd", null)]
    [InlineData("config/docker-compose.yml", "/etc/.env")]
    public void A_configuration_file_that_is_neither_the_compose_file_nor_its_env_is_refused_before_anything_stops(string file, string? source)
    {
        var backup = new DeploymentBackup
        {
            Id = "b1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = Project, Components = { Component("config", BackupComponentKind.ConfigFile, file, source) },
        };
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeRestorePlan.Plan(Profile(), ComposeFile.Load(_composePath), Project, Containers(), backup));
        Assert.Equal(("BackupConfigFileUnknown", ErrorKind.InvalidData), (error.ErrorId, error.Kind));
    }
}

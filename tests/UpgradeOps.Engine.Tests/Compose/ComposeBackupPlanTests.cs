using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Profiles;
using static UpgradeOps.Engine.Tests.Compose.ComposeSamples;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>The decisions of a Compose backup: its components and their files, whether and which writers pause, the image ids it records.</summary>
public sealed class ComposeBackupPlanTests : IDisposable
{
    private readonly string _folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"backup-plan-{Guid.NewGuid():N}");
    private readonly string _composePath;

    public ComposeBackupPlanTests()
    {
        Directory.CreateDirectory(_folder);
        _composePath = System.IO.Path.Combine(_folder, "docker-compose.yml");
        File.WriteAllText(_composePath, "services:\n  server: {image: \"registry.local/app:1.7.5\"}\n");
    }

    public void Dispose() => Directory.Delete(_folder, true);

    private string EnvPath => System.IO.Path.Combine(_folder, ".env");

    private List<PlannedComponent> Plan(ProductProfile? profile = null, byte[]? passphrase = null, params string[] components) =>
        ComposeBackupPlan.Components(profile ?? Profile(), ComposeFile.Load(_composePath), Project,
            new BackupRequest { Deployment = Deployment(), Path = "/backups", Passphrase = passphrase, Components = components });

    [Fact]
    public void A_backup_takes_each_data_store_in_the_profiles_order_then_the_compose_file_and_its_env()
    {
        File.WriteAllText(EnvPath, "VERSION=1.7.5\n");
        var planned = Plan();
        Assert.Equal(
        [
            new PlannedComponent("prefect", BackupComponentKind.PostgresDump, "database 'prefect' in service task-manager-db", "prefect.dump"),
            new PlannedComponent("artifacts", BackupComponentKind.Volume, "volume prod_storage_data", "artifacts.tar"),
            new PlannedComponent("config", BackupComponentKind.ConfigFile, _composePath, "config/docker-compose.yml"),
            new PlannedComponent("config", BackupComponentKind.ConfigFile, EnvPath, "config/.env"),
        ], planned);
    }

    [Fact]
    public void Without_an_env_file_only_the_compose_file_is_configuration()
    {
        Assert.Equal([_composePath], Plan().Where(p => p.Kind == BackupComponentKind.ConfigFile).Select(p => p.Source));
    }

    [Fact]
    public void An_encrypted_backups_files_end_in_enc()
    {
        File.WriteAllText(EnvPath, "VERSION=1.7.5\n");
        Assert.Equal(["prefect.dump.enc", "artifacts.tar.enc", "config/docker-compose.yml.enc", "config/.env.enc"], Plan(passphrase: [1, 2, 3]).Select(p => p.File));
    }

    [Fact]
    public void A_database_in_a_service_the_profile_renames_is_described_by_its_compose_name()
    {
        var profile = Profile();
        profile.DataStores.Add(new DataStoreDefinition { Name = "main", Kind = DataStoreKind.Postgres, Service = "api", Database = "app" });
        Assert.Equal("database 'app' in service server", Plan(profile).Single(p => p.Name == "main").Source);
    }

    [Fact]
    public void A_Neo4j_data_store_is_dumped_in_the_profiles_order()
    {
        var profile = Profile();
        profile.DataStores.Insert(0, new DataStoreDefinition { Name = "graph", Kind = DataStoreKind.Neo4j, Service = "task-manager-db" });
        Assert.Equal(new PlannedComponent("graph", BackupComponentKind.Neo4jDump, "Neo4j in service task-manager-db", "graph.dump"), Plan(profile)[0]);
        Assert.Equal("graph.dump.enc", Plan(profile, [1, 2, 3])[0].File);
    }

    [Fact]
    public async Task A_Community_Neo4j_dump_stops_the_writers_without_asking_the_PostgreSQL_databases()
    {
        PlannedComponent graph = new("graph", BackupComponentKind.Neo4jDump, "", "graph.dump");
        var asked = new List<string>();
        Assert.Equal(ComposeBackupPlan.WriterHold.Stop, await ComposeBackupPlan.WriterHoldAsync([graph, Dump("a"), Config()],
            _ => throw new InvalidOperationException("not asked"), n => { asked.Add(n); return Task.FromResult(true); }));
        Assert.Equal(["graph"], asked);
    }

    [Fact]
    public async Task An_Enterprise_Neo4j_backup_online_is_one_more_data_component_that_must_agree_with_the_others()
    {
        PlannedComponent graph = new("graph", BackupComponentKind.Neo4jDump, "", "graph.dump");
        Assert.Equal(ComposeBackupPlan.WriterHold.Pause, await ComposeBackupPlan.WriterHoldAsync([graph, Dump("a"), Config()], _ => Task.FromResult(true), _ => Task.FromResult(false)));
        Assert.Equal(ComposeBackupPlan.WriterHold.None, await ComposeBackupPlan.WriterHoldAsync([graph, Config()], _ => Task.FromResult(true), _ => Task.FromResult(false)));
        Assert.Equal(ComposeBackupPlan.WriterHold.Pause, await ComposeBackupPlan.WriterHoldAsync([Dump("a"), Volume("v")], _ => Task.FromResult(true), _ => throw new InvalidOperationException("not asked")));
        Assert.Equal(ComposeBackupPlan.WriterHold.None, await ComposeBackupPlan.WriterHoldAsync([Dump("a"), Config()], _ => Task.FromResult(true), _ => throw new InvalidOperationException("not asked")));
    }

    [Fact]
    public void Writers_stopped_for_a_Neo4j_dump_are_the_API_and_the_workers_whatever_offline_says()
    {
        Assert.Equal(["prod-server-2", "prod-server-1", "prod-worker-1", "prod-worker-2"], Names(ComposeBackupPlan.Writers(Profile(), Containers(), stopped: true)));
    }

    [Fact]
    public void Component_narrows_the_backup_by_name_whatever_the_case_and_config_brings_both_files()
    {
        File.WriteAllText(EnvPath, "VERSION=1.7.5\n");
        Assert.Equal(["prefect", "config", "config"], Plan(null, null, "PREFECT", "config").Select(p => p.Name));
    }

    [Fact]
    public void An_unknown_Component_is_refused_with_the_known_ones()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => Plan(null, null, "prefect", "graph"));
        Assert.Equal(("UnknownBackupComponent", (object?)"graph"), (error.ErrorId, error.Target));
        Assert.Contains("prefect, artifacts, config", error.Message);
    }

    private static PlannedComponent Dump(string name) => new(name, BackupComponentKind.PostgresDump, "", name + ".dump");
    private static PlannedComponent Volume(string name) => new(name, BackupComponentKind.Volume, "", name + ".tar");
    private static PlannedComponent Config() => new("config", BackupComponentKind.ConfigFile, "", "config/x");

    [Fact]
    public async Task Writers_pause_when_two_data_components_must_agree_without_asking_the_databases()
    {
        var asked = new List<string>();
        Assert.True(await ComposeBackupPlan.NeedsPausedWritersAsync([Dump("a"), Volume("v"), Config()], n => { asked.Add(n); return Task.FromResult(true); }));
        Assert.Empty(asked);
    }

    [Fact]
    public async Task A_single_dump_whose_row_counts_share_pg_dumps_snapshot_needs_no_pause_and_one_that_cannot_does()
    {
        Assert.False(await ComposeBackupPlan.NeedsPausedWritersAsync([Dump("a"), Config()], _ => Task.FromResult(true)));
        Assert.True(await ComposeBackupPlan.NeedsPausedWritersAsync([Dump("a"), Config()], _ => Task.FromResult(false)));
    }

    [Fact]
    public async Task A_single_volume_or_only_configuration_needs_no_pause()
    {
        Assert.False(await ComposeBackupPlan.NeedsPausedWritersAsync([Volume("v"), Config()], _ => throw new InvalidOperationException("not asked")));
        Assert.False(await ComposeBackupPlan.NeedsPausedWritersAsync([Config()], _ => throw new InvalidOperationException("not asked")));
    }

    [Fact]
    public void The_writers_are_the_running_workers_and_the_API_too_when_a_data_store_is_backed_up_offline()
    {
        var containers = Containers();
        containers[3] = Container("prod-worker-2", "worker", state: "exited");
        Assert.Equal(["prod-worker-1"], Names(ComposeBackupPlan.Writers(Profile(), containers)));
        Assert.Equal(["prod-server-2", "prod-server-1", "prod-worker-1"], Names(ComposeBackupPlan.Writers(Profile(offlineStore: true), containers)));
    }

    [Fact]
    public void The_backup_records_every_containers_image_id_the_first_one_for_a_shared_reference()
    {
        var backup = new DeploymentBackup { Id = "b1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = Project };
        ComposeBackupPlan.RecordImages([Container("a", "server", imageId: "sha256:first"), Container("b", "server", imageId: "sha256:second"), Container("c", "cache", "redis:7")], backup);
        Assert.Equal(new Dictionary<string, string> { [OldImage] = "sha256:first", ["redis:7"] = "sha256:7" }, backup.ImageDigests);
    }
}

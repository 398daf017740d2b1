using System.Security.Cryptography;
using System.Text;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// Test-DeploymentBackup's verdicts on database dumps, read by the deployment's own PostgreSQL: here a fake of the exec
/// contract (IContainerExec) answers psql and pg_restore as the server would, so each verdict can be reached without one.
/// </summary>
public sealed class BackupVerifierDumpTests : IDisposable
{
    private static readonly byte[] Dump = Encoding.ASCII.GetBytes("PGDMP fake custom-format dump");
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"verifier-dump-{Guid.NewGuid():N}");
    private readonly FakePostgres _server = new();

    public BackupVerifierDumpTests()
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllBytes(Path.Combine(_folder, "database.dump"), Dump);
    }

    public void Dispose() => Directory.Delete(_folder, true);

    /// <summary>Answers the commands the verifier runs, records them, and fails the ones it is told to.</summary>
    private sealed class FakePostgres : IContainerExec
    {
        public int ServerVersionNumber { get; set; } = 160002;
        public string TableOfContents { get; set; } = ";\n; Archive created\n;\n215; 1259 16386 TABLE public items sandbox\n3350; 0 16386 TABLE DATA public items sandbox\n";
        public bool ListFails { get; set; }
        public bool RestoreFails { get; set; }
        public string RowCounts { get; set; } = "items|50\nusers|3";
        public List<string> Commands { get; } = new();
        public string Description => "fake database container";

        public Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null)
        {
            var sql = command[0] == "psql" ? command[^1] : null;
            Commands.Add(sql ?? string.Join(' ', command.Take(2)));
            standardInput?.CopyTo(Stream.Null);
            ExecResult Ok(string output = "") => new(0, "", output);
            if (command[0] == "pg_restore" && command[1] == "--list")
            {
                if (ListFails) return Task.FromResult(new ExecResult(1, "pg_restore: error: input file does not appear to be a valid archive", ""));
                standardOutput!.Write(Encoding.UTF8.GetBytes(TableOfContents));
                return Task.FromResult(Ok());
            }
            if (command[0] == "pg_restore")
                return Task.FromResult(RestoreFails ? new ExecResult(1, "pg_restore: error: could not execute query", "") : Ok());
            if (sql == "SHOW server_version_num") return Task.FromResult(Ok(ServerVersionNumber.ToString()));
            if (sql!.Contains("count", StringComparison.OrdinalIgnoreCase) && !sql.Contains("pg_database", StringComparison.Ordinal)) return Task.FromResult(Ok(RowCounts));
            return Task.FromResult(Ok());
        }
    }

    private sealed class FakeHost(ProductProfile profile, PostgresTarget target) : IDataStoreHost
    {
        public ProductProfile Profile { get; } = profile;
        public Task<PostgresTarget> PostgresAsync(DataStoreDefinition store, CancellationToken ct) => Task.FromResult(target);
        public void Dispose() { }
    }

    private void Write(int dumpMajor = 16, Dictionary<string, long>? rowCounts = null)
    {
        var manifest = new BackupManifest
        {
            Backup = new DeploymentBackup
            {
                Id = "prod-1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = "prod", Version = "1.7.5",
                Components =
                {
                    new BackupComponent
                    {
                        Name = "database", Kind = BackupComponentKind.PostgresDump, File = "database.dump", SizeBytes = Dump.Length,
                        Sha256 = Convert.ToHexString(SHA256.HashData(Dump)).ToLowerInvariant(), DumpMajorVersion = dumpMajor, ServerMajorVersion = 16,
                        RowCounts = rowCounts ?? new Dictionary<string, long> { ["items"] = 50, ["users"] = 3 },
                    },
                },
                ToolVersions = { ["UpgradeOps"] = "0.9.0" },
            },
        };
        File.WriteAllText(Path.Combine(_folder, BackupManifest.FileName), manifest.ToJson());
    }

    private Task<BackupVerification> VerifyAsync(bool restoreTest = false, string storeName = "database")
    {
        var profile = new ProductProfile { DataStores = { new DataStoreDefinition { Name = storeName, Kind = DataStoreKind.Postgres, Service = "db", Database = "sandbox" } } };
        var target = new PostgresTarget(_server, "sandbox", "secret", "sandbox", 5432, null, null);
        return BackupVerifier.VerifyAsync(new BackupVerificationRequest
        {
            BackupPath = _folder, RestoreTest = restoreTest,
            Deployment = new Deployment { Name = "prod", Platform = DeploymentPlatform.Compose, Profile = "sample" },
            DataStores = _ => Task.FromResult<IDataStoreHost>(new FakeHost(profile, target)),
        }, EngineContext.Silent());
    }

    private static CheckResult Check(BackupVerification verification, string name) => verification.Checks.Single(c => c.Name == name);

    [Fact]
    public async Task A_dump_whose_table_of_contents_the_servers_pg_restore_reads_passes_with_its_entry_count()
    {
        Write();
        var verification = await VerifyAsync();
        var dump = Check(verification, "Dump database");
        Assert.Equal(CheckStatus.Passed, dump.Status);
        Assert.StartsWith("pg_restore --list read 2 entries (server 16, dump made by pg_dump 16)", dump.Detail);
        Assert.DoesNotContain(verification.Checks, c => c.Name.StartsWith("RestoreTest", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_dump_made_by_a_newer_pg_dump_than_the_server_is_a_warning_that_says_which_server_can_read_it()
    {
        Write(dumpMajor: 17);
        var dump = Check(await VerifyAsync(), "Dump database");
        Assert.Equal(CheckStatus.Warning, dump.Status);
        Assert.Contains("PostgreSQL 17 or later", dump.Detail);
    }

    [Fact]
    public async Task A_dump_pg_restore_cannot_list_is_unreadable()
    {
        Write();
        _server.ListFails = true;
        var dump = Check(await VerifyAsync(), "Dump database");
        Assert.Equal(("BackupDumpUnreadable", CheckStatus.Failed), (dump.ErrorId, dump.Status));
    }

    [Fact]
    public async Task A_dump_of_a_data_store_the_profile_does_not_know_is_skipped()
    {
        Write();
        var dump = Check(await VerifyAsync(storeName: "other"), "Dump database");
        Assert.Equal(CheckStatus.Skipped, dump.Status);
        Assert.Empty(_server.Commands);
    }

    [Fact]
    public async Task A_restore_test_with_every_row_count_as_at_dump_time_passes_and_drops_its_scratch_database()
    {
        Write();
        var verification = await VerifyAsync(restoreTest: true);
        Assert.True(verification.Passed);
        Assert.Equal(CheckStatus.Passed, Check(verification, "RestoreTest database").Status);
        var created = _server.Commands.Single(c => c.StartsWith("CREATE DATABASE", StringComparison.Ordinal)).Split('"')[1];
        Assert.StartsWith("upgradeops_verify_", created);
        Assert.Contains(_server.Commands, c => c.StartsWith($"DROP DATABASE IF EXISTS \"{created}\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_restore_test_whose_row_counts_differ_fails_naming_each_table_and_a_table_missing_counts_as_zero()
    {
        Write(rowCounts: new Dictionary<string, long> { ["items"] = 50, ["users"] = 4, ["audit"] = 7 });
        var check = Check(await VerifyAsync(restoreTest: true), "RestoreTest database");
        Assert.Equal("BackupRestoreTestFailed", check.ErrorId);
        Assert.Contains("users: 4 recorded, 3 restored", check.Detail);
        Assert.Contains("audit: 7 recorded, 0 restored", check.Detail);
        Assert.DoesNotContain("items:", check.Detail);
    }

    [Fact]
    public async Task A_restore_test_whose_pg_restore_fails_fails_and_still_drops_its_scratch_database()
    {
        Write();
        _server.RestoreFails = true;
        var check = Check(await VerifyAsync(restoreTest: true), "RestoreTest database");
        Assert.Equal(("BackupRestoreTestFailed", CheckStatus.Failed), (check.ErrorId, check.Status));
        Assert.Contains(_server.Commands, c => c.StartsWith("DROP DATABASE IF EXISTS \"upgradeops_verify_", StringComparison.Ordinal));
    }
}

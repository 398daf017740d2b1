using System.Diagnostics;
using UpgradeOps.Backups;
using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// PostgresTarget's tools run inside the database's container: row counts in pg_dump's own snapshot when the server cannot
/// be reached from here (a database pod: a psql session in the container holds the transaction), and the swap of a
/// restored database into the live one's place. Runs against a PostgreSQL container of its own (host network, a port in
/// 56500-56999, image 127.0.0.1:5000/upgradeops/postgres:15), through Docker exec — the same code runs over pod exec.
/// </summary>
[Trait("Category", "Docker")]
public sealed class PostgresTargetExecTests : IDisposable
{
    private const string Password = "psql-snapshot-test";
    private readonly string _container = $"upgradeops-kubetest-snapshot-{Environment.ProcessId}";
    private readonly int _port = 56500 + Random.Shared.Next(500);

    public PostgresTargetExecTests()
    {
        Docker("run", "-d", "--name", _container, "--network", "host", "-e", "POSTGRES_USER=sandbox", "-e", "POSTGRES_DB=sandbox",
            "-e", $"POSTGRES_PASSWORD={Password}", "-e", $"PGPORT={_port}", "127.0.0.1:5000/upgradeops/postgres:15");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Sql("SELECT 1").Exit != 0)
        {
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException("PostgreSQL did not start");
            Thread.Sleep(300);
        }
    }

    public void Dispose() => Docker("rm", "-f", "-v", _container);

    private (int Exit, string Output) Sql(string sql) =>
        Run("docker", "exec", "-e", $"PGPASSWORD={Password}", _container, "psql", "-X", "-tA", "-h", "127.0.0.1", "-p", _port.ToString(), "-U", "sandbox", "-d", "sandbox", "-c", sql);

    private static void Docker(params string[] arguments) => Run("docker", arguments);

    private static (int, string) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output.Trim());
    }

    [Fact]
    public async Task Counts_and_dump_share_one_snapshot_while_rows_are_written()
    {
        Assert.Equal(0, Sql("CREATE TABLE items (id int); INSERT INTO items SELECT generate_series(1, 50);").Exit);
        using var engine = await DockerEngine.ConnectAsync("unix:///var/run/docker.sock", default);
        var client = engine.Client;
        var target = new PostgresTarget(new DockerContainerExec(client, _container, new[] { $"PGPASSWORD={Password}" }), "sandbox", Password, "sandbox", _port, null, null);
        Assert.False(target.CanShareSnapshot);

        await using (var snapshot = await target.ShareSnapshotAsync(default))
        {
            Assert.Matches("^[0-9A-F]+-[0-9A-F]+-[0-9]+$", snapshot.Id);
            Assert.Equal(0, Sql("INSERT INTO items SELECT generate_series(51, 80);").Exit);
            Assert.Equal(50, (await snapshot.RowCountsAsync(default))["public.items"]);
            var dump = new MemoryStream();
            await target.DumpAsync(dump, default, snapshot.Id);
            dump.Position = 0;
            await target.CreateDatabaseAsync("upgradeops_snapshot_check", default);
            await target.RestoreAsync(dump, "upgradeops_snapshot_check", default);
            Assert.Equal(50, (await target.RowCountsAsync("upgradeops_snapshot_check", default))["public.items"]);
        }
        // The session ended with the snapshot: no transaction is left open.
        Assert.Equal("0", Sql("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'").Output);

        var refused = new PostgresTarget(new DockerContainerExec(client, _container, new[] { "PGPASSWORD=wrong" }), "sandbox", "wrong", "sandbox", _port, null, null);
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => refused.ShareSnapshotAsync(default));
        Assert.Equal("DatabaseAuthenticationFailed", error.ErrorId);
    }

    [Fact]
    public async Task A_restored_database_takes_the_live_ones_name_and_the_live_one_is_kept_aside_or_none_was_there()
    {
        using var engine = await DockerEngine.ConnectAsync("unix:///var/run/docker.sock", default);
        var target = new PostgresTarget(new DockerContainerExec(engine.Client, _container, new[] { $"PGPASSWORD={Password}" }), "sandbox", Password, "sandbox", _port, null, null);
        Assert.Equal(0, Sql("CREATE TABLE live (id int)").Exit);
        await target.CreateDatabaseAsync("upgradeops_staged", default);
        await target.PsqlAsync("upgradeops_staged", "CREATE TABLE restored (id int)", default);

        var replaced = await target.ReplaceDatabaseAsync("sandbox", "upgradeops_staged", default);

        Assert.StartsWith("upgradeops_replaced_", replaced);
        Assert.Equal("public.restored", await target.PsqlAsync("sandbox", "SELECT 'public.' || tablename FROM pg_tables WHERE schemaname = 'public'", default));
        Assert.Equal("public.live", await target.PsqlAsync(replaced!, "SELECT 'public.' || tablename FROM pg_tables WHERE schemaname = 'public'", default));

        // No live database (a restore onto an emptied server): the restored one only takes the name.
        await target.DropDatabaseAsync(replaced!, default);
        await target.CreateDatabaseAsync("upgradeops_staged_2", default);
        Assert.Null(await target.ReplaceDatabaseAsync("upgradeops_absent", "upgradeops_staged_2", default));
        Assert.Equal("1", await target.PsqlAsync("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'upgradeops_absent'", default));
    }
}

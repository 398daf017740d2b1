using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Backups;

/// <summary>
/// A PostgreSQL database inside a container or a pod. pg_dump, pg_restore and psql run inside it through an exec API
/// (Docker's, or the Kubernetes API server's: <see cref="IContainerExec"/>), so nothing is installed or staged locally;
/// row counts are read through Npgsql when the server is reachable from here, else through psql inside it.
/// </summary>
public sealed partial class PostgresTarget
{
    private readonly IContainerExec _exec;
    private readonly string _password;

    internal PostgresTarget(IContainerExec exec, string user, string password, string database, int port, string? npgsqlHost, int? npgsqlPort)
    {
        _exec = exec;
        User = user;
        _password = password;
        Database = database;
        Port = port;
        NpgsqlHost = npgsqlHost;
        NpgsqlPort = npgsqlPort;
    }

    public string User { get; }
    public string Database { get; }
    public int Port { get; }
    private string? NpgsqlHost { get; }
    private int? NpgsqlPort { get; }

    private string[] Connection(string database) => new[] { "-h", "127.0.0.1", "-p", Port.ToString(), "-U", User, "-d", database };

    public async Task<ExecResult> ExecAsync(IEnumerable<string> command, CancellationToken ct, Stream? stdout = null, Stream? stdin = null) =>
        await _exec.RunAsync(command.ToList(), ct, stdout, stdin).ConfigureAwait(false);

    public async Task<string> PsqlAsync(string database, string sql, CancellationToken ct)
    {
        var result = await ExecAsync(new[] { "psql", "-X", "-v", "ON_ERROR_STOP=1", "-tA" }.Concat(Connection(database)).Concat(new[] { "-c", sql }), ct)
            .ConfigureAwait(false);
        if (result.ExitCode != 0) throw Failure("psql", result);
        return result.StandardOutputText.Trim();
    }

    public async Task<int> ServerMajorVersionAsync(CancellationToken ct) =>
        int.Parse(await PsqlAsync(Database, "SHOW server_version_num", ct).ConfigureAwait(false)) / 10000;

    public async Task<int> DumpMajorVersionAsync(CancellationToken ct)
    {
        var result = await ExecAsync(new[] { "pg_dump", "--version" }, ct).ConfigureAwait(false);
        var match = VersionPattern().Match(result.StandardOutputText);
        return match.Success ? int.Parse(match.Groups[1].Value) : 0;
    }

    /// <summary>
    /// pg_dump -Fc -Z1 streamed from the container into <paramref name="output"/>, in an exported snapshot when one is given.
    /// Level 1, not pg_dump's default 6: what bounds a dump is the data crossing the exec stream, so it must be compressed
    /// where it is made, and zlib's first level does that at a fraction of level 6's cost (on a 1 GB database: 23.7 s and
    /// 250 MB, against 36.0 s and 236 MB at level 6 and 36.5 s and 822 MB uncompressed). pg_restore reads every level.
    /// </summary>
    public async Task DumpAsync(Stream output, CancellationToken ct, string? snapshot = null)
    {
        var arguments = new List<string> { "pg_dump", "-Fc", "-Z1" };
        if (snapshot is not null) arguments.Add($"--snapshot={snapshot}");
        var result = await ExecAsync(arguments.Concat(Connection(Database)), ct, output).ConfigureAwait(false);
        if (result.ExitCode != 0) throw Failure("pg_dump", result);
    }

    /// <summary>pg_restore --list of a dump fed on standard input: proves the archive's table of contents reads.</summary>
    public async Task<string> ListAsync(Stream dump, CancellationToken ct)
    {
        var output = new MemoryStream();
        var result = await ExecAsync(new[] { "pg_restore", "--list" }, ct, output, dump).ConfigureAwait(false);
        if (result.ExitCode != 0) throw Failure("pg_restore --list", result);
        return System.Text.Encoding.UTF8.GetString(output.ToArray());
    }

    public async Task RestoreAsync(Stream dump, string database, CancellationToken ct)
    {
        var result = await ExecAsync(new[] { "pg_restore", "--no-owner", "--exit-on-error" }.Concat(Connection(database)), ct, stdin: dump)
            .ConfigureAwait(false);
        if (result.ExitCode != 0) throw Failure("pg_restore", result);
    }

    public Task CreateDatabaseAsync(string database, CancellationToken ct) =>
        PsqlAsync("postgres", $"CREATE DATABASE \"{database}\" OWNER \"{User}\"", ct);

    public Task DropDatabaseAsync(string database, CancellationToken ct) =>
        PsqlAsync("postgres", $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", ct);

    /// <summary>Drops a database of UpgradeOps's own (scratch, staging, replaced) on the way out: a failure is a warning, never the error.</summary>
    public async Task TryDropDatabaseAsync(string database, ILogger? log)
    {
        try
        {
            await DropDatabaseAsync(database, CancellationToken.None).ConfigureAwait(false);
        }
        catch (UpgradeOpsException ex)
        {
            log?.LogWarning("The database {Database} could not be dropped: {Message}. Drop it by hand.", database, ex.Message);
        }
    }

    /// <summary>
    /// Puts <paramref name="staged"/> in the place of <paramref name="database"/> in one transaction (the renames are
    /// both done or neither), after closing the connections still open to it. Returns the name the replaced database
    /// now has (null when there was none), for the caller to drop once the application is back. One psql run, not a check
    /// and then the renames: each run is an exec, slow right after a large restore, and the application waits for the swap.
    /// </summary>
    public async Task<string?> ReplaceDatabaseAsync(string database, string staged, CancellationToken ct)
    {
        var replaced = $"upgradeops_replaced_{Guid.NewGuid():N}"[..36];
        var name = database.Replace("'", "''");
        var sql = $"SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid(); " +
                  $"DO $upgradeops$ BEGIN IF EXISTS (SELECT FROM pg_database WHERE datname = '{name}') THEN ALTER DATABASE \"{database}\" RENAME TO \"{replaced}\"; END IF; END $upgradeops$; " +
                  $"ALTER DATABASE \"{staged}\" RENAME TO \"{database}\"; " +
                  $"SELECT count(*) FROM pg_database WHERE datname = '{replaced}';";
        // A client that reconnects between the terminate and the rename makes the rename fail: terminate again and retry.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // psql 15 prints every statement's result, older ones only the last: the count is the last line either way.
                var output = await PsqlAsync("postgres", sql, ct).ConfigureAwait(false);
                return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() == "1" ? replaced : null;
            }
            catch (UpgradeOpsException ex) when (attempt < 5 && ex.Message.Contains("being accessed by other users", StringComparison.Ordinal))
            {
                await Task.Delay(200, ct).ConfigureAwait(false);
            }
        }
    }

    private const string RowCountQuery =
        "SELECT table_schema || '.' || table_name, " +
        "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text::bigint " +
        "FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

    /// <summary>Whether the server is reachable through Npgsql from here (it is needed to share a snapshot with pg_dump).</summary>
    public bool CanShareSnapshot => NpgsqlHost is not null;

    private async Task<NpgsqlConnection> OpenAsync(string database, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = NpgsqlHost, Port = NpgsqlPort!.Value, Username = User, Password = _password, Database = database,
            Timeout = 10, Pooling = false,
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            return connection;
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw AuthenticationFailed(ex.MessageText, ex);
        }
        catch (NpgsqlException ex) when (ex is not PostgresException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw Unreachable($"{NpgsqlHost}:{NpgsqlPort}", ex.Message, ex);
        }
    }

    /// <summary>
    /// Opens a repeatable-read transaction and exports its snapshot: pg_dump --snapshot dumps exactly what this
    /// transaction's row counts see, so the counts match the dump while the application keeps writing.
    /// </summary>
    public async Task<SharedSnapshot> ExportSnapshotAsync(CancellationToken ct)
    {
        var connection = await OpenAsync(Database, ct).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT pg_export_snapshot()", connection, transaction);
            var id = (string)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
            return new SharedSnapshot(connection, transaction, id);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>An open transaction whose snapshot pg_dump imports (--snapshot) and whose row counts match the dump; disposing it ends the transaction.</summary>
    public interface ISharedSnapshot : IAsyncDisposable
    {
        string Id { get; }
        Task<Dictionary<string, long>> RowCountsAsync(CancellationToken ct);
    }

    /// <summary>pg_dump's snapshot shared with the row counts: through Npgsql when the server is reachable from here, else through a psql session beside it.</summary>
    public async Task<ISharedSnapshot> ShareSnapshotAsync(CancellationToken ct) =>
        CanShareSnapshot ? await ExportSnapshotAsync(ct).ConfigureAwait(false) : await PsqlSnapshot.StartAsync(this, ct).ConfigureAwait(false);

    /// <summary>
    /// A snapshot held by psql inside the container or pod (for a server this machine cannot reach, such as a database pod):
    /// one psql session reads its SQL from a pipe, opens a repeatable-read transaction, exports its snapshot, counts the rows
    /// in it, and stays in that transaction until disposed (COMMIT, end of input). psql prints each result as it completes.
    /// </summary>
    private sealed class PsqlSnapshot : ISharedSnapshot
    {
        private const string PidMark = "upgradeops-pid:", SnapshotMark = "upgradeops-snapshot:", EndMark = "upgradeops-counts-end";
        private readonly System.IO.Pipelines.Pipe _input = new();
        private readonly LineCollector _output = new();
        private Task<ExecResult> _session = Task.FromResult(new ExecResult(0, "", ""));
        private PostgresTarget _target = null!;

        public string Id { get; private set; } = "";

        private int _backendPid;
        private CancellationToken _ct;

        public static async Task<PsqlSnapshot> StartAsync(PostgresTarget target, CancellationToken ct)
        {
            // Refused credentials or an absent server fail here at once, with their own ErrorIds.
            await target.PsqlAsync(target.Database, "SELECT 1", ct).ConfigureAwait(false);
            var snapshot = new PsqlSnapshot { _target = target, _ct = ct };
            try
            {
                snapshot._session = target.ExecAsync(new[] { "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA" }.Concat(target.Connection(target.Database)), ct,
                    snapshot._output, snapshot._input.Reader.AsStream());
                var sql = $"SELECT '{PidMark}' || pg_backend_pid();\nBEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT '{SnapshotMark}' || pg_export_snapshot();\n" +
                          $"{RowCountQuery};\nSELECT '{EndMark}';\n";
                await snapshot._input.Writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes(sql), ct).ConfigureAwait(false);
                snapshot._backendPid = int.Parse((await snapshot.LineAsync(l => l.StartsWith(PidMark, StringComparison.Ordinal)).ConfigureAwait(false))[PidMark.Length..]);
                snapshot.Id = (await snapshot.LineAsync(l => l.StartsWith(SnapshotMark, StringComparison.Ordinal)).ConfigureAwait(false))[SnapshotMark.Length..];
                return snapshot;
            }
            catch
            {
                await snapshot.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>
        /// The first output line that matches. The exec cannot end while its input is open, so a psql that died is noticed
        /// by its backend being gone (or, before it said which it is, after a minute): then its input is closed and its error thrown.
        /// </summary>
        private async Task<string> LineAsync(Func<string, bool> match)
        {
            var waiting = _output.WaitForAsync(match);
            var started = DateTime.UtcNow;
            while (await Task.WhenAny(waiting, _session, Task.Delay(TimeSpan.FromSeconds(2), _ct)).ConfigureAwait(false) != waiting)
            {
                _ct.ThrowIfCancellationRequested();
                var gone = _session.IsCompleted || (_backendPid == 0
                    ? DateTime.UtcNow - started > TimeSpan.FromMinutes(1)
                    : await _target.PsqlAsync("postgres", $"SELECT count(*) FROM pg_stat_activity WHERE pid = {_backendPid}", _ct).ConfigureAwait(false) == "0");
                if (!gone) continue;
                _input.Writer.Complete();
                var result = await _session.ConfigureAwait(false);
                throw _target.Failure("psql", result.ExitCode == 0 ? result with { ExitCode = -1, StandardError = "psql ended before it exported a snapshot. " + result.StandardError } : result);
            }
            return await waiting.ConfigureAwait(false);
        }

        public async Task<Dictionary<string, long>> RowCountsAsync(CancellationToken ct)
        {
            await LineAsync(l => l == EndMark).ConfigureAwait(false);
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var line in _output.Lines.SkipWhile(l => !l.StartsWith(SnapshotMark, StringComparison.Ordinal)).Skip(1).TakeWhile(l => l != EndMark))
                if (line.Split('|') is [var table, var count]) counts[table] = long.Parse(count);
            return counts;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _input.Writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes("COMMIT;\n")).ConfigureAwait(false);
                await _input.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException) { }
            try { await _session.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false); }
            catch (Exception ex) when (ex is TimeoutException or UpgradeOpsException or OperationCanceledException) { }
        }
    }

    /// <summary>An open transaction whose snapshot pg_dump imports; disposing it ends the transaction.</summary>
    public sealed class SharedSnapshot(NpgsqlConnection connection, NpgsqlTransaction transaction, string id) : ISharedSnapshot
    {
        public string Id { get; } = id;

        public async Task<Dictionary<string, long>> RowCountsAsync(CancellationToken ct) =>
            await ReadCountsAsync(new NpgsqlCommand(RowCountQuery, connection, transaction), ct).ConfigureAwait(false);

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<Dictionary<string, long>> ReadCountsAsync(NpgsqlCommand command, CancellationToken ct)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (command)
        await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) counts[reader.GetString(0)] = reader.GetInt64(1);
        return counts;
    }

    /// <summary>The exact row count of every table of <paramref name="database"/>.</summary>
    public async Task<Dictionary<string, long>> RowCountsAsync(string database, CancellationToken ct)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        if (NpgsqlHost is not null)
        {
            await using var connection = await OpenAsync(database, ct).ConfigureAwait(false);
            return await ReadCountsAsync(new NpgsqlCommand(RowCountQuery, connection), ct).ConfigureAwait(false);
        }

        foreach (var line in (await PsqlAsync(database, RowCountQuery, ct).ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('|');
            counts[parts[0]] = long.Parse(parts[1]);
        }
        return counts;
    }

    internal UpgradeOpsException Failure(string tool, ExecResult result)
    {
        var error = Redact(result.StandardError.Trim());
        if (error.Contains("password authentication failed", StringComparison.OrdinalIgnoreCase) ||
            error.Contains("no password supplied", StringComparison.OrdinalIgnoreCase))
            return AuthenticationFailed(error);
        if (error.Contains("could not connect", StringComparison.OrdinalIgnoreCase) || error.Contains("Connection refused", StringComparison.OrdinalIgnoreCase))
            return Unreachable($"127.0.0.1:{Port} in {_exec.Description}", error);
        // The server went away while the tool ran (restarted, stopped, or its backend terminated): not a configuration problem.
        if (ConnectionLostMessages.Any(m => error.Contains(m, StringComparison.OrdinalIgnoreCase)))
            return new("DatabaseConnectionLost", ErrorKind.ConnectionError, Database,
                $"{tool} in {_exec.Description} lost its connection to the database while it ran (the server restarted or was stopped): {error} " +
                "Nothing of this attempt is kept. Wait until the database is healthy again (Get-UpgradeDeployment shows it), then run the command again.");
        return new("DatabaseCommandFailed", ErrorKind.InvalidOperation, Database,
            $"{tool} in {_exec.Description} failed with exit code {result.ExitCode}: {error} " +
            "Check that the database is running and that the profile names the right database, user and password variables.");
    }

    private UpgradeOpsException AuthenticationFailed(string detail, Exception? inner = null) =>
        new("DatabaseAuthenticationFailed", ErrorKind.SecurityError, Database,
            $"PostgreSQL refused user '{User}' for database '{Database}': {Redact(detail)} The user and password come from the database container's " +
            "environment variables that the profile names (userVariable, passwordVariable): check those names and values.", inner);

    private static readonly string[] ConnectionLostMessages =
        { "terminating connection", "server closed the connection unexpectedly", "connection to server was lost", "the database system is shutting down" };

    private UpgradeOpsException Unreachable(string where, string detail, Exception? inner = null) =>
        new("DatabaseUnreachable", ErrorKind.ConnectionError, Database,
            $"PostgreSQL did not answer at {where}: {Redact(detail)} Check that the database container is running and healthy, and the profile's port.", inner);

    private string Redact(string text) => _password.Length == 0 ? text : text.Replace(_password, "***");

    [GeneratedRegex(@"\(PostgreSQL\)\s+(\d+)")]
    private static partial Regex VersionPattern();
}

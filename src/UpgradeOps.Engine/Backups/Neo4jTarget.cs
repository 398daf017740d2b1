using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Backups;

/// <summary>
/// A Neo4j 5 database inside a container or a pod, backed up and loaded with its own neo4j-admin through an exec API
/// (<see cref="IContainerExec"/>), as opsmill/infrahub-backup does: Community is dumped offline (neo4j-admin database dump
/// --to-stdout) while its server process is held stopped, so the container stays up; Enterprise is backed up online
/// (neo4j-admin database backup). Both load back with neo4j-admin database load --from-stdin --overwrite-destination=true.
/// The credentials (NEO4J_AUTH) go in the exec's environment for cypher-shell, never on a command line or in a message.
/// </summary>
public sealed class Neo4jTarget
{
    /// <summary>Where the Neo4j server of the official image writes its process id (and removes it at the end of its shutdown).</summary>
    internal const string PidFile = "/var/lib/neo4j/run/neo4j.pid";
    /// <summary>Enterprise: the folder in the container the online backup is written to, streamed out, then removed.</summary>
    internal const string BackupFolder = "/tmp/upgradeops-neo4j-backup";

    /// <summary>
    /// The watchdog, started in the background before the server is asked to stop: when the server removes its pid file (at
    /// the very end of its shutdown, the store closed and its lock released) the process is frozen with SIGSTOP before it can
    /// exit, so the container's main process never ends and the container is neither stopped nor restarted while
    /// neo4j-admin works. infrahub-backup ships a Go binary (inotify) for this; a shell loop needs nothing in the image.
    /// It prints its own process id, so it can be stopped when the server never goes away; it ends on its own when the
    /// server exits first.
    /// </summary>
    internal const string WatchdogScript = "(while [ -e \"$2\" ] && kill -0 \"$1\" 2>/dev/null; do :; done; kill -STOP \"$1\" 2>/dev/null && echo \"$1\" > \"$3\") </dev/null >/dev/null 2>&1 & echo $!";

    /// <summary>Where the watchdog notes the process it froze, so a run killed before it resumed the server is found and undone by the next.</summary>
    internal const string HeldMarker = "/tmp/upgradeops-neo4j-held";

    /// <summary>Resumes the process the marker names when it is still frozen, printing its id; removes the marker.</summary>
    internal const string RecoverScript = "p=$(cat \"$0\" 2>/dev/null) || exit 0; rm -f \"$0\"; case $(sed -n 's/^State:\t//p' /proc/$p/status 2>/dev/null) in T*) kill -CONT \"$p\" && echo \"$p\";; esac";

    private readonly IContainerExec _exec;
    private readonly string _password;
    private readonly Neo4jEdition? _configured;
    private readonly string _image;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly ILogger? _log;
    private Neo4jEdition? _edition;

    /// <param name="environment">The container's own environment (NEO4J_AUTH, NEO4J_ACCEPT_LICENSE_AGREEMENT...).</param>
    internal Neo4jTarget(IContainerExec exec, DataStoreDefinition store, string image, IReadOnlyDictionary<string, string> environment, ILogger? log = null)
    {
        _exec = exec;
        _image = image;
        _environment = environment;
        _configured = store.Edition;
        _log = log;
        Name = store.Name;
        (User, _password) = Credentials(store, environment);
        Database = DatabaseName(store, environment);
    }

    /// <summary>The profile's data store.</summary>
    public string Name { get; }
    public string Database { get; }
    public string User { get; }
    /// <summary>How often the server's state is read while it shuts down (a small one is frozen within milliseconds; each read is one exec).</summary>
    internal TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);
    /// <summary>Whether the server was asked to shut down for a dump or a load: it then restarts once resumed, which the platform waits for.</summary>
    public bool WasStopped { get; private set; }
    /// <summary>How long the server may take to shut down (infrahub-backup waits 120 s).</summary>
    internal TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>How many times a server that exits before it is frozen is held again (nothing was done while it exited).</summary>
    internal int HoldAttempts { get; init; } = 3;

    /// <summary>
    /// User and password: the profile's userVariable/passwordVariable when it names them, else NEO4J_AUTH=user/password
    /// as the official image and Infrahub's compose file give it (NEO4J_AUTH=none: no authentication).
    /// </summary>
    public static (string User, string Password) Credentials(DataStoreDefinition store, IReadOnlyDictionary<string, string> environment)
    {
        string user = "neo4j", password = "";
        if (environment.TryGetValue("NEO4J_AUTH", out var auth) && auth != "none" && auth.Split('/', 2) is [var u, var p])
            (user, password) = (u, p);
        if (store.UserVariable is not null && environment.TryGetValue(store.UserVariable, out var configuredUser)) user = configuredUser;
        if (store.PasswordVariable is not null && environment.TryGetValue(store.PasswordVariable, out var configuredPassword)) password = configuredPassword;
        return (user, password);
    }

    /// <summary>The environment cypher-shell reads its credentials from (NEO4J_USERNAME, NEO4J_PASSWORD), for the exec to carry.</summary>
    public static IReadOnlyList<string> ExecEnvironment(DataStoreDefinition store, IReadOnlyDictionary<string, string> environment)
    {
        var (user, password) = Credentials(store, environment);
        return password.Length == 0 ? new[] { $"NEO4J_USERNAME={user}" } : new[] { $"NEO4J_USERNAME={user}", $"NEO4J_PASSWORD={password}" };
    }

    /// <summary>The container variables a Neo4j data store reads: credentials, edition, default database.</summary>
    public static IEnumerable<string> EnvironmentVariables(DataStoreDefinition store) =>
        new[] { "NEO4J_AUTH", "NEO4J_ACCEPT_LICENSE_AGREEMENT", "NEO4J_EDITION", "NEO4J_initial_dbms_default__database", "NEO4J_dbms_default__database",
            store.UserVariable, store.PasswordVariable }.OfType<string>().Distinct(StringComparer.Ordinal);

    /// <summary>
    /// Where cypher-shell's NEO4J_USERNAME and NEO4J_PASSWORD come from in an exec that cannot carry variables (a pod's):
    /// shell expansions of the container's own variables, the profile's userVariable/passwordVariable, else the two halves
    /// of NEO4J_AUTH=user/password. Nothing when authentication is off.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ExecEnvironmentFromVariables(DataStoreDefinition store, IReadOnlyDictionary<string, string> environment)
    {
        var result = new Dictionary<string, string>();
        var auth = environment.TryGetValue("NEO4J_AUTH", out var value) && value != "none" && value.Contains('/');
        if (store.UserVariable is not null && environment.ContainsKey(store.UserVariable)) result["NEO4J_USERNAME"] = store.UserVariable;
        else if (auth) result["NEO4J_USERNAME"] = "NEO4J_AUTH%%/*";
        if (store.PasswordVariable is not null && environment.ContainsKey(store.PasswordVariable)) result["NEO4J_PASSWORD"] = store.PasswordVariable;
        else if (auth) result["NEO4J_PASSWORD"] = "NEO4J_AUTH#*/";
        return result;
    }

    /// <summary>The profile's database, else the default database the container's environment configures, else neo4j (Neo4j's default).</summary>
    public static string DatabaseName(DataStoreDefinition store, IReadOnlyDictionary<string, string> environment) =>
        !string.IsNullOrWhiteSpace(store.Database) ? store.Database
        : environment.TryGetValue("NEO4J_initial_dbms_default__database", out var initial) && initial.Length > 0 ? initial
        : environment.TryGetValue("NEO4J_dbms_default__database", out var legacy) && legacy.Length > 0 ? legacy
        : "neo4j";

    /// <summary>
    /// The edition: the profile's (edition:) when it says one; else the server's own answer to CALL dbms.components(), as
    /// infrahub-backup asks it; else, when the server cannot be asked, the container's image tag (-enterprise, -community) or
    /// NEO4J_ACCEPT_LICENSE_AGREEMENT (required by Enterprise images only). Unlike infrahub-backup, which assumes
    /// Community when its query fails, an edition nothing tells is refused.
    /// </summary>
    public async Task<Neo4jEdition> EditionAsync(CancellationToken ct)
    {
        if (_edition is { } known) return known;
        await ResumeLeftHeldAsync(ct).ConfigureAwait(false);
        if (_configured is { } configured) return (_edition = configured).Value;

        var result = await RunAsync(new[] { "cypher-shell", "-d", "system", "--format", "plain", "CALL dbms.components() YIELD edition" }, ct).ConfigureAwait(false);
        var answer = result.StandardOutputText.Split('\n').Select(l => l.Trim().Trim('"').Trim()).LastOrDefault(l => l.Length > 0)?.ToLowerInvariant();
        if (result.ExitCode == 0 && answer is "community" or "enterprise")
            return (_edition = answer == "community" ? Neo4jEdition.Community : Neo4jEdition.Enterprise).Value;

        var error = Redact(result.StandardError.Trim());
        var unauthorized = IsUnauthorized(error);
        if (EditionOfContainer() is { } fromContainer)
        {
            _log?.LogWarning("Neo4j of data store {Store} did not say its edition ({Error}); the container's image and environment say {Edition}.", Name, error, fromContainer);
            return (_edition = fromContainer).Value;
        }
        if (unauthorized) throw AuthenticationFailed(error, "Check them, or set the data store's 'edition' in the profile.");
        throw new UpgradeOpsException("Neo4jEditionUnknown", ErrorKind.InvalidData, Name,
            $"The edition of Neo4j in {_exec.Description} cannot be told: cypher-shell did not answer ({(error.Length > 0 ? error : $"exit code {result.ExitCode}")}) " +
            $"and neither the image '{UserText.Shown(_image)}' nor NEO4J_ACCEPT_LICENSE_AGREEMENT says it. Set 'edition: Community' or 'edition: Enterprise' on data store '{Name}' in the profile.");
    }

    /// <summary>
    /// A backup or restore killed while the server was held stopped (kill -9, a lost connection) leaves it frozen, and the
    /// database unusable until someone resumes it: the next one resumes it first, and stops, since the server then ends its
    /// shutdown and its container restarts.
    /// </summary>
    private async Task ResumeLeftHeldAsync(CancellationToken ct)
    {
        if (await ResumeIfLeftHeldAsync(ct).ConfigureAwait(false) is not { } pid) return;
        throw LeftStopped(pid, "it has been resumed and restarts now. Wait until the database container is healthy again, then run it again.");
    }

    /// <summary>
    /// Resumes the server an interrupted backup or restore left held stopped (its marker names it and it is still frozen),
    /// returning its process id; null when none was. The server then ends its shutdown and its container restarts.
    /// </summary>
    public async Task<string?> ResumeIfLeftHeldAsync(CancellationToken ct)
    {
        var recovered = await RunAsync(new[] { "sh", "-c", RecoverScript, HeldMarker }, ct).ConfigureAwait(false);
        var pid = recovered.StandardOutputText.Trim();
        if (recovered.ExitCode != 0 || pid.Length == 0) return null;
        _log?.LogWarning("Neo4j (process {Pid}) in {Where} was left stopped by an interrupted backup or restore and has been resumed.", pid, _exec.Description);
        return pid;
    }

    /// <summary>Neo4jLeftStopped: the server (process <paramref name="pid"/>) had been left held stopped; <paramref name="what"/> says what was done and what to do.</summary>
    public UpgradeOpsException LeftStopped(string pid, string what) =>
        new("Neo4jLeftStopped", ErrorKind.ResourceUnavailable, Name,
            $"The Neo4j server of '{Name}' in {_exec.Description} (process {pid}) had been left stopped by an interrupted backup or restore; {what}");

    private Neo4jEdition? EditionOfContainer()
    {
        var tag = _image[(_image.LastIndexOf('/') + 1)..];
        tag = tag.Contains(':') ? tag[(tag.IndexOf(':') + 1)..] : "";
        if (tag.Contains("enterprise", StringComparison.OrdinalIgnoreCase)) return Neo4jEdition.Enterprise;
        if (tag.Contains("community", StringComparison.OrdinalIgnoreCase)) return Neo4jEdition.Community;
        if (_environment.ContainsKey("NEO4J_ACCEPT_LICENSE_AGREEMENT")) return Neo4jEdition.Enterprise;
        // The official image sets NEO4J_EDITION (community, enterprise); the neo4j Helm chart sets COMMUNITY_K8S or ENTERPRISE_K8S.
        if (_environment.TryGetValue("NEO4J_EDITION", out var edition))
        {
            if (edition.StartsWith("community", StringComparison.OrdinalIgnoreCase)) return Neo4jEdition.Community;
            if (edition.StartsWith("enterprise", StringComparison.OrdinalIgnoreCase)) return Neo4jEdition.Enterprise;
        }
        return null;
    }

    /// <summary>
    /// The database into <paramref name="output"/>, as it streams: Community, an offline dump while the server process is
    /// held stopped (always resumed, also after a failure or a cancel); Enterprise, a full online backup artifact.
    /// </summary>
    public async Task<Neo4jEdition> DumpAsync(Stream output, CancellationToken ct)
    {
        var edition = await EditionAsync(ct).ConfigureAwait(false);
        if (edition == Neo4jEdition.Enterprise)
        {
            await BackupOnlineAsync(output, ct).ConfigureAwait(false);
            return edition;
        }
        await WhileStoppedAsync(async () =>
        {
            // The server is held stopped from here to the end of the dump: an admin reading -Verbose sees how long each took.
            _log?.LogDebug("Dumping Neo4j database {Database} in {Where} with neo4j-admin database dump --to-stdout", Database, _exec.Description);
            var result = await RunAsync(new[] { "neo4j-admin", "database", "dump", "--to-stdout", Database }, ct, output).ConfigureAwait(false);
            if (result.ExitCode != 0) throw AdminFailure("Neo4jDumpFailed", "neo4j-admin database dump", result);
            _log?.LogDebug("neo4j-admin database dump of {Database} ended; resuming the server", Database);
        }, ct).ConfigureAwait(false);
        return edition;
    }

    private async Task BackupOnlineAsync(Stream output, CancellationToken ct)
    {
        try
        {
            var prepared = await RunAsync(new[] { "sh", "-c", "rm -rf \"$0\" && mkdir -p \"$0\"", BackupFolder }, ct).ConfigureAwait(false);
            if (prepared.ExitCode != 0) throw AdminFailure("Neo4jBackupFailed", "mkdir", prepared);
            var backup = await RunAsync(new[] { "neo4j-admin", "database", "backup", "--expand-commands", "--include-metadata=all", "--type=FULL",
                $"--to-path={BackupFolder}", Database }, ct).ConfigureAwait(false);
            if (backup.ExitCode != 0) throw AdminFailure("Neo4jBackupFailed", "neo4j-admin database backup", backup);
            // The one full artifact the backup wrote (<database>-<time>.backup), which neo4j-admin database load reads like a dump.
            var streamed = await RunAsync(new[] { "sh", "-c", "set -- \"$0\"/*.backup; [ \"$#\" -eq 1 ] && [ -f \"$1\" ] && exec cat \"$1\"; echo \"expected one .backup file, found: $*\" >&2; exit 1", BackupFolder },
                ct, output).ConfigureAwait(false);
            if (streamed.ExitCode != 0) throw AdminFailure("Neo4jBackupFailed", "reading the backup artifact", streamed);
        }
        finally
        {
            await RunAsync(new[] { "rm", "-rf", BackupFolder }, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Replaces the database with the dump or artifact on <paramref name="dump"/> (neo4j-admin database load --from-stdin
    /// --overwrite-destination=true, as the neo4j user), the database offline meanwhile: Community's server process held
    /// stopped, Enterprise's database stopped with STOP DATABASE; both brought back whatever happens.
    /// </summary>
    public async Task LoadAsync(Stream dump, Neo4jEdition? takenWith, CancellationToken ct)
    {
        var edition = await EditionAsync(ct).ConfigureAwait(false);
        if (takenWith == Neo4jEdition.Enterprise && edition == Neo4jEdition.Community)
            throw new UpgradeOpsException("Neo4jEditionMismatch", ErrorKind.InvalidOperation, Name,
                $"The backup of '{Name}' is an Enterprise online backup and Neo4j in {_exec.Description} is Community, which cannot load it. " +
                "Restore it onto a Neo4j Enterprise, or restore a backup taken from a Community edition.");
        var load = await AsNeo4jUserAsync(new[] { "neo4j-admin", "database", "load", "--from-stdin", "--overwrite-destination=true", Database }, ct).ConfigureAwait(false);
        async Task LoadOnceAsync()
        {
            var result = await RunAsync(load, ct, stdin: dump).ConfigureAwait(false);
            if (result.ExitCode != 0) throw AdminFailure("Neo4jLoadFailed", "neo4j-admin database load", result);
        }
        if (edition == Neo4jEdition.Community)
        {
            await WhileStoppedAsync(LoadOnceAsync, ct).ConfigureAwait(false);
            return;
        }
        await CypherAsync($"STOP DATABASE `{Database.Replace("`", "``")}`", ct).ConfigureAwait(false);
        try
        {
            await LoadOnceAsync().ConfigureAwait(false);
        }
        finally
        {
            await CypherAsync($"START DATABASE `{Database.Replace("`", "``")}`", CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>What neo4j-admin database load --info says of a dump on <paramref name="dump"/> (files, bytes, format), loading nothing.</summary>
    public async Task<string> InfoAsync(Stream dump, CancellationToken ct)
    {
        var output = new MemoryStream();
        var result = await RunAsync(new[] { "neo4j-admin", "database", "load", "--info", "--from-stdin", Database }, ct, output, dump).ConfigureAwait(false);
        if (result.ExitCode != 0) throw AdminFailure("Neo4jDumpUnreadable", "neo4j-admin database load --info", result);
        return System.Text.Encoding.UTF8.GetString(output.ToArray()).Trim();
    }

    /// <summary>
    /// The restore test: the dump on <paramref name="dump"/> loaded into a scratch container's own store (neo4j-admin database
    /// load --from-stdin, its server never started), then neo4j-admin database check on what was loaded; the live database is
    /// not touched. Returns what the check printed.
    /// </summary>
    public async Task<string> RestoreTestAsync(Stream dump, IContainerExec scratch, CancellationToken ct)
    {
        var where = $"a scratch container ({scratch.Description})";
        var load = await scratch.RunAsync(new[] { "neo4j-admin", "database", "load", "--from-stdin", "--overwrite-destination=true", Database }, ct, null, dump).ConfigureAwait(false);
        if (load.ExitCode != 0) throw AdminFailure("Neo4jLoadFailed", "neo4j-admin database load", load, where);
        var check = await scratch.RunAsync(new[] { "neo4j-admin", "database", "check", Database }, ct).ConfigureAwait(false);
        if (check.ExitCode != 0) throw AdminFailure("Neo4jCheckFailed", "neo4j-admin database check", check, where);
        return string.Join("; ", check.StandardOutputText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>
    /// neo4j-admin database load must run as the neo4j user (its files are the server's): through su when the exec runs as
    /// another. su's options come first and "--" ends them: util-linux su reads options anywhere on its command line, so
    /// the command's own (--from-stdin) were taken as su's and refused ("su: unrecognized option").
    /// </summary>
    private async Task<string[]> AsNeo4jUserAsync(string[] command, CancellationToken ct)
    {
        var whoami = await RunAsync(new[] { "whoami" }, ct).ConfigureAwait(false);
        if (whoami.ExitCode == 0 && whoami.StandardOutputText.Trim() == "neo4j") return command;
        return AsUser("neo4j", command);
    }

    /// <summary>The command run through su as <paramref name="user"/>, its arguments untouched by su's option parsing.</summary>
    internal static string[] AsUser(string user, IEnumerable<string> command) =>
        new[] { "su", "-s", "/bin/sh", "-c", "exec \"$0\" \"$@\"", "--", user }.Concat(command).ToArray();

    private async Task CypherAsync(string statement, CancellationToken ct)
    {
        var result = await RunAsync(new[] { "cypher-shell", "-d", "system", "--format", "plain", statement }, ct).ConfigureAwait(false);
        if (result.ExitCode != 0) throw AdminFailure("Neo4jCommandFailed", "cypher-shell", result);
    }

    /// <summary>
    /// Runs <paramref name="work"/> while the Community server process is held stopped: the watchdog started, the server
    /// asked to shut down (SIGTERM) and waited for until it is frozen (State T); afterwards, whatever happened, the watchdog
    /// ended and the process continued (SIGCONT), with no cancellation. The server then ends its shutdown and the
    /// container's restart policy (or the platform) brings it back, as with infrahub-backup.
    /// A server that exits before the watchdog froze it (a busy machine can miss the moment) has done nothing yet: once
    /// it answers again it is held again, up to <see cref="HoldAttempts"/> times.
    /// </summary>
    private async Task WhileStoppedAsync(Func<Task> work, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = await ServerProcessAsync(ct).ConfigureAwait(false);
            if (await TryHoldAsync(server, work, ct).ConfigureAwait(false)) return;
            if (attempt == HoldAttempts)
                throw new UpgradeOpsException("Neo4jStopFailed", ErrorKind.InvalidOperation, Name,
                    $"The Neo4j server in {_exec.Description} exited instead of being held stopped, {HoldAttempts} times in a row, so its container restarted each time; " +
                    "nothing was dumped or loaded. Wait until the database container is healthy again, then run it again; if it happens again, the machine may be too busy " +
                    "for the watchdog to catch the server between its shutdown and its exit.");
            _log?.LogWarning("The Neo4j server (process {Pid}) in {Where} exited before it could be held stopped, so its container restarts; nothing was done yet. " +
                "Waiting for it to answer, then holding it again (attempt {Next} of {Attempts}).", server.Id, _exec.Description, attempt + 1, HoldAttempts);
            await WaitAnsweringAsync(StopTimeout, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The server's process id (its pid file) and start time (a restarted container can give the next server the same id).</summary>
    private async Task<(string Id, string StartTime)> ServerProcessAsync(CancellationToken ct)
    {
        var pidFile = await RunAsync(new[] { "cat", PidFile }, ct).ConfigureAwait(false);
        var pid = pidFile.StandardOutputText.Trim();
        if (pidFile.ExitCode != 0 || pid.Length == 0 || !pid.All(char.IsAsciiDigit))
            throw new UpgradeOpsException("Neo4jProcessNotFound", ErrorKind.ResourceUnavailable, Name,
                $"The Neo4j server in {_exec.Description} has no process id in {PidFile} ({Redact(pidFile.StandardError.Trim())}): it is not running, or not the official image's layout. " +
                "Start the database container and run it again.");
        if (await ProcessStateAsync(pid, ct).ConfigureAwait(false) is not { } state)
            throw new UpgradeOpsException("Neo4jProcessNotFound", ErrorKind.ResourceUnavailable, Name,
                $"The Neo4j server in {_exec.Description} (process {pid} in {PidFile}) is not running. Wait until the database container is healthy again, then run it again.");
        return (pid, state.StartTime);
    }

    /// <summary>
    /// One hold: true once <paramref name="work"/> ran with the server frozen (and it was resumed); false when the server
    /// exited before it was frozen, before any work: its container restarts, and the watchdog ended with it (or on its own).
    /// </summary>
    private async Task<bool> TryHoldAsync((string Id, string StartTime) server, Func<Task> work, CancellationToken ct)
    {
        var pid = server.Id;
        var watchdog = await RunAsync(new[] { "sh", "-c", WatchdogScript, "upgradeops-neo4j-watchdog", pid, PidFile, HeldMarker }, ct).ConfigureAwait(false);
        var watchdogPid = watchdog.StandardOutputText.Trim();
        if (watchdog.ExitCode != 0 || watchdogPid.Length == 0 || !watchdogPid.All(char.IsAsciiDigit))
            throw AdminFailure("Neo4jStopFailed", "the watchdog", watchdog);

        Exception? failure = null;
        var frozen = false;
        try
        {
            var term = await RunAsync(new[] { "kill", pid }, ct).ConfigureAwait(false);
            if (term.ExitCode != 0) throw AdminFailure("Neo4jStopFailed", $"kill {pid}", term);
            WasStopped = true;
            frozen = await WaitFrozenAsync(server, ct).ConfigureAwait(false);
            if (!frozen) return false;
            await work().ConfigureAwait(false);
            return true;
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            if (failure is not null || frozen)
            {
                try
                {
                    await RunAsync(new[] { "kill", watchdogPid }, CancellationToken.None).ConfigureAwait(false);
                    var resumed = await RunAsync(new[] { "kill", "-CONT", pid }, CancellationToken.None).ConfigureAwait(false);
                    await RunAsync(new[] { "rm", "-f", HeldMarker }, CancellationToken.None).ConfigureAwait(false);
                    if (resumed.ExitCode != 0)
                    {
                        _log?.LogWarning("Neo4j (process {Pid}) in {Where} could not be resumed: {Error}", pid, _exec.Description, Redact(resumed.StandardError.Trim()));
                        if (failure is null) throw AdminFailure("Neo4jResumeFailed", $"kill -CONT {pid}", resumed);
                    }
                }
                // The error that ended the hold is the one raised: a container that restarted under it refuses these commands too.
                catch (Exception cleanup) when (failure is not null && cleanup is UpgradeOpsException or Docker.DotNet.DockerApiException)
                {
                    _log?.LogWarning("Neo4j (process {Pid}) in {Where} could not be resumed after the failure: {Error}", pid, _exec.Description, cleanup.Message);
                }
            }
        }
    }

    /// <summary>True once the server is frozen; false when it exited (or its container restarted) first.</summary>
    private async Task<bool> WaitFrozenAsync((string Id, string StartTime) server, CancellationToken ct)
    {
        var pid = server.Id;
        var deadline = DateTime.UtcNow + StopTimeout;
        while (true)
        {
            var state = await ProcessStateAsync(pid, ct).ConfigureAwait(false);
            if (state is null || state.Value.StartTime != server.StartTime) return false;
            if (state.Value.State.StartsWith('T')) return true;
            if (DateTime.UtcNow >= deadline)
                throw new UpgradeOpsException("Neo4jStopFailed", ErrorKind.OperationTimeout, Name,
                    $"The Neo4j server (process {pid}) in {_exec.Description} did not shut down within {StopTimeout.TotalSeconds:N0} s (state {state.Value.State}); " +
                    "it was resumed. Look at the database's logs, then run it again.");
            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The process's state letter and start time from /proc/PID/stat, or null when it is gone or its container is no longer
    /// running: the server ended its shutdown before the watchdog froze it, and the Engine (a 409 "is restarting", seen on
    /// the graph sandbox) or the kubelet (exec refused) turns commands away while the container comes back.
    /// </summary>
    private async Task<(string State, string StartTime)?> ProcessStateAsync(string pid, CancellationToken ct)
    {
        ExecResult result;
        try
        {
            result = await RunAsync(new[] { "cat", $"/proc/{pid}/stat" }, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTurnedAway(ex))
        {
            return null;
        }
        return result.ExitCode == 0 ? ParseStat(result.StandardOutputText) : null;
    }

    /// <summary>An exec refused because the container is not running: the Engine's 409 "is restarting", or the exec error of either platform.</summary>
    private static bool IsTurnedAway(Exception ex) =>
        ex is UpgradeOpsException { ErrorId: "ContainerExecFailed" or "PodExecFailed" }
            || ex is Docker.DotNet.DockerApiException { StatusCode: System.Net.HttpStatusCode.Conflict };

    /// <summary>
    /// State (field 3) and start time (field 22) of a /proc/PID/stat line; the command name (field 2) is in parentheses
    /// and may hold spaces, so the fields are counted after its closing one.
    /// </summary>
    internal static (string State, string StartTime)? ParseStat(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0) return null;
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 19 ? (fields[0], fields[19]) : null;
    }

    /// <summary>
    /// Waits until the server answers cypher-shell again, after a dump or load whose held server ended and whose container
    /// restarts (where nothing else waits for it: a pod's readiness can lag its container's restart). An exec that fails
    /// while the container restarts is tried again.
    /// </summary>
    public async Task WaitAnsweringAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        var last = "";
        while (true)
        {
            try
            {
                var result = await RunAsync(new[] { "cypher-shell", "-d", "system", "--format", "plain", "CALL dbms.components() YIELD edition" }, ct).ConfigureAwait(false);
                if (result.ExitCode == 0) return;
                last = Redact(result.StandardError.Trim());
            }
            // The container may be restarting meanwhile (an exec turned away) or its server not yet answering.
            catch (Exception ex) when (ex is UpgradeOpsException || IsTurnedAway(ex))
            {
                last = ex.Message;
            }
            if (await _exec.RestartIfHeldBackAsync(ct).ConfigureAwait(false))
                _log?.LogDebug("The restart of {Where} was held back by its restart policy's delay; restarted it now.", _exec.Description);
            if (DateTimeOffset.UtcNow > deadline)
                throw new UpgradeOpsException("Neo4jNotBack", ErrorKind.OperationTimeout, Name,
                    $"Neo4j of '{Name}' in {_exec.Description} did not answer within {timeout.TotalSeconds:N0} s after its server was stopped for neo4j-admin ({last}). " +
                    "Look at the database's log (kubectl logs, docker logs) and start it again if it stays down; once it answers, run the backup or restore again.");
            await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        }
    }

    private async Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? stdout = null, Stream? stdin = null) =>
        await _exec.RunAsync(command, ct, stdout, stdin).ConfigureAwait(false);

    private static bool IsUnauthorized(string error) =>
        error.Contains("unauthorized", StringComparison.OrdinalIgnoreCase) || error.Contains("authentication", StringComparison.OrdinalIgnoreCase);

    /// <summary>Neo4j refused the credentials (cypher-shell: "The client is unauthorized due to authentication failure."); <paramref name="error"/> is redacted.</summary>
    private UpgradeOpsException AuthenticationFailed(string error, string nextStep) =>
        new("Neo4jAuthenticationFailed", ErrorKind.SecurityError, Name,
            $"Neo4j in {_exec.Description} refused user '{User}': {error} The credentials come from the container's NEO4J_AUTH (user/password) " +
            "or the variables the profile names (userVariable, passwordVariable); NEO4J_AUTH sets the password only when the store is created, " +
            $"so changing it later does not change the password. {nextStep}");

    private UpgradeOpsException AdminFailure(string errorId, string tool, ExecResult result, string? where = null)
    {
        where ??= _exec.Description;
        var error = Redact(result.StandardError.Trim());
        // cypher-shell (STOP/START DATABASE) with credentials the server refuses: a wrong password, not a failed command.
        if (tool == "cypher-shell" && IsUnauthorized(error))
            return AuthenticationFailed(error, "Check them, then run it again.");
        // The store lock: neo4j-admin refuses a database another process has open ("The database is in use. Stop database 'x'
        // and try again."). Never the server itself, which let go of the store first (held stopped, or STOP DATABASE): another
        // process took it meanwhile (seen on the graph sandbox with a second holder of the store lock).
        if (error.Contains("in use", StringComparison.OrdinalIgnoreCase))
            return new UpgradeOpsException("Neo4jDatabaseRunning", ErrorKind.ResourceBusy, Name,
                $"{tool} in {where} was refused because database '{Database}' is in use by another process: {error} Nothing was changed. " +
                "The Neo4j server had let go of the store for it, so something else has it open: another backup or restore tool's neo4j-admin, " +
                "one run by hand, or a second Neo4j on the same volume. Let it finish or stop it, then run it again.");
        return new UpgradeOpsException(errorId, ErrorKind.InvalidOperation, Name,
            $"{tool} in {where} failed with exit code {result.ExitCode}: {(error.Length > 0 ? error : "no error output")} " +
            "Look at the database container's logs, check that it runs Neo4j 5 with neo4j-admin, then run it again.");
    }

    private string Redact(string text) => UserText.Shown(_password.Length == 0 ? text : text.Replace(_password, "***"));
}

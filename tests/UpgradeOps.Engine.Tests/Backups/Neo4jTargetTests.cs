using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// Neo4j backups and loads through the exec contract (IContainerExec): a fake answers cypher-shell, neo4j-admin and the
/// shell commands as a Neo4j 5 container of the official image would, and records every command, so the sequences (the
/// server held stopped around a Community dump, and always resumed) are proven without a Neo4j.
/// </summary>
public sealed class Neo4jTargetTests : IDisposable
{
    private const string Password = "s3cr3t-Pa55";
    private static readonly byte[] DumpBytes = Encoding.ASCII.GetBytes("DZV1 a Neo4j 5 dump, as neo4j-admin streams it" + new string('x', 70_000));
    private static readonly byte[] ArtifactBytes = Encoding.ASCII.GetBytes("an Enterprise full backup artifact");
    private readonly FakeNeo4j _server = new();
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"neo4j-target-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, true);
    }

    /// <summary>A Neo4j container of the official image: pid 4242 in its pid file, the watchdog started as 4343.</summary>
    private sealed class FakeNeo4j : IContainerExec
    {
        public List<string> Commands { get; } = new();
        public string Description => "fake neo4j container";
        public (int Exit, string Output, string Error) Components { get; set; } = (0, "edition\n\"community\"\n", "");
        public string ProcessState { get; set; } = "T (stopped)";
        /// <summary>How many holds the server exits in before the watchdog freezes it; then <see cref="ExitSeen"/> says what the state read sees.</summary>
        public int ExitsBeforeFrozen { get; set; }
        public ExitSeen ExitSeen { get; set; }
        private bool _exited;
        public (int Exit, string Error)? DumpFailure { get; set; }
        public (int Exit, string Error)? LoadFailure { get; set; }
        public (int Exit, string Error)? CheckFailure { get; set; }
        public (int Exit, string Error)? CypherFailure { get; set; }
        public CancellationTokenSource? CancelDuringDump { get; set; }
        public string Whoami { get; set; } = "root";
        public byte[]? Loaded { get; private set; }
        public bool ResumeFails { get; set; }
        public bool LeftHeld { get; set; }

        public Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null)
        {
            ct.ThrowIfCancellationRequested();
            var line = string.Join(' ', command);
            Commands.Add(command[0] == "sh" && command[2] == Neo4jTarget.WatchdogScript ? "watchdog " + string.Join(' ', command.Skip(4))
                : command[0] == "sh" && command[2] == Neo4jTarget.RecoverScript ? "recover " + command[3] : line);
            ExecResult Ok(string output = "") => new(0, "", output);
            if (Commands[^1].StartsWith("recover", StringComparison.Ordinal)) return Task.FromResult(Ok(LeftHeld ? "4242\n" : ""));
            if (line.StartsWith("cypher-shell", StringComparison.Ordinal) && line.EndsWith("YIELD edition", StringComparison.Ordinal))
                return Task.FromResult(new ExecResult(Components.Exit, Components.Error, Components.Output));
            if (line.StartsWith("cypher-shell", StringComparison.Ordinal) && CypherFailure is { } refused)
                return Task.FromResult(new ExecResult(refused.Exit, refused.Error, ""));
            if (line == $"cat {Neo4jTarget.PidFile}")
            {
                _exited = false;
                return Task.FromResult(Ok("4242\n"));
            }
            if (line == "kill 4242" && ExitsBeforeFrozen > 0)
            {
                ExitsBeforeFrozen--;
                _exited = true;
            }
            if (Commands[^1].StartsWith("watchdog", StringComparison.Ordinal)) return Task.FromResult(Ok("4343\n"));
            if (line == "kill -CONT 4242" && ResumeFails) return Task.FromResult(new ExecResult(1, "kill: (4242) - No such process", ""));
            if (line == "cat /proc/4242/stat")
            {
                if (!_exited) return Task.FromResult(Ok(Stat(ProcessState[..1], 1000)));
                return ExitSeen switch
                {
                    ExitSeen.DockerRestarting => throw new UpgradeOpsException("ContainerExecFailed", ErrorKind.InvalidOperation, "exec",
                        "The Docker Engine refused to start a command in the container (HTTP/1.1 409 Conflict: {\"message\":\"Container 8beb is restarting, wait until the container is running\"}). Check that the container is running."),
                    ExitSeen.PodRestarting => throw new UpgradeOpsException("PodExecFailed", ErrorKind.ConnectionError, "ns/pod",
                        "The Kubernetes API did not start a command in pod ns/pod (container neo4j): The server returned status code '500' when status code '101' was expected."),
                    // The restarted container's server got the same process id: only its start time tells it from the one stopped.
                    ExitSeen.SameIdRestarted => Task.FromResult(Ok(Stat("S", 2000))),
                    _ => Task.FromResult(new ExecResult(1, "cat: can't open '/proc/4242/stat': No such file or directory", "")),
                };
            }
            if (command[0] == "whoami") return Task.FromResult(Ok(Whoami + "\n"));
            if (line.StartsWith("neo4j-admin database dump", StringComparison.Ordinal))
            {
                if (CancelDuringDump is { } cancel)
                {
                    standardOutput!.Write(DumpBytes, 0, 100);
                    cancel.Cancel();
                    ct.ThrowIfCancellationRequested();
                }
                if (DumpFailure is { } failure)
                {
                    standardOutput!.Write(DumpBytes, 0, 100);
                    return Task.FromResult(new ExecResult(failure.Exit, failure.Error, ""));
                }
                standardOutput!.Write(DumpBytes);
                return Task.FromResult(Ok());
            }
            if (command[0] == "sh" && command[2].StartsWith("set --", StringComparison.Ordinal))
            {
                standardOutput!.Write(ArtifactBytes);
                return Task.FromResult(Ok());
            }
            if (line.Contains("neo4j-admin database load --info", StringComparison.Ordinal))
            {
                standardInput!.CopyTo(Stream.Null);
                standardOutput!.Write(Encoding.UTF8.GetBytes("Database: neo4j\nFormat: ZSTD\nFiles: 12\nBytes: 70000\n"));
                return Task.FromResult(Ok());
            }
            if (line.Contains("neo4j-admin database load", StringComparison.Ordinal))
            {
                var loaded = new MemoryStream();
                standardInput!.CopyTo(loaded);
                Loaded = loaded.ToArray();
                return Task.FromResult(LoadFailure is { } failure ? new ExecResult(failure.Exit, failure.Error, "") : Ok());
            }
            if (line.StartsWith("neo4j-admin database check", StringComparison.Ordinal))
                return Task.FromResult(CheckFailure is { } failed ? new ExecResult(failed.Exit, failed.Error, "") : Ok("Nodes: 300\nRelationships: 2\n"));
            return Task.FromResult(Ok());
        }
    }

    /// <summary>A /proc/PID/stat line of the server (a command name with a space and a parenthesis, as a JVM's may be).</summary>
    private static string Stat(string state, long startTime) =>
        $"4242 (java (x) y) {state} 1 1 1 0 -1 4194560 100 0 0 0 5 2 0 0 20 0 40 0 {startTime} 3000000 9000 18446744073709551615\n";

    public enum ExitSeen { Gone, DockerRestarting, PodRestarting, SameIdRestarted }

    private static readonly Dictionary<string, string> InfrahubEnvironment = new()
    {
        // As Infrahub's docker-compose.yml gives the database service its credentials.
        ["NEO4J_AUTH"] = $"neo4j/{Password}",
        ["NEO4J_dbms_security_procedures_unrestricted"] = "apoc.*",
    };

    private Neo4jTarget Target(Neo4jEdition? edition = null, string image = "neo4j:5.20.0", Dictionary<string, string>? environment = null, ILogger? log = null,
        TimeSpan? stopTimeout = null) =>
        new(_server, new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database", Edition = edition },
            image, environment ?? InfrahubEnvironment, log)
        { PollInterval = TimeSpan.FromMilliseconds(5), StopTimeout = stopTimeout ?? TimeSpan.FromMilliseconds(200) };

    private const string Recover = $"recover {Neo4jTarget.HeldMarker}";
    private const string Detect = "cypher-shell -d system --format plain CALL dbms.components() YIELD edition";
    private static readonly string[] Stop = [$"cat {Neo4jTarget.PidFile}", "cat /proc/4242/stat", $"watchdog 4242 {Neo4jTarget.PidFile} {Neo4jTarget.HeldMarker}", "kill 4242", "cat /proc/4242/stat"];
    private static readonly string[] Resume = ["kill 4343", "kill -CONT 4242", $"rm -f {Neo4jTarget.HeldMarker}"];

    [Fact]
    public async Task A_Community_dump_holds_the_server_stopped_dumps_to_stdout_and_resumes_it()
    {
        var output = new MemoryStream();
        var target = Target();
        Assert.Equal(Neo4jEdition.Community, await target.DumpAsync(output, default));
        Assert.True(target.WasStopped);
        Assert.Equal([Recover, Detect, .. Stop, "neo4j-admin database dump --to-stdout neo4j", .. Resume], _server.Commands);
        Assert.Equal(DumpBytes, output.ToArray());
    }

    [Fact]
    public async Task The_server_is_waited_for_until_it_is_frozen()
    {
        _server.ProcessState = "S (sleeping)";
        // A limit far above the 30 ms the server takes here: a loaded CI machine once used up 200 ms before it froze.
        var target = Target(stopTimeout: TimeSpan.FromSeconds(30));
        var dumping = target.DumpAsync(new MemoryStream(), default);
        await Task.Delay(30);
        _server.ProcessState = "T (stopped)";
        await dumping;
        Assert.True(_server.Commands.Count(c => c == "cat /proc/4242/stat") > 2);
        Assert.Equal([.. Resume], _server.Commands.TakeLast(3));
    }

    [Fact]
    public async Task A_failed_dump_still_resumes_the_server_and_says_what_neo4j_admin_said()
    {
        _server.DumpFailure = (1, "Dump failed for databases: 'neo4j'");
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().DumpAsync(new MemoryStream(), default));
        Assert.Equal(("Neo4jDumpFailed", ErrorKind.InvalidOperation, (object?)"database"), (error.ErrorId, error.Kind, error.Target));
        Assert.Contains("Dump failed for databases", error.Message);
        Assert.Equal([.. Resume], _server.Commands.TakeLast(3));
    }

    [Fact]
    public async Task A_dump_refused_because_the_database_runs_is_its_own_error_and_the_server_is_resumed()
    {
        _server.DumpFailure = (1, "Dump failed for databases: 'neo4j'\nThe database is in use. Stop database 'neo4j' and try again.");
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().DumpAsync(new MemoryStream(), default));
        Assert.Equal(("Neo4jDatabaseRunning", ErrorKind.ResourceBusy), (error.ErrorId, error.Kind));
        Assert.DoesNotContain('\n', error.Message);
        // The server had let go of the store (it was held stopped): the message names who else can have it, not the server.
        Assert.Contains("in use by another process", error.Message);
        Assert.EndsWith("Let it finish or stop it, then run it again.", error.Message);
        Assert.Equal([.. Resume], _server.Commands.TakeLast(3));
    }

    [Fact]
    public async Task A_cancelled_dump_resumes_the_server_without_the_cancelled_token()
    {
        using var cancel = new CancellationTokenSource();
        _server.CancelDuringDump = cancel;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Target().DumpAsync(new MemoryStream(), cancel.Token));
        Assert.Equal([.. Resume], _server.Commands.TakeLast(3));
    }

    [Fact]
    public async Task A_server_that_does_not_shut_down_in_time_is_resumed_and_nothing_is_dumped()
    {
        _server.ProcessState = "S (sleeping)";
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().DumpAsync(new MemoryStream(), default));
        Assert.Equal(("Neo4jStopFailed", ErrorKind.OperationTimeout), (error.ErrorId, error.Kind));
        Assert.DoesNotContain(_server.Commands, c => c.StartsWith("neo4j-admin", StringComparison.Ordinal));
        Assert.Equal([.. Resume], _server.Commands.TakeLast(3));
    }

    [Theory]
    [InlineData(ExitSeen.Gone)]
    [InlineData(ExitSeen.DockerRestarting)]
    [InlineData(ExitSeen.PodRestarting)]
    [InlineData(ExitSeen.SameIdRestarted)]
    public async Task A_server_that_exits_before_it_is_frozen_is_held_again_once_it_answers_and_the_dump_goes_on(ExitSeen seen)
    {
        _server.ExitsBeforeFrozen = 2;
        _server.ExitSeen = seen;
        var log = new CapturedLog();
        var output = new MemoryStream();
        Assert.Equal(Neo4jEdition.Community, await Target(log: log).DumpAsync(output, default));
        Assert.Equal(DumpBytes, output.ToArray());
        // Each exited hold: nothing resumed or killed (the watchdog ended with the server), the server waited for, held again.
        string[] exited = [.. Stop, "cypher-shell -d system --format plain CALL dbms.components() YIELD edition"];
        Assert.Equal([Recover, Detect, .. exited, .. exited, .. Stop, "neo4j-admin database dump --to-stdout neo4j", .. Resume], _server.Commands);
        Assert.Equal(2, log.Lines.Count(l => l.Contains("(process 4242) in fake neo4j container exited before it could be held stopped", StringComparison.Ordinal)));
        Assert.Contains(log.Lines, l => l.Contains("attempt 3 of 3", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(ExitSeen.Gone)]
    [InlineData(ExitSeen.PodRestarting)]
    public async Task A_server_that_exits_before_it_is_frozen_every_time_is_reported_and_nothing_is_dumped(ExitSeen seen)
    {
        _server.ExitsBeforeFrozen = 3;
        _server.ExitSeen = seen;
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().DumpAsync(new MemoryStream(), default));
        Assert.Equal(("Neo4jStopFailed", ErrorKind.InvalidOperation), (error.ErrorId, error.Kind));
        Assert.Contains("exited instead of being held stopped, 3 times in a row", error.Message);
        Assert.DoesNotContain(_server.Commands, c => c.StartsWith("neo4j-admin", StringComparison.Ordinal));
        Assert.DoesNotContain(_server.Commands, c => c.StartsWith("kill -CONT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_load_whose_server_exits_before_it_is_frozen_loads_once_it_is_held()
    {
        _server.ExitsBeforeFrozen = 1;
        await Target().LoadAsync(new MemoryStream(DumpBytes), Neo4jEdition.Community, default);
        Assert.Equal(DumpBytes, _server.Loaded);
        Assert.Single(_server.Commands, c => c.Contains("neo4j-admin database load", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("4242 (java) T 1 1 1 0 -1 4194560 100 0 0 0 5 2 0 0 20 0 40 0 1234 3000000 9000", "T", "1234")]
    [InlineData("7 (my (odd) name) S 1 1 1 0 -1 4194560 100 0 0 0 5 2 0 0 20 0 40 0 99 1 2", "S", "99")]
    public void A_proc_stat_line_gives_the_state_and_the_start_time(string stat, string state, string startTime) =>
        Assert.Equal((state, startTime), Neo4jTarget.ParseStat(stat));

    [Theory]
    [InlineData("")]
    [InlineData("4242 (java) T 1 1")]
    public void A_short_proc_stat_line_gives_nothing(string stat) => Assert.Null(Neo4jTarget.ParseStat(stat));

    [Fact]
    public async Task A_server_that_cannot_be_resumed_after_a_good_dump_is_an_error()
    {
        _server.ResumeFails = true;
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().DumpAsync(new MemoryStream(), default));
        Assert.Equal("Neo4jResumeFailed", error.ErrorId);
    }

    [Fact]
    public async Task A_server_an_interrupted_run_left_stopped_is_resumed_first_and_nothing_else_is_done()
    {
        _server.LeftHeld = true;
        var log = new CapturedLog();
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target(Neo4jEdition.Community, log: log).DumpAsync(new MemoryStream(), default));
        Assert.Equal(("Neo4jLeftStopped", ErrorKind.ResourceUnavailable, (object?)"database"), (error.ErrorId, error.Kind, error.Target));
        Assert.Contains("Wait until the database container is healthy again", error.Message);
        Assert.Equal([Recover], _server.Commands);
        Assert.Single(log.Lines);
    }

    [Theory]
    [InlineData(true, "4242")]
    [InlineData(false, null)]
    public async Task The_platform_resumes_a_server_left_stopped_itself_to_wait_for_it_before_it_says_so(bool leftHeld, string? pid)
    {
        // Compose's backup and restore resume it first (ComposeHold.RecoverAsync), wait for its container, start the
        // application, and only then stop with Neo4jLeftStopped, whose sentence they end.
        _server.LeftHeld = leftHeld;
        var target = Target(Neo4jEdition.Community);
        Assert.Equal(pid, await target.ResumeIfLeftHeldAsync(default));
        Assert.Equal([Recover], _server.Commands);
        var error = target.LeftStopped("4242", "it was resumed and its container is back. Nothing else was done: run the backup again.");
        Assert.Equal(("Neo4jLeftStopped", ErrorKind.ResourceUnavailable, (object?)"database"), (error.ErrorId, error.Kind, error.Target));
        Assert.EndsWith("(process 4242) had been left stopped by an interrupted backup or restore; it was resumed and its container is back. Nothing else was done: run the backup again.",
            error.Message);
    }

    [Fact]
    public async Task An_Enterprise_server_is_backed_up_online_and_never_stopped()
    {
        _server.Components = (0, "edition\n\"enterprise\"\n", "");
        var output = new MemoryStream();
        Assert.Equal(Neo4jEdition.Enterprise, await Target().DumpAsync(output, default));
        Assert.Equal(ArtifactBytes, output.ToArray());
        Assert.Equal([Recover, Detect], _server.Commands.Take(2));
        Assert.Equal($"sh -c rm -rf \"$0\" && mkdir -p \"$0\" {Neo4jTarget.BackupFolder}", _server.Commands[2]);
        Assert.Equal($"neo4j-admin database backup --expand-commands --include-metadata=all --type=FULL --to-path={Neo4jTarget.BackupFolder} neo4j", _server.Commands[3]);
        Assert.StartsWith("sh -c set --", _server.Commands[4]);
        Assert.Equal($"rm -rf {Neo4jTarget.BackupFolder}", _server.Commands[5]);
        Assert.DoesNotContain(_server.Commands, c => c.StartsWith("kill", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_whose_process_id_cannot_be_read_is_never_stopped()
    {
        var target = new Neo4jTarget(new NoPidFile(_server), new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database" }, "neo4j:5.20.0", InfrahubEnvironment);
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => target.DumpAsync(new MemoryStream(), default));
        Assert.Equal(("Neo4jProcessNotFound", ErrorKind.ResourceUnavailable), (error.ErrorId, error.Kind));
        Assert.False(target.WasStopped);
        Assert.DoesNotContain(_server.Commands, c => c.StartsWith("kill", StringComparison.Ordinal) || c.StartsWith("watchdog", StringComparison.Ordinal));
    }

    /// <summary>A container whose pid file is missing (the server not running, or another image's layout).</summary>
    private sealed class NoPidFile(FakeNeo4j inner) : IContainerExec
    {
        public string Description => inner.Description;
        public Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null) =>
            command[0] == "cat"
                ? Task.FromResult(new ExecResult(1, $"cat: {Neo4jTarget.PidFile}: No such file or directory", ""))
                : inner.RunAsync(command, ct, standardOutput, standardInput);
    }

    [Fact]
    public async Task Waiting_for_a_server_to_answer_again_cuts_short_a_restart_its_platform_holds_back()
    {
        var restarting = new HeldBackRestart(_server);
        var target = new Neo4jTarget(restarting, new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database" }, "neo4j:5.20.0", InfrahubEnvironment);
        await target.WaitAnsweringAsync(TimeSpan.FromSeconds(30), default);
        Assert.Equal(1, restarting.Restarts);
        Assert.Equal(2, restarting.Queries);
    }

    /// <summary>A container in Docker's restart delay: its server does not answer until it is restarted.</summary>
    private sealed class HeldBackRestart(FakeNeo4j inner) : IContainerExec
    {
        public int Restarts { get; private set; }
        public int Queries { get; private set; }
        public string Description => inner.Description;
        public Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null)
        {
            if (command[0] == "cypher-shell") Queries++;
            return command[0] == "cypher-shell" && Restarts == 0
                ? Task.FromResult(new ExecResult(1, "Connection refused", ""))
                : inner.RunAsync(command, ct, standardOutput, standardInput);
        }
        public Task<bool> RestartIfHeldBackAsync(CancellationToken ct)
        {
            if (Restarts > 0) return Task.FromResult(false);
            Restarts++;
            return Task.FromResult(true);
        }
    }

    [Theory]
    [InlineData(0, "edition\n\"enterprise\"\n", "", "neo4j:5.20.0", false, Neo4jEdition.Enterprise)]
    [InlineData(0, "edition\ncommunity\n", "", "neo4j:5.20.0-enterprise", false, Neo4jEdition.Community)]
    [InlineData(1, "", "Connection refused", "neo4j:5.20.0-enterprise", false, Neo4jEdition.Enterprise)]
    [InlineData(1, "", "Connection refused", "registry.local/mirror/neo4j:5.20.0-community", false, Neo4jEdition.Community)]
    [InlineData(1, "", "Connection refused", "neo4j:5.20.0", true, Neo4jEdition.Enterprise)]
    [InlineData(1, "", "Connection refused", "neo4j:5", false, null)]
    [InlineData(1, "", "Connection refused", "neo4j:5", false, Neo4jEdition.Community, "COMMUNITY_K8S")]
    [InlineData(1, "", "Connection refused", "neo4j:5", false, Neo4jEdition.Enterprise, "enterprise")]
    [InlineData(1, "", "Connection refused", "neo4j:5", false, null, "unknown")]
    [InlineData(1, "", "Connection refused", "neo4j", false, null)]
    public async Task The_edition_is_the_servers_answer_else_the_image_tag_or_the_license_variable(int exit, string output, string error, string image, bool license,
        Neo4jEdition? expected, string? editionVariable = null)
    {
        _server.Components = (exit, output, error);
        var environment = new Dictionary<string, string>(InfrahubEnvironment);
        if (license) environment["NEO4J_ACCEPT_LICENSE_AGREEMENT"] = "yes";
        // NEO4J_EDITION: the official image's (community, enterprise) or the neo4j Helm chart's (COMMUNITY_K8S, ENTERPRISE_K8S).
        if (editionVariable is not null) environment["NEO4J_EDITION"] = editionVariable;
        var target = Target(image: image, environment: environment);
        if (expected is null)
        {
            var refused = await Assert.ThrowsAsync<UpgradeOpsException>(() => target.EditionAsync(default));
            Assert.Equal(("Neo4jEditionUnknown", ErrorKind.InvalidData, (object?)"database"), (refused.ErrorId, refused.Kind, refused.Target));
            Assert.Contains("edition: Community", refused.Message);
            return;
        }
        Assert.Equal(expected, await target.EditionAsync(default));
    }

    [Fact]
    public async Task The_profiles_edition_is_taken_without_asking_the_server()
    {
        Assert.Equal(Neo4jEdition.Enterprise, await Target(Neo4jEdition.Enterprise, "neo4j:5.20.0-community").EditionAsync(default));
        Assert.Equal([Recover], _server.Commands);
    }

    [Fact]
    public async Task A_refused_password_with_an_image_that_says_nothing_is_an_authentication_error_that_never_shows_the_password()
    {
        _server.Components = (1, "", $"The client is unauthorized due to authentication failure. (password {Password})");
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target(image: "neo4j:5").EditionAsync(default));
        Assert.Equal(("Neo4jAuthenticationFailed", ErrorKind.SecurityError), (error.ErrorId, error.Kind));
        Assert.DoesNotContain(Password, error.Message);
        Assert.Contains("NEO4J_AUTH", error.Message);
    }

    [Fact]
    public async Task The_password_is_in_the_execs_environment_only_never_in_a_command_a_log_line_or_a_message()
    {
        _server.Components = (1, "", $"unauthorized: {Password}");
        _server.DumpFailure = (1, $"failed with {Password}");
        var log = new CapturedLog();
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target(image: "neo4j:5.20.0-community", log: log).DumpAsync(new MemoryStream(), default));
        Assert.DoesNotContain(Password, error.Message);
        Assert.Contains("***", error.Message);
        Assert.NotEmpty(log.Lines);
        Assert.DoesNotContain(log.Lines, l => l.Contains(Password, StringComparison.Ordinal));
        Assert.DoesNotContain(_server.Commands, c => c.Contains(Password, StringComparison.Ordinal));
        var store = new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database" };
        Assert.Equal(["NEO4J_USERNAME=neo4j", $"NEO4J_PASSWORD={Password}"], Neo4jTarget.ExecEnvironment(store, InfrahubEnvironment));
    }

    [Fact]
    public void In_a_pod_exec_the_credentials_are_shell_expansions_of_the_containers_own_variables_never_their_values()
    {
        var store = new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database" };
        var fromAuth = Neo4jTarget.ExecEnvironmentFromVariables(store, InfrahubEnvironment);
        Assert.Equal(new Dictionary<string, string> { ["NEO4J_USERNAME"] = "NEO4J_AUTH%%/*", ["NEO4J_PASSWORD"] = "NEO4J_AUTH#*/" }, fromAuth);
        Assert.DoesNotContain(fromAuth.Values, v => v.Contains(Password, StringComparison.Ordinal));
        Assert.Empty(Neo4jTarget.ExecEnvironmentFromVariables(store, new Dictionary<string, string> { ["NEO4J_AUTH"] = "none" }));
        var named = new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database", UserVariable = "DB_USER", PasswordVariable = "DB_PASSWORD" };
        Assert.Equal(new Dictionary<string, string> { ["NEO4J_USERNAME"] = "DB_USER", ["NEO4J_PASSWORD"] = "DB_PASSWORD" },
            Neo4jTarget.ExecEnvironmentFromVariables(named, new Dictionary<string, string> { ["NEO4J_AUTH"] = "neo4j/x", ["DB_USER"] = "graph", ["DB_PASSWORD"] = "other" }));
        Assert.Contains("NEO4J_EDITION", Neo4jTarget.EnvironmentVariables(store));
        Assert.Equal(["NEO4J_AUTH", "NEO4J_ACCEPT_LICENSE_AGREEMENT", "NEO4J_EDITION", "NEO4J_initial_dbms_default__database", "NEO4J_dbms_default__database", "DB_USER", "DB_PASSWORD"],
            Neo4jTarget.EnvironmentVariables(named));

        // As sent: sh sets them from NEO4J_AUTH inside the container, so cypher-shell gets user and password without the value crossing the API.
        var wrapped = new PodContainerExec(null!, "ns", "pod", "neo4j", fromAuth).Wrap(["cypher-shell", "RETURN 1"]);
        Assert.Equal("export NEO4J_USERNAME=\"${NEO4J_AUTH%%/*}\" NEO4J_PASSWORD=\"${NEO4J_AUTH#*/}\"; exec \"$@\"", wrapped[2]);
    }

    [Fact]
    public void Credentials_and_database_come_from_the_containers_environment_or_the_variables_the_profile_names()
    {
        var store = new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database" };
        Assert.Equal(("neo4j", Password), Neo4jTarget.Credentials(store, InfrahubEnvironment));
        Assert.Equal(("neo4j", ""), Neo4jTarget.Credentials(store, new Dictionary<string, string> { ["NEO4J_AUTH"] = "none" }));
        Assert.Equal(["NEO4J_USERNAME=neo4j"], Neo4jTarget.ExecEnvironment(store, new Dictionary<string, string> { ["NEO4J_AUTH"] = "none" }));
        var named = new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database", UserVariable = "DB_USER", PasswordVariable = "DB_PASSWORD" };
        Assert.Equal(("graph", "other"), Neo4jTarget.Credentials(named, new Dictionary<string, string> { ["NEO4J_AUTH"] = "neo4j/x", ["DB_USER"] = "graph", ["DB_PASSWORD"] = "other" }));

        Assert.Equal("neo4j", Neo4jTarget.DatabaseName(store, InfrahubEnvironment));
        Assert.Equal("graph", Neo4jTarget.DatabaseName(store, new Dictionary<string, string> { ["NEO4J_initial_dbms_default__database"] = "graph" }));
        Assert.Equal("infrahub", Neo4jTarget.DatabaseName(new DataStoreDefinition { Name = "d", Database = "infrahub" },
            new Dictionary<string, string> { ["NEO4J_initial_dbms_default__database"] = "graph" }));
    }

    [Fact]
    public async Task A_Community_load_holds_the_server_stopped_and_loads_from_stdin_as_the_neo4j_user_with_overwrite()
    {
        var target = Target();
        await target.LoadAsync(new MemoryStream(DumpBytes), Neo4jEdition.Community, default);
        Assert.True(target.WasStopped);
        Assert.Equal([Recover, Detect, "whoami", .. Stop,
            "su -s /bin/sh -c exec \"$0\" \"$@\" -- neo4j neo4j-admin database load --from-stdin --overwrite-destination=true neo4j", .. Resume], _server.Commands);
        Assert.Equal(DumpBytes, _server.Loaded);
    }

    [Fact]
    public async Task An_Enterprise_load_whose_STOP_DATABASE_is_refused_for_its_credentials_is_an_authentication_failure_and_loads_nothing()
    {
        // The image says Enterprise, so the edition is known although cypher-shell is refused; STOP DATABASE then names the cause.
        _server.Components = (1, "", $"The client is unauthorized due to authentication failure. ({Password})");
        _server.CypherFailure = (1, "The client is unauthorized due to authentication failure.");
        _server.Whoami = "neo4j";
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            Target(image: "neo4j:5.20.0-enterprise").LoadAsync(new MemoryStream(ArtifactBytes), Neo4jEdition.Enterprise, default));
        Assert.Equal("Neo4jAuthenticationFailed", error.ErrorId);
        Assert.Equal(ErrorKind.SecurityError, error.Kind);
        Assert.Contains("NEO4J_AUTH", error.Message);
        Assert.DoesNotContain(Password, error.Message);
        Assert.Null(_server.Loaded);
    }

    [Fact]
    public async Task A_restore_test_loads_into_the_scratch_container_only_and_checks_what_it_loaded()
    {
        var scratch = new FakeNeo4j();
        var report = await Target().RestoreTestAsync(new MemoryStream(DumpBytes), scratch, default);
        Assert.Equal(["neo4j-admin database load --from-stdin --overwrite-destination=true neo4j", "neo4j-admin database check neo4j"], scratch.Commands);
        Assert.Equal(DumpBytes, scratch.Loaded);
        Assert.Equal("Nodes: 300; Relationships: 2", report);
        // The live database is neither stopped nor loaded into.
        Assert.Empty(_server.Commands);
    }

    [Fact]
    public async Task A_restore_test_whose_scratch_load_or_check_fails_names_the_scratch_container()
    {
        var scratch = new FakeNeo4j { LoadFailure = (1, "The archive <stdin> is truncated") };
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().RestoreTestAsync(new MemoryStream(DumpBytes), scratch, default));
        Assert.Equal("Neo4jLoadFailed", error.ErrorId);
        Assert.Contains("a scratch container (fake neo4j container)", error.Message);
        Assert.DoesNotContain("neo4j-admin database check neo4j", scratch.Commands);
        scratch = new FakeNeo4j { CheckFailure = (1, "Inconsistencies found") };
        error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().RestoreTestAsync(new MemoryStream(DumpBytes), scratch, default));
        Assert.Equal("Neo4jCheckFailed", error.ErrorId);
        Assert.Empty(_server.Commands);
    }

    [Fact]
    public async Task A_load_in_a_container_that_runs_as_neo4j_needs_no_su_and_a_failed_load_still_resumes_the_server()
    {
        _server.Whoami = "neo4j";
        _server.LoadFailure = (1, "Failed to load database 'neo4j': unexpected end of archive");
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().LoadAsync(new MemoryStream(DumpBytes), null, default));
        Assert.Equal("Neo4jLoadFailed", error.ErrorId);
        Assert.Contains("neo4j-admin database load --from-stdin --overwrite-destination=true neo4j", _server.Commands);
        Assert.Equal([.. Resume], _server.Commands.TakeLast(3));
    }

    [Fact]
    public async Task A_load_into_a_database_its_server_still_holds_is_refused_as_running()
    {
        _server.LoadFailure = (1, "The database is in use. Stop database 'neo4j' and try again.");
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().LoadAsync(new MemoryStream(DumpBytes), null, default));
        Assert.Equal("Neo4jDatabaseRunning", error.ErrorId);
    }

    [Fact]
    public async Task An_Enterprise_load_stops_and_starts_the_database_and_starts_it_also_after_a_failure()
    {
        _server.Components = (0, "edition\nenterprise\n", "");
        _server.Whoami = "neo4j";
        _server.LoadFailure = (1, "broken archive");
        var target = Target();
        await Assert.ThrowsAsync<UpgradeOpsException>(() => target.LoadAsync(new MemoryStream(ArtifactBytes), Neo4jEdition.Enterprise, default));
        // The server stayed up: the restore does not wait for its container to restart.
        Assert.False(target.WasStopped);
        Assert.Equal([Recover, Detect, "whoami", "cypher-shell -d system --format plain STOP DATABASE `neo4j`",
            "neo4j-admin database load --from-stdin --overwrite-destination=true neo4j", "cypher-shell -d system --format plain START DATABASE `neo4j`"], _server.Commands);
    }

    [Fact]
    public async Task An_Enterprise_backup_is_refused_on_a_Community_server_before_anything_stops()
    {
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => Target().LoadAsync(new MemoryStream(ArtifactBytes), Neo4jEdition.Enterprise, default));
        Assert.Equal(("Neo4jEditionMismatch", ErrorKind.InvalidOperation), (error.ErrorId, error.Kind));
        Assert.Equal([Recover, Detect], _server.Commands);
    }

    [Fact]
    public async Task The_manifests_SHA256_is_that_of_the_bytes_streamed_and_the_edition_is_recorded()
    {
        var writer = BackupWriter.Create(new BackupRequest { Deployment = Deployment(), Path = _folder }, Deployment(), "/srv/docker-compose.yml", NullLog.Instance);
        var component = new BackupComponent { Name = "database", Kind = BackupComponentKind.Neo4jDump, File = "database.dump", Sha256 = "", Source = "Neo4j in service database" };
        using var activity = EngineContext.Silent().StartActivity("test");
        writer.Backup.Components.Add(await BackupComponents.CaptureNeo4jAsync(Target(), component, writer, activity, default));
        await writer.CompleteAsync(TimeSpan.FromSeconds(1), default);

        var written = BackupCatalog.Open(writer.Backup.Path, null).Components.Single();
        Assert.Equal(Convert.ToHexString(SHA256.HashData(DumpBytes)).ToLowerInvariant(), written.Sha256);
        Assert.Equal(DumpBytes.Length, written.SizeBytes);
        Assert.Equal(DumpBytes, File.ReadAllBytes(Path.Combine(writer.Backup.Path, "database.dump")));
        Assert.Equal(Neo4jEdition.Community, written.Neo4jEdition);
        Assert.Equal("Neo4j in service database, database 'neo4j' (Community offline dump)", written.Source);
    }

    private static Deployment Deployment() => new() { Name = "prod", Platform = DeploymentPlatform.Compose, Profile = "infrahub", Version = "1.7.5" };

    private sealed class NullLog : ILogger
    {
        public static readonly NullLog Instance = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => false;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) { }
    }

    private sealed class FakeHost(ProductProfile profile, Neo4jTarget target) : IDataStoreHost
    {
        public ProductProfile Profile { get; } = profile;
        public Task<PostgresTarget> PostgresAsync(DataStoreDefinition store, CancellationToken ct) => throw new InvalidOperationException("no PostgreSQL here");
        public Task<Neo4jTarget> Neo4jAsync(DataStoreDefinition store, ILogger log, CancellationToken ct) => Task.FromResult(target);
        public void Dispose() { }
    }

    private (string Folder, BackupComponent Component) WriteDump(string? recordedSha = null)
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllBytes(Path.Combine(_folder, "database.dump"), DumpBytes);
        return (_folder, new BackupComponent
        {
            Name = "database", Kind = BackupComponentKind.Neo4jDump, File = "database.dump", SizeBytes = DumpBytes.Length,
            Sha256 = recordedSha ?? Convert.ToHexString(SHA256.HashData(DumpBytes)).ToLowerInvariant(), Neo4jEdition = Neo4jEdition.Community,
        });
    }

    private FakeHost Host() => new(new ProductProfile { DataStores = { new DataStoreDefinition { Name = "database", Kind = DataStoreKind.Neo4j, Service = "database" } } }, Target());

    [Fact]
    public async Task A_restore_streams_the_file_into_the_load_and_proves_its_SHA256()
    {
        var (folder, component) = WriteDump();
        await DataRestore.LoadNeo4jAsync(Host(), folder, component, null, NullLog.Instance, default);
        Assert.Equal(DumpBytes, _server.Loaded);
    }

    [Fact]
    public async Task A_file_whose_SHA256_is_not_the_manifests_is_reported_after_the_load()
    {
        var (folder, component) = WriteDump(new string('0', 64));
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => DataRestore.LoadNeo4jAsync(Host(), folder, component, null, NullLog.Instance, default));
        Assert.Equal(("BackupChecksumMismatch", ErrorKind.InvalidData), (error.ErrorId, error.Kind));
    }

    [Fact]
    public async Task Verification_reads_a_Neo4j_dumps_header_with_the_targets_neo4j_admin_and_skips_a_restore_test()
    {
        var (folder, component) = WriteDump();
        var manifest = new BackupManifest
        {
            Backup = new DeploymentBackup { Id = "prod-1", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = "prod", Version = "1.7.5", Components = { component } },
        };
        File.WriteAllText(Path.Combine(folder, BackupManifest.FileName), manifest.ToJson());
        var verification = await BackupVerifier.VerifyAsync(new BackupVerificationRequest
        {
            BackupPath = folder, RestoreTest = true, Deployment = Deployment(), DataStores = _ => Task.FromResult<IDataStoreHost>(Host()),
        }, EngineContext.Silent());
        var dump = verification.Checks.Single(c => c.Name == "Dump database");
        Assert.Equal(CheckStatus.Passed, dump.Status);
        Assert.Contains("Format: ZSTD", dump.Detail);
        Assert.Equal(CheckStatus.Skipped, verification.Checks.Single(c => c.Name == "RestoreTest database").Status);
        Assert.Contains("neo4j-admin database load --info --from-stdin neo4j", _server.Commands);
        Assert.True(verification.Passed);
    }
}

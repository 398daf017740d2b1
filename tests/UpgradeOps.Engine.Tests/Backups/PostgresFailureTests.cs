using UpgradeOps.Backups;
using Xunit;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>How a failed pg_dump / pg_restore / psql is named from what it printed (the exec itself is not needed).</summary>
public class PostgresFailureTests
{
    private sealed class NoExec : IContainerExec
    {
        public string Description => "container db";
        public Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null) =>
            throw new NotSupportedException();
    }

    private static UpgradeOpsException Failure(string stderr) =>
        new PostgresTarget(new NoExec(), "sandbox", "s3cret-pass", "sandbox", 55432, null, null).Failure("pg_dump", new ExecResult(1, stderr, ""));

    [Theory]
    [InlineData("pg_dump: error: query failed: FATAL:  terminating connection due to administrator command")]
    [InlineData("pg_dump: error: query failed: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally")]
    [InlineData("pg_dump: error: connection to server was lost")]
    [InlineData("pg_dump: error: connection to server on socket \"/run/postgresql/.s.PGSQL.55432\" failed: FATAL:  the database system is shutting down")]
    public void A_server_that_goes_away_while_the_tool_runs_is_DatabaseConnectionLost_with_what_to_do(string stderr)
    {
        var error = Failure(stderr);
        Assert.Equal("DatabaseConnectionLost", error.ErrorId);
        Assert.Equal(ErrorKind.ConnectionError, error.Kind);
        Assert.Equal("sandbox", error.Target);
        Assert.Contains("run the command again", error.Message);
    }

    [Fact]
    public void Other_failures_keep_their_ids_and_the_password_never_shows()
    {
        Assert.Equal("DatabaseUnreachable", Failure("pg_dump: error: connection to server at \"127.0.0.1\", port 55432 failed: Connection refused").ErrorId);
        Assert.Equal("DatabaseAuthenticationFailed", Failure("FATAL:  password authentication failed for user \"sandbox\"").ErrorId);
        var other = Failure("pg_dump: error: permission denied for table s3cret-pass");
        Assert.Equal("DatabaseCommandFailed", other.ErrorId);
        Assert.DoesNotContain("s3cret-pass", other.Message);
    }
}

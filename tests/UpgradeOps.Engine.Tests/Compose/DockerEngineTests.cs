using System.Net;
using Docker.DotNet;
using UpgradeOps.Compose;

namespace UpgradeOps.Tests.Compose;

/// <summary>Which Docker API failures a pause tries again: only runc's momentary "unable to freeze".</summary>
public class DockerEngineTests
{
    [Fact]
    public void A_freezer_that_gives_up_for_a_moment_is_tried_again() =>
        Assert.True(DockerEngine.IsTransientFreeze(new DockerApiException(HttpStatusCode.InternalServerError,
            """{"message":"Cannot pause container ec03c2035510: OCI runtime pause failed: unable to freeze: unknown"}""")));

    [Theory]
    [InlineData(HttpStatusCode.NotFound, """{"message":"No such container: ec03c2035510"}""")]
    [InlineData(HttpStatusCode.Conflict, """{"message":"Container ec03c2035510 is not running"}""")]
    [InlineData(HttpStatusCode.InternalServerError, """{"message":"cgroups: cgroup deleted: unknown"}""")]
    public void Any_other_failure_is_not(HttpStatusCode status, string body) =>
        Assert.False(DockerEngine.IsTransientFreeze(new DockerApiException(status, body)));

    /// <summary>An engine stopped or restarted under an operation is "lost" (DockerEngineUnreachable, -Resume after it is back); a refused request is not.</summary>
    [Fact]
    public void A_refused_or_cut_connection_is_a_lost_engine()
    {
        Assert.True(DockerEngine.IsLost(new HttpRequestException("Connection failed.")));
        Assert.True(DockerEngine.IsLost(new IOException("Unable to read data from the transport connection.", new System.Net.Sockets.SocketException(104))));
        Assert.False(DockerEngine.IsLost(new DockerApiException(HttpStatusCode.Conflict, """{"message":"Container ec03c2035510 is not running"}""")));
        Assert.False(DockerEngine.IsLost(new IOException("No space left on device")));
    }
}

using System.Net;
using Docker.DotNet;
using UpgradeOps.Compose;

namespace UpgradeOps.Tests.Compose;

/// <summary>What a Docker API failure said, as a sentence for an error message rather than the Engine's JSON.</summary>
public class DockerModelsTests
{
    [Theory]
    [InlineData("""{"message":"Error processing tar file(exit status 1): write /blob.bin: no space left on device"}""", "Error processing tar file(exit status 1): write /blob.bin: no space left on device")]
    [InlineData("plain text from a proxy\n", "plain text from a proxy")]
    [InlineData("""{"error":"no message field"}""", """{"error":"no message field"}""")]
    [InlineData("""["a","list"]""", """["a","list"]""")]
    public void The_engines_message_is_taken_from_its_body(string body, string expected) =>
        Assert.Equal(expected, DockerModels.ErrorOf(new DockerApiException(HttpStatusCode.InternalServerError, body)));

    [Fact]
    public void Without_a_body_the_exceptions_own_text_is_kept()
    {
        var ex = new DockerApiException(HttpStatusCode.InternalServerError, "");
        Assert.Equal(ex.Message, DockerModels.ErrorOf(ex));
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// Container recreation from an inspect answer of a newer engine than the Debian 20.10 (API 1.41) the integration tests
/// run on: Fixtures/DockerApi/container-inspect-1.48.json is written in the shape Docker's API reference gives for API
/// 1.48 (Docker 28), with the fields added since 1.41 that a recreation must carry (Healthcheck.StartInterval, API 1.44;
/// the endpoint's GwPriority, API 1.48) and one this client does not model (ImageManifestDescriptor). It is served over
/// HTTP on 127.0.0.1 to the client library the engine uses, so it is read as the engine reads a real engine's answer
/// (a narrow fake of one endpoint). A recorded answer, not a live Docker 28.
/// </summary>
public sealed class ContainerRecreatorApiVersionTests
{
    private static ContainerInspectResponse? _recorded;

    private static ContainerInspectResponse Recorded() => _recorded ??= InspectThroughClient();

    private static ContainerInspectResponse InspectThroughClient()
    {
        var answer = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "DockerApi", "container-inspect-1.48.json"));
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var serving = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var path = context.Request.Url!.AbsolutePath;
            var known = path.Contains("/containers/", StringComparison.Ordinal) && path.EndsWith("/json", StringComparison.Ordinal);
            context.Response.StatusCode = known ? 200 : 404;
            context.Response.ContentType = "application/json";
            context.Response.Headers["Api-Version"] = "1.48";
            var body = known ? answer : Encoding.UTF8.GetBytes("{\"message\":\"not recorded\"}");
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        });
        using var client = new DockerClientBuilder().WithEndpoint(new Uri($"http://127.0.0.1:{port}")).Build();
        var inspected = client.Containers.InspectContainerAsync("infrahub-infrahub-server-1").GetAwaiter().GetResult();
        serving.GetAwaiter().GetResult();
        return inspected;
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    private static DockerOCIImageConfig ImageWithHealthcheck(TimeSpan? startInterval) => new()
    {
        Cmd = ["infrahub", "server", "start"],
        WorkingDir = "/source",
        Env = ["PATH=/usr/local/bin:/usr/bin:/bin"],
        Healthcheck = new HealthcheckConfig
        {
            Test = ["CMD-SHELL", "curl -s -f -o /dev/null http://localhost:8000/api/schema/summary || exit 1"],
            Interval = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(5), StartPeriod = TimeSpan.FromSeconds(10),
            StartInterval = startInterval, Retries = 20,
        },
    };

    [Fact]
    public void An_answer_with_fields_newer_than_api_1_41_and_unknown_ones_is_read()
    {
        var current = Recorded();
        Assert.Equal("/infrahub-infrahub-server-1", current.Name);
        Assert.Equal(TimeSpan.FromSeconds(1), current.Config!.Healthcheck!.StartInterval);
        Assert.Equal(10, current.NetworkSettings!.Networks["infrahub_default"].GwPriority);
        Assert.True(current.State!.Running);
    }

    [Fact]
    public void The_recreated_container_keeps_the_networks_gateway_priority()
    {
        var created = ContainerRecreator.Build(Recorded(), ImageWithHealthcheck(TimeSpan.FromSeconds(1)), "registry.opsmill.io/opsmill/infrahub:1.1.9");
        var endpoint = Assert.Single(created.NetworkingConfig!.EndpointsConfig);
        Assert.Equal("infrahub_default", endpoint.Key);
        Assert.Equal(10, endpoint.Value.GwPriority);
        // Configured aliases stay; the old container's id alias and its runtime addresses do not.
        Assert.Equal(["infrahub-infrahub-server-1", "infrahub-server"], endpoint.Value.Aliases);
        Assert.True(string.IsNullOrEmpty(endpoint.Value.IPAddress));
        Assert.Equal("registry.opsmill.io/opsmill/infrahub:1.1.9", created.Image);
    }

    [Fact]
    public void A_healthcheck_that_differs_from_the_images_only_by_its_start_interval_is_kept()
    {
        // The image checks with no start interval; the compose file set start_interval: 1s. Same as the image but for it,
        // the healthcheck was taken for the image's and left out, and the new container lost its start interval.
        var created = ContainerRecreator.Build(Recorded(), ImageWithHealthcheck(startInterval: null), "registry.opsmill.io/opsmill/infrahub:1.1.9");
        Assert.NotNull(created.Healthcheck);
        Assert.Equal(TimeSpan.FromSeconds(1), created.Healthcheck.StartInterval);

        // The same as the image's in every field: not sent, so the new image's own applies.
        Assert.Null(ContainerRecreator.Build(Recorded(), ImageWithHealthcheck(TimeSpan.FromSeconds(1)), "registry.opsmill.io/opsmill/infrahub:1.1.9").Healthcheck);
    }
}

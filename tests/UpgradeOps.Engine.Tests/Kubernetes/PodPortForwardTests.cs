using System.Net;
using System.Net.Sockets;
using System.Text;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using Xunit.Abstractions;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>The port-forward framing (v4.channel.k8s.io), and which pod port serves a profile's API, without a server.</summary>
public sealed class PortForwardFramesTests
{
    [Fact]
    public void The_first_two_bytes_of_each_channel_name_the_port_little_endian_and_are_not_data()
    {
        var frames = new PortForwardFrames(new[] { 56655 }); // 0xDD4F
        Assert.False(frames.Started(0));
        var (channel, payload) = frames.Accept(new byte[] { 0, 0x4F, 0xDD }, 3, endOfMessage: true);
        Assert.Equal((byte)0, channel);
        Assert.Equal(0, payload.Count);
        Assert.False(frames.Started(0));
        (channel, payload) = frames.Accept(new byte[] { 1, 0x4F, 0xDD }, 3, endOfMessage: true);
        Assert.Equal((byte)1, channel);
        Assert.True(frames.Started(0));
        (channel, payload) = frames.Accept(new byte[] { 0, (byte)'H', (byte)'T' }, 3, endOfMessage: true);
        Assert.Equal(((byte)0, "HT"), (channel, Encoding.ASCII.GetString(payload)));
        (channel, payload) = frames.Accept(new byte[] { 1, (byte)'n', (byte)'o' }, 3, endOfMessage: true);
        Assert.True(PortForwardFrames.IsError(channel));
        Assert.Equal("no", Encoding.ASCII.GetString(payload));
    }

    [Fact]
    public void The_port_prefix_may_span_fragments_and_share_a_message_with_data()
    {
        var frames = new PortForwardFrames(new[] { 80 });
        // The channel byte and the prefix's first byte; the second byte and data in a continuation fragment.
        var (channel, payload) = frames.Accept(new byte[] { 0, 80 }, 2, endOfMessage: false);
        Assert.Equal(((byte)0, 0), (channel, payload.Count));
        (channel, payload) = frames.Accept(new byte[] { 0, (byte)'o', (byte)'k' }, 3, endOfMessage: true);
        Assert.Equal(((byte)0, "ok"), (channel, Encoding.ASCII.GetString(payload)));
    }

    [Fact]
    public void A_second_port_has_channels_2_and_3()
    {
        var frames = new PortForwardFrames(new[] { 80, 443 });
        Assert.Equal((2, 3), (PortForwardFrames.DataChannel(1), PortForwardFrames.ErrorChannel(1)));
        frames.Accept(new byte[] { 2, 0xBB, 0x01 }, 3, true);
        frames.Accept(new byte[] { 3, 0xBB, 0x01 }, 3, true);
        Assert.True(frames.Started(1));
        Assert.False(frames.Started(0));
        Assert.Equal(new byte[] { 2, 9 }, PortForwardFrames.Data(1, new byte[] { 9 }));
    }

    [Fact]
    public void A_prefix_naming_another_port_or_a_channel_beyond_the_ports_is_invalid()
    {
        var frames = new PortForwardFrames(new[] { 80 });
        Assert.Throws<InvalidDataException>(() => frames.Accept(new byte[] { 0, 81, 0 }, 3, true));
        Assert.Throws<InvalidDataException>(() => new PortForwardFrames(new[] { 80 }).Accept(new byte[] { 2, 80, 0 }, 3, true));
    }

    [Fact]
    public void The_client_sends_its_bytes_on_the_data_channel_without_a_prefix() =>
        Assert.Equal(new byte[] { 0, (byte)'G', (byte)'E', (byte)'T' }, PortForwardFrames.Data(0, "GET"u8));

    [Theory]
    [InlineData(8000, "8000:http", 8000)]          // the profile's port, declared
    [InlineData(58000, "58001:http", 58001)]       // the profile's port is another service's (a load balancer): the http port
    [InlineData(null, "9000:metrics,8080:http", 8080)]
    [InlineData(null, "8080:web", 8080)]           // the only port declared
    [InlineData(8000, "", 8000)]                   // nothing declared: the profile's
    [InlineData(null, "9000:metrics,8080:web", null)]
    [InlineData(null, "", null)]
    public void The_API_port_comes_from_the_profile_when_the_pod_declares_it_else_the_http_port(int? profilePort, string declared, int? expected)
    {
        var ports = declared.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => d.Split(':')).Select(d => new V1ContainerPort { ContainerPort = int.Parse(d[0]), Name = d[1] }).ToList();
        var spec = new V1PodSpec { Containers = new List<V1Container> { new() { Name = "server", Ports = ports } } };
        Assert.Equal(expected, ApiPortForward.ApiPort(spec, profilePort));
    }

    [Fact]
    public void The_API_workload_plays_the_profiles_api_service_else_a_service_of_role_Api()
    {
        var api = new ServiceDefinition { Name = "server", Role = ServiceRole.Api };
        var ui = new ServiceDefinition { Name = "ui", Role = ServiceRole.Api };
        var worker = new ServiceDefinition { Name = "worker", Role = ServiceRole.Worker };
        HelmDeployment.Workload W(string name, ServiceDefinition? s) => new("Deployment", name, 1, new Dictionary<string, string>(), s);
        var workloads = new[] { W("r-a-ui", ui), W("r-server", api), W("r-worker", worker) };
        var profile = new ProductProfile { Api = new ApiDefinition { Service = "server" } };
        Assert.Equal("r-server", ApiPortForward.ApiWorkload(workloads, profile)?.Name);
        // api.service names a compose-only service (the sandbox's load balancer): the first workload of role Api.
        profile.Api.Service = "lb";
        Assert.Equal("r-a-ui", ApiPortForward.ApiWorkload(workloads, profile)?.Name);
        Assert.Null(ApiPortForward.ApiWorkload(new[] { W("r-worker", worker) }, profile));
    }
}

/// <summary>
/// A pod port through the test API server's pods/portforward (no Docker: the server forwards to 127.0.0.1:PORT, where
/// the test listens itself): bytes both ways, several connections, the pod's side closing, a refused port, a missing pod,
/// and the local port free after Dispose. Verified against the test server only.
/// </summary>
[Trait("Category", "Kubernetes")]
public sealed class PodPortForwardTests(ITestOutputHelper output)
{
    private static async Task<IKubernetes> PodAsync(KubeTestServer server)
    {
        var client = server.CreateClient();
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "ns" } });
        await client.AppsV1.CreateNamespacedDeploymentAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "api" },
            Spec = new V1DeploymentSpec
            {
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "api" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "api" } },
                    Spec = new V1PodSpec { Containers = new List<V1Container> { new() { Name = "api", Image = "x" } } },
                },
            },
        }, "ns");
        return client;
    }

    /// <summary>What listens in "the pod": each connection gets "hello" and an echo of what it sends, until it sends "bye".</summary>
    private static (TcpListener Listener, Task Serving) Echo(CancellationToken ct)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serving = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                var connection = await listener.AcceptTcpClientAsync(ct);
                _ = Task.Run(async () =>
                {
                    using (connection)
                    {
                        var stream = connection.GetStream();
                        await stream.WriteAsync("hello\n"u8.ToArray(), ct);
                        var buffer = new byte[64 * 1024];
                        int read;
                        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
                        {
                            if (Encoding.ASCII.GetString(buffer, 0, read) == "bye") return; // the pod's side ends the connection
                            await stream.WriteAsync(buffer.AsMemory(0, read), ct);
                        }
                    }
                }, ct);
            }
        }, ct);
        return (listener, serving);
    }

    private static async Task<byte[]> ReadAsync(Stream stream, int count)
    {
        var data = new byte[count];
        await stream.ReadExactlyAsync(data).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        return data;
    }

    private static async Task AssertRefusedAsync(int port)
    {
        var refused = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using var late = new TcpClient();
            await late.ConnectAsync(IPAddress.Loopback, port);
        });
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    /// <summary>Holds the forward's "Forwarding 127.0.0.1:PORT" line (the first moment anyone learns the port) until released.</summary>
    private sealed class HeldForwardingLog : ILogger
    {
        public TaskCompletionSource<string> Logged { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ManualResetEventSlim Release { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            if (!message.StartsWith("Forwarding ", StringComparison.Ordinal)) return;
            Logged.TrySetResult(message);
            Release.Wait(TimeSpan.FromSeconds(20));
        }
    }

    [Fact]
    public async Task Forwards_bytes_both_ways_per_connection_and_frees_the_local_port_when_disposed()
    {
        using var server = new KubeTestServer("helm-not-needed");
        using var client = await PodAsync(server);
        var pod = Assert.Single((await client.CoreV1.ListNamespacedPodAsync("ns", labelSelector: "app=api")).Items).Metadata.Name;
        using var stop = new CancellationTokenSource();
        var (listener, _) = Echo(stop.Token);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        try
        {
            var forward = await PodPortForward.StartAsync(client, "ns", pod, port, NullLogger.Instance, default);
            var local = forward.LocalPort;
            Assert.Equal(new Uri($"http://127.0.0.1:{local}/"), forward.Endpoint);
            using (forward)
            {
                // Two connections at once, each its own connection in the pod; 1 MB each way in WebSocket messages.
                using var first = new TcpClient();
                using var second = new TcpClient();
                await first.ConnectAsync(IPAddress.Loopback, local);
                await second.ConnectAsync(IPAddress.Loopback, local);
                Assert.Equal("hello\n", Encoding.ASCII.GetString(await ReadAsync(first.GetStream(), 6)));
                Assert.Equal("hello\n", Encoding.ASCII.GetString(await ReadAsync(second.GetStream(), 6)));
                var data = new byte[1 << 20];
                new Random(8).NextBytes(data);
                var writing = first.GetStream().WriteAsync(data).AsTask();
                Assert.Equal(data, await ReadAsync(first.GetStream(), data.Length));
                await writing;
                await second.GetStream().WriteAsync("ping"u8.ToArray());
                Assert.Equal("ping", Encoding.ASCII.GetString(await ReadAsync(second.GetStream(), 4)));

                // The pod's side ends a connection: the local one ends too, the forward goes on.
                await second.GetStream().WriteAsync("bye"u8.ToArray());
                Assert.Equal(0, await second.GetStream().ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
                using var third = new TcpClient();
                await third.ConnectAsync(IPAddress.Loopback, local);
                Assert.Equal("hello\n", Encoding.ASCII.GetString(await ReadAsync(third.GetStream(), 6)));
                Assert.Null(forward.Failure);
            }
            // Disposed: the listener is closed and its connections with it.
            await AssertRefusedAsync(local);
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
        }
    }

    [Fact]
    public async Task A_port_nothing_listens_on_closes_the_connection_and_says_why_and_a_missing_pod_is_refused_at_once()
    {
        using var server = new KubeTestServer("helm-not-needed");
        using var client = await PodAsync(server);
        var pod = Assert.Single((await client.CoreV1.ListNamespacedPodAsync("ns", labelSelector: "app=api")).Items).Metadata.Name;
        // A port that was free a moment ago: nothing listens there.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var closed = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        using (var forward = await PodPortForward.StartAsync(client, "ns", pod, closed, NullLogger.Instance, default))
        {
            using var connection = new TcpClient();
            await connection.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
            await connection.GetStream().WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
            var read = await connection.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(0, read);
            Assert.Contains($"error forwarding port {closed} to pod {pod}", forward.Failure);
            Assert.Contains("connection refused", forward.Failure);
            output.WriteLine($"refused port: {forward.Failure}");
        }

        var missing = await Assert.ThrowsAsync<UpgradeOpsException>(() => PodPortForward.StartAsync(client, "ns", "nope", closed, NullLogger.Instance, default));
        Assert.Equal(("PortForwardRefused", ErrorKind.ObjectNotFound, "ns/nope"), (missing.ErrorId, missing.Kind, (string?)missing.Target));
        output.WriteLine($"missing pod: {missing.Message}");
        Assert.Contains("404", missing.Message);
        Assert.Contains("-ApiEndpoint", missing.Message);
    }

    [Fact]
    public async Task The_API_forward_goes_to_a_ready_pod_of_the_API_workload_on_its_http_port_and_says_so_when_none_is_ready()
    {
        using var server = new KubeTestServer("helm-not-needed");
        using var client = server.CreateClient();
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "ns" } });
        using var stop = new CancellationTokenSource();
        var (listener, _) = Echo(stop.Token);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        // The profile's api.port is a compose load balancer's, which the pod does not declare: its "http" port is the API's.
        var profile = Path.Combine(server.Folder, "profile.yml");
        await File.WriteAllTextAsync(profile, """
            schemaVersion: 1
            name: forward-test
            services:
              - { name: server, role: Api, productImage: true, kubernetesWorkload: api }
              - { name: lb, role: LoadBalancer }
            version: { environmentVariable: VERSION, service: server }
            catalog: [1.0.0]
            api: { info: /api/info, service: lb, port: 58000 }
            """);
        V1Deployment Api(int replicas) => new()
        {
            Metadata = new V1ObjectMeta { Name = "rel-api", Annotations = new Dictionary<string, string> { ["meta.helm.sh/release-name"] = "rel" } },
            Spec = new V1DeploymentSpec
            {
                Replicas = replicas,
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "api" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "api" } },
                    Spec = new V1PodSpec
                    {
                        Containers = new List<V1Container>
                        {
                            new() { Name = "api", Image = "x", Ports = new List<V1ContainerPort> { new() { Name = "metrics", ContainerPort = 9 }, new() { Name = "http", ContainerPort = port } } },
                        },
                    },
                },
            },
        };
        await client.AppsV1.CreateNamespacedDeploymentAsync(Api(0), "ns");
        var deployment = new Deployment
        {
            Name = "rel", Platform = DeploymentPlatform.Kubernetes, Profile = profile, Location = "ns/rel", Kubeconfig = server.KubeconfigPath,
        };
        try
        {
            using (var source = HelmDeployment.Open(deployment))
            using (var none = new ApiPortForward(source, NullLogger.Instance, default))
            {
                var notReady = await Assert.ThrowsAsync<UpgradeOpsException>(() => none.EndpointAsync(default));
                Assert.Equal(("ApiPodNotReady", ErrorKind.ResourceUnavailable, "ns/rel-api"), (notReady.ErrorId, notReady.Kind, (string?)notReady.Target));
                Assert.Contains("-ApiEndpoint", notReady.Message);
            }

            await client.AppsV1.ReplaceNamespacedDeploymentAsync(Api(1), "rel-api", "ns");
            Uri endpoint;
            using (var source = HelmDeployment.Open(deployment))
            using (var forward = new ApiPortForward(source, NullLogger.Instance, default))
            {
                endpoint = await forward.EndpointAsync(default);
                Assert.Equal(endpoint, await forward.EndpointAsync(default)); // opened once
                using var connection = new TcpClient();
                await connection.ConnectAsync(IPAddress.Loopback, endpoint.Port);
                Assert.Equal("hello\n", Encoding.ASCII.GetString(await ReadAsync(connection.GetStream(), 6)));
                Assert.Null(forward.Explain(new HttpRequestException("not the forward's doing")));
            }
            await AssertRefusedAsync(endpoint.Port);

            // Disposed (Ctrl+C) right after the "Forwarding" line named the port, while the opening has not returned yet (a
            // busy machine's thread can sit there): the port is free when Dispose returns, not some time later.
            var held = new HeldForwardingLog();
            using (var source = HelmDeployment.Open(deployment))
            {
                var forward = new ApiPortForward(source, held, default);
                var opening = forward.EndpointAsync(default);
                try
                {
                    var line = await held.Logged.Task.WaitAsync(TimeSpan.FromSeconds(30));
                    var heldPort = int.Parse(System.Text.RegularExpressions.Regex.Match(line, @"127\.0\.0\.1:(\d+)").Groups[1].Value);
                    forward.Dispose();
                    await AssertRefusedAsync(heldPort);
                }
                finally
                {
                    held.Release.Set();
                }
                await opening;
            }
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
        }
    }
}

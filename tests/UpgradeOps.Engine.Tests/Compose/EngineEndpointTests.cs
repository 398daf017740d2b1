using k8s;
using UpgradeOps.Compose;
using UpgradeOps.Kubernetes;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>Endpoints and kubeconfigs that cannot work are said so, by the input's name, never as the engine's catch-all.</summary>
public class EngineEndpointTests
{
    [Theory]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("gopher://engine:70")]
    [InlineData("localhost:2375")]
    [InlineData("not a uri")]
    public async Task An_endpoint_docker_cannot_be_reached_at_is_InvalidDockerHost(string endpoint)
    {
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => DockerEngine.ConnectAsync(endpoint, CancellationToken.None));
        Assert.Equal("InvalidDockerHost", ex.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal(endpoint, ex.Target);
    }

    [Fact]
    public async Task A_named_pipe_is_InvalidDockerHost_off_Windows()
    {
        if (OperatingSystem.IsWindows()) return;
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => DockerEngine.ConnectAsync("npipe:////./pipe/docker_engine", CancellationToken.None));
        Assert.Equal("InvalidDockerHost", ex.ErrorId);
    }

    [Fact]
    public async Task No_engine_at_a_socket_is_DockerEngineUnreachable_naming_the_endpoint()
    {
        const string socket = "unix:///nonexistent/upgradeops-tests/docker.sock";
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => DockerEngine.ConnectAsync(socket, CancellationToken.None));
        Assert.Equal("DockerEngineUnreachable", ex.ErrorId);
        Assert.Equal(ErrorKind.ConnectionError, ex.Kind);
        Assert.Equal(socket, ex.Target);
        Assert.Contains("Start the engine", ex.Message);
    }

    [Fact]
    public async Task An_engine_that_takes_the_connection_and_never_answers_is_DockerEngineUnreachable_after_the_answer_timeout()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var endpoint = $"tcp://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}";
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => DockerEngine.ConnectAsync(endpoint, CancellationToken.None));
            Assert.Equal("DockerEngineUnreachable", ex.ErrorId);
            Assert.Contains("did not answer within", ex.Message);
            Assert.InRange(clock.Elapsed, DockerEngine.AnswerTimeout, DockerEngine.AnswerTimeout + TimeSpan.FromSeconds(5));
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task A_cluster_that_takes_the_connection_and_never_answers_fails_after_the_connect_timeout_as_a_connection_failure()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var path = Path.Combine(Path.GetTempPath(), $"kubeconfig-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}', insecure-skip-tls-verify: true}}\n" +
                                "contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n");
        try
        {
            using var client = KubernetesDiscovery.Connect(path, null);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // An HttpRequestException: what every caller says as KubernetesUnreachable (a cancellation would pass them by).
            var ex = await Assert.ThrowsAsync<HttpRequestException>(() => client.CoreV1.ListNamespacedSecretAsync("ns"));
            Assert.Equal(HttpRequestError.ConnectionError, ex.HttpRequestError);
            Assert.InRange(clock.Elapsed, KubernetesDiscovery.ConnectTimeout, KubernetesDiscovery.ConnectTimeout + TimeSpan.FromSeconds(5));
        }
        finally
        {
            listener.Stop();
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("clusters: [unclosed\n")]
    [InlineData("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n")]
    public void A_kubeconfig_that_cannot_be_used_is_KubeconfigInvalid_with_a_next_step(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kubeconfig-{Guid.NewGuid():N}");
        File.WriteAllText(path, text);
        try
        {
            var ex = Assert.Throws<UpgradeOpsException>(() => KubernetesDiscovery.Connect(path, null));
            Assert.Equal("KubeconfigInvalid", ex.ErrorId);
            Assert.Equal(path, ex.Target);
            Assert.Matches(@"\. Give -Kubeconfig", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_blank_location_endpoint_or_kubeconfig_is_none()
    {
        // PowerShell gives a string property it is set to $null as "".
        var deployment = new Deployment { Name = "d", Platform = DeploymentPlatform.Compose, Profile = "infrahub", Location = "", Endpoint = " ", Kubeconfig = "" };
        Assert.Null(deployment.Location);
        Assert.Null(deployment.Endpoint);
        Assert.Null(deployment.Kubeconfig);
    }
}

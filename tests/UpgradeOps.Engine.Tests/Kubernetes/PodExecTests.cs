using System.Diagnostics;
using System.Text;
using k8s;
using k8s.Models;
using UpgradeOps.Kubernetes;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>The remote-command framing, exit statuses and credentials resolution, without a server.</summary>
public sealed class PodExecFramesTests
{
    [Fact]
    public void The_channel_comes_from_the_first_fragment_of_a_message_only()
    {
        var frames = new PodExecFrames();
        var buffer = new byte[] { 2, (byte)'e', (byte)'r' };
        var (channel, payload) = frames.Accept(buffer, 3, endOfMessage: false);
        Assert.Equal((byte)2, channel);
        Assert.Equal("er", Encoding.ASCII.GetString(payload));
        // A continuation fragment: no channel byte, same channel.
        (channel, payload) = frames.Accept(new byte[] { 1, (byte)'r' }, 2, endOfMessage: true);
        Assert.Equal((byte)2, channel);
        Assert.Equal(new byte[] { 1, (byte)'r' }, payload.ToArray());
        // The next message starts with its own channel.
        (channel, payload) = frames.Accept(new byte[] { 1, (byte)'o' }, 2, endOfMessage: true);
        Assert.Equal(((byte)1, "o"), (channel, Encoding.ASCII.GetString(payload)));
    }

    [Fact]
    public void Messages_and_the_close_of_stdin_are_framed_as_v5_expects()
    {
        Assert.Equal(new byte[] { 0, 7, 8 }, PodExecFrames.Message(PodExecFrames.StdIn, new byte[] { 7, 8 }));
        Assert.Equal(new byte[] { 255, 0 }, PodExecFrames.CloseStdIn());
    }

    [Theory]
    [InlineData("{\"metadata\":{},\"status\":\"Success\"}", 0)]
    [InlineData("{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero exit code\",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"3\"}]}}", 3)]
    [InlineData("{\"metadata\":{},\"status\":\"Failure\",\"message\":\"exec: \\\"nope\\\": executable file not found\"}", -1)]
    [InlineData("", -1)]
    public void The_exit_code_comes_from_the_status_channel(string json, long expected) =>
        Assert.Equal(expected, PodExecFrames.ExitCode(json).ExitCode);

    [Fact]
    public void Secrets_are_set_from_the_containers_own_variables_never_sent()
    {
        var exec = new PodContainerExec(null!, "ns", "pod", "db", new Dictionary<string, string> { ["PGPASSWORD"] = "POSTGRES_PASSWORD" });
        var wrapped = exec.Wrap(new[] { "pg_dump", "-Fc" });
        Assert.Equal(new[] { "sh", "-c", "export PGPASSWORD=\"${POSTGRES_PASSWORD}\"; exec \"$@\"", "sh", "pg_dump", "-Fc" }, wrapped);
        Assert.Equal(new[] { "true" }, new PodContainerExec(null!, "ns", "pod", "db").Wrap(new[] { "true" }));
    }

    [Fact]
    public async Task Credentials_resolve_from_values_secret_keys_config_map_keys_and_envFrom()
    {
        var container = new V1Container
        {
            Name = "db",
            Env = new List<V1EnvVar>
            {
                new() { Name = "POSTGRES_USER", Value = "literal-user" },
                new() { Name = "POSTGRES_PASSWORD", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Key = "password", Name = "db-secret" } } },
                new() { Name = "PGPORT", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Key = "port", Name = "db-config" } } },
            },
            EnvFrom = new List<V1EnvFromSource> { new() { Prefix = "APP_", SecretRef = new V1SecretEnvSource { Name = "app-secret" } } },
        };
        var store = new Dictionary<string, string> { ["Secret/db-secret/password"] = "s3cret", ["ConfigMap/db-config/port"] = "56500", ["Secret/app-secret/TOKEN"] = "t" };
        var environment = new PodEnvironment(container, (source, name, key, _) =>
            Task.FromResult(store.TryGetValue($"{source}/{name}/{key}", out var v) ? v : null));
        Assert.Equal("literal-user", await environment.ValueAsync("POSTGRES_USER", default));
        Assert.Equal("s3cret", await environment.ValueAsync("POSTGRES_PASSWORD", default));
        Assert.Equal("56500", await environment.ValueAsync("PGPORT", default));
        Assert.Equal("t", await environment.ValueAsync("APP_TOKEN", default));
        Assert.Null(await environment.ValueAsync("MISSING", default));
    }
}

/// <summary>
/// Pod exec through the test API server, forwarded to a Docker container (--docker-workload): needs Docker and the
/// image 127.0.0.1:5000/upgradeops/postgres:15 (any image with sh and cat would do).
/// </summary>
[Trait("Category", "Kubernetes")]
[Trait("Category", "Docker")]
public sealed class PodExecTests : IDisposable
{
    private readonly string _container = $"upgradeops-kubetest-exec-{Environment.ProcessId}";

    public PodExecTests() => Docker("run", "-d", "--name", _container, "--network", "none", "--entrypoint", "sh", "127.0.0.1:5000/upgradeops/postgres:15", "-c", "echo started; exec sleep 600");

    public void Dispose() => Docker("rm", "-f", _container);

    private static string Docker(params string[] arguments)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    /// <summary>StatefulSet ns/db, whose pod db-0 the server forwards to the container.</summary>
    private static async Task CreateDatabaseStatefulSetAsync(k8s.IKubernetes client)
    {
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "ns" } });
        await client.AppsV1.CreateNamespacedStatefulSetAsync(new V1StatefulSet
        {
            Metadata = new V1ObjectMeta { Name = "db" },
            Spec = new V1StatefulSetSpec
            {
                Replicas = 1, ServiceName = "db",
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "db" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "db" } },
                    Spec = new V1PodSpec { Containers = new List<V1Container> { new() { Name = "db", Image = "x" } } },
                },
            },
        }, "ns");
    }

    [Fact]
    public async Task Exec_streams_stdout_and_stdin_reports_the_exit_code_and_stderr()
    {
        using var server = new KubeTestServer(KubeTestServer.GetHelm(), "--docker-workload", $"ns/db={_container}");
        using var client = server.CreateClient();
        await CreateDatabaseStatefulSetAsync(client);
        var pods = await client.CoreV1.ListNamespacedPodAsync("ns", labelSelector: "app=db");
        Assert.Equal("db-0", Assert.Single(pods.Items).Metadata.Name);

        var exec = new PodContainerExec(client, "ns", "db-0", "db");
        var echo = await exec.RunAsync(new[] { "sh", "-c", "echo out; echo err >&2; exit 3" }, default);
        Assert.Equal((3L, "out\n", "err\n"), (echo.ExitCode, echo.StandardOutputText, echo.StandardError));

        // 3 MB through stdin and back: stdin ends with v5's close, the output streams into the caller's stream.
        var data = new byte[3 << 20];
        new Random(7).NextBytes(data);
        var output = new MemoryStream();
        var cat = await exec.RunAsync(new[] { "cat" }, default, output, new MemoryStream(data));
        Assert.Equal(0, cat.ExitCode);
        Assert.Equal(data, output.ToArray());

        // A variable taken from the container's own environment (the pod's, here the Docker container's).
        Docker("exec", _container, "true");
        var withEnv = new PodContainerExec(client, "ns", "db-0", "db", new Dictionary<string, string> { ["COPY"] = "HOSTNAME" });
        var env = await withEnv.RunAsync(new[] { "sh", "-c", "test -n \"$COPY\" && echo set" }, default);
        Assert.Equal("set\n", env.StandardOutputText);

        // Pod logs are the container's docker logs.
        using (var log = await client.CoreV1.ReadNamespacedPodLogAsync("db-0", "ns"))
            Assert.Equal("started\n", await new StreamReader(log).ReadToEndAsync());

        var missing = await Assert.ThrowsAsync<UpgradeOpsException>(() => new PodContainerExec(client, "ns", "nope-0", "db").RunAsync(new[] { "true" }, default));
        Assert.Equal("PodExecFailed", missing.ErrorId);
    }

    [Fact]
    public async Task Exec_with_a_short_stdin_ends_with_its_exit_code_every_time()
    {
        // A stdin that ends before the server reads the command's output once made the test server drop the exec
        // (a volume restore of a small archive: "the connection to pod ... broke"); 40 in a row, each must end cleanly.
        using var server = new KubeTestServer(KubeTestServer.GetHelm(), "--docker-workload", $"ns/db={_container}");
        using var client = server.CreateClient();
        await CreateDatabaseStatefulSetAsync(client);
        var exec = new PodContainerExec(client, "ns", "db-0", "db");
        for (var i = 0; i < 40; i++)
        {
            var run = await exec.RunAsync(new[] { "sh", "-c", "wc -c; exit 4" }, default, standardInput: new MemoryStream(new byte[] { 1, 2, 3 }));
            Assert.Equal((4L, "3\n"), (run.ExitCode, run.StandardOutputText.Trim() + "\n"));
        }
    }
}

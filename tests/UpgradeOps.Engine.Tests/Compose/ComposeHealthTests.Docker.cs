using Docker.DotNet;
using Docker.DotNet.Models;
using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// Against the real Docker Engine and a sandbox image: a container that will not get healthy is reported with what someone
/// troubleshooting looks up first (state, exit code, restarts, its last log lines, masked), and one that cannot come back
/// is reported at once instead of after the whole timeout.
/// </summary>
[Trait("Category", "Docker")]
public sealed class ComposeHealthDockerTests : IAsyncLifetime
{
    private const string Image = "127.0.0.1:5000/upgradeops/sandbox:1.7.5";
    private readonly string _project = $"upgradeops-health-{Guid.NewGuid().ToString("N")[..8]}";
    private readonly string _folder = Directory.CreateTempSubdirectory("upgradeops-health-").FullName;
    private DockerEngine _engine = null!;
    private readonly List<string> _containers = new();

    public async Task InitializeAsync() => _engine = await DockerEngine.ConnectAsync("unix:///var/run/docker.sock", default);

    public async Task DisposeAsync()
    {
        foreach (var id in _containers)
            try { await _engine.Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }); } catch (DockerContainerNotFoundException) { }
        _engine.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task StartAsync(string script, RestartPolicyKind restart)
    {
        // The secret is written in the compose file itself: the redactor reads it through the containers' config_files label.
        var composeFile = Path.Combine(_folder, "docker-compose.yml");
        await File.WriteAllTextAsync(composeFile, "services:\n  server:\n    image: app\n    environment:\n      APP_DB_PASSWORD: hunter2-secret-9\n");
        var created = await _engine.Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = $"{_project}_server_1",
            Image = Image,
            Entrypoint = new List<string> { "sh", "-c", script },
            Labels = new Dictionary<string, string>
            {
                ["com.docker.compose.project"] = _project, ["com.docker.compose.service"] = "server",
                ["com.docker.compose.project.config_files"] = composeFile,
            },
            HostConfig = new HostConfig { RestartPolicy = new RestartPolicy { Name = restart }, NetworkMode = "none" },
        });
        _containers.Add(created.ID);
        await _engine.Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
    }

    [Fact]
    public async Task A_container_that_exits_with_an_error_and_no_restart_policy_is_reported_at_once_with_its_last_lines_masked()
    {
        await StartAsync("echo 'connecting with hunter2-secret-9'; echo 'fatal: schema is not migrated' >&2; exit 3", RestartPolicyKind.No);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeHealth.WaitHealthyAsync(_engine, _project, TimeSpan.FromSeconds(60), default));
        // "At once" means well before the 60 s wait ends; the margin is wide because a loaded CI machine is slow.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(45), $"took {watch.Elapsed}");
        Assert.Equal("ServicesUnhealthy", ex.ErrorId);
        Assert.Contains("stop as soon as they start", ex.Message);
        Assert.Contains("exit code 3", ex.Message);
        Assert.Contains("fatal: schema is not migrated", ex.Message);
        Assert.Contains("connecting with ***", ex.Message);
        Assert.DoesNotContain("hunter2", ex.Message);
    }

    [Fact]
    public async Task A_container_that_keeps_restarting_is_reported_with_its_restarts_when_the_wait_ends()
    {
        await StartAsync("echo 'boom'; exit 1", RestartPolicyKind.Always);
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeHealth.WaitHealthyAsync(_engine, _project, TimeSpan.FromSeconds(4), default));
        Assert.Equal("ServicesUnhealthy", ex.ErrorId);
        Assert.Contains("After 4 s", ex.Message);
        Assert.Matches("restarted [1-9][0-9]* times while waiting", ex.Message);
        Assert.Contains("last log lines: boom", ex.Message);
    }
}

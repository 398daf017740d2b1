using Docker.DotNet.Models;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Compose;

/// <summary>Waits until a Compose project's containers run and pass their healthchecks.</summary>
public static class ComposeHealth
{
    /// <summary>
    /// A container restarted this often while waiting, for at least <see cref="CrashLoopPatience"/>, crash-loops: waiting out
    /// the rest of the timeout would only delay the same answer. Not sooner: a server that exits until its database is up
    /// restarts a few times on every start (Docker's restart policy knows nothing of depends_on), and Neo4j takes its time.
    /// </summary>
    internal const int CrashLoopRestarts = 5;
    internal static readonly TimeSpan CrashLoopPatience = TimeSpan.FromSeconds(60);

    public static async Task WaitHealthyAsync(DockerEngine engine, string projectName, TimeSpan timeout, CancellationToken ct,
        IReadOnlyCollection<string>? containerIds = null)
    {
        var started = DateTime.UtcNow;
        var deadline = started + timeout;
        var restartsBefore = new Dictionary<string, long>();
        List<ContainerInspectResponse> unhealthy;
        var crashing = new List<ContainerInspectResponse>();
        do
        {
            unhealthy = new List<ContainerInspectResponse>();
            var containers = await ComposeDiscovery.ListProjectContainersAsync(engine, projectName, ct).ConfigureAwait(false);
            foreach (var container in containers.Where(c => containerIds is null || containerIds.Contains(c.ID)))
            {
                var inspect = await engine.Client.Containers.InspectContainerAsync(container.ID, ct).ConfigureAwait(false);
                var state = DockerModels.StateOf(inspect);
                if (state.Running && state.Health?.Status is not ("starting" or "unhealthy")) continue;
                unhealthy.Add(inspect);
                var before = restartsBefore.TryAdd(inspect.ID, inspect.RestartCount) ? inspect.RestartCount : restartsBefore[inspect.ID];
                // Restarting again and again, or ended with an error and no restart policy to bring it back: it will not get healthy.
                var policy = inspect.HostConfig?.RestartPolicy?.Name;
                if ((inspect.RestartCount - before >= CrashLoopRestarts && DateTime.UtcNow - started >= CrashLoopPatience) ||
                    (!state.Running && state.Status == "exited" && state.ExitCode != 0 && (policy is null || policy == RestartPolicyKind.Undefined || policy == RestartPolicyKind.No)))
                    crashing.Add(inspect);
            }
            if (unhealthy.Count == 0) return;
            if (crashing.Count > 0) break;
            await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
        } while (DateTime.UtcNow < deadline);

        var evidence = await EvidenceAsync(engine, unhealthy, restartsBefore, ct).ConfigureAwait(false);
        throw new UpgradeOpsException("ServicesUnhealthy", ErrorKind.OperationTimeout, projectName,
            (crashing.Count > 0
                ? $"These containers stop as soon as they start, so waiting longer would not help: {string.Join("; ", evidence)}. "
                : $"After {timeout.TotalSeconds:N0} s these containers are not healthy: {string.Join("; ", evidence)}. ") +
            "Look at their logs ('docker logs NAME', Get-UpgradeDiagnostic); Invoke-Rollback returns to the backup taken before the upgrade.");
    }

    /// <summary>
    /// For each container: its state, restarts while waiting, exit code, the last healthcheck's output and its last log
    /// lines, masked with the compose file's secrets (the containers' labels name it): what someone at 2 a.m. would look
    /// up first. A container whose file is not readable here gives no log lines, since nothing could mask them.
    /// </summary>
    private static async Task<List<string>> EvidenceAsync(DockerEngine engine, List<ContainerInspectResponse> containers,
        Dictionary<string, long> restartsBefore, CancellationToken ct)
    {
        var described = new List<string>();
        foreach (var inspect in containers)
        {
            var state = DockerModels.StateOf(inspect);
            var facts = new List<string> { state.Running ? state.Health?.Status ?? "running" : state.Status ?? "not running" };
            if (!state.Running) facts.Add($"exit code {state.ExitCode}");
            var restarts = inspect.RestartCount - restartsBefore.GetValueOrDefault(inspect.ID, inspect.RestartCount);
            if (restarts > 0) facts.Add($"restarted {restarts} times while waiting");
            var redactor = ComposeDiscovery.FirstConfigFile(inspect.Config?.Labels) is { } file && File.Exists(file) ? ComposeFile.RedactorAt(file) : null;
            if (redactor is not null)
            {
                if (state.Health?.Log?.LastOrDefault()?.Output is { Length: > 0 } check)
                    facts.Add($"last healthcheck: {Shorten(redactor.Redact(check))}");
                try
                {
                    var (stdout, stderr) = await ContainerLogs.ReadAsync(engine.Client, inspect.ID, null, 3, false, ct).ConfigureAwait(false);
                    var lines = (stdout + "\n" + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (lines.Length > 0) facts.Add($"last log lines: {Shorten(redactor.Redact(string.Join(" | ", lines.TakeLast(3))))}");
                }
                catch (Docker.DotNet.DockerApiException) { }
            }
            described.Add($"{inspect.Name.TrimStart('/')} ({string.Join(", ", facts)})");
        }
        return described;
    }

    private static string Shorten(string text)
    {
        text = UserText.Shown(text.ReplaceLineEndings(" ").Trim());
        return text.Length > 300 ? text[..300] + "…" : text;
    }

    /// <summary>
    /// Waits until the API answers at the endpoint its users reach (the profile's info route): a healthy container is not
    /// yet a serving deployment, since a load balancer keeps a backend it saw fail out of rotation for a moment. Returns at
    /// once when the deployment has no endpoint or the profile no info route.
    /// </summary>
    public static async Task WaitApiAnswersAsync(Deployment deployment, ProductProfile profile, TimeSpan timeout, CancellationToken ct)
    {
        if (deployment.ApiEndpoint is not { } endpoint || profile.Api.Info is not { } info) return;
        var url = new Uri(new Uri(endpoint), info);
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (true)
        {
            using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                try
                {
                    using var response = await EngineHttp.Client.GetAsync(url, attempt.Token).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode) return;
                    last = $"HTTP {(int)response.StatusCode}";
                }
                catch (HttpRequestException ex)
                {
                    last = ex.Message;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    last = "no answer within 5 s";
                }
            }
            if (DateTime.UtcNow >= deadline)
                throw new UpgradeOpsException("ApiNotAnswering", ErrorKind.OperationTimeout, endpoint,
                    $"Every container is healthy, but the API at {url} did not answer within {timeout.TotalSeconds:N0} s ({last}). Look at the " +
                    "load balancer's and the servers' logs (Get-UpgradeDiagnostic), then run Test-PostUpgrade.");
            await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
        }
    }
}

using Docker.DotNet.Models;

namespace UpgradeOps.Compose;

/// <summary>Waits until a Compose project's containers run and pass their healthchecks.</summary>
public static class ComposeHealth
{
    public static async Task WaitHealthyAsync(DockerEngine engine, string projectName, TimeSpan timeout, CancellationToken ct,
        IReadOnlyCollection<string>? containerIds = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        var provenHealthy = new HashSet<string>();
        List<string> unhealthy;
        do
        {
            var containers = await ComposeDiscovery.ListProjectContainersAsync(engine, projectName, ct).ConfigureAwait(false);
            var inspected = await Task.WhenAll(containers.Where(c => (containerIds is null || containerIds.Contains(c.ID)) && !provenHealthy.Contains(c.ID))
                .Select(c => engine.Client.Containers.InspectContainerAsync(c.ID, ct))).ConfigureAwait(false);
            unhealthy = new List<string>();
            await Task.WhenAll(inspected.Select(async inspect =>
            {
                var health = inspect.State.Health?.Status;
                if (inspect.State.Running && health is not ("starting" or "unhealthy")) return;
                // The Engine runs a container's first healthcheck only one interval after the start (3 to 30 s); running that
                // same check now tells as much, sooner.
                if (inspect.State.Running && health == "starting" && await PassesOwnHealthcheckAsync(engine, inspect, ct).ConfigureAwait(false))
                {
                    lock (provenHealthy) provenHealthy.Add(inspect.ID);
                    return;
                }
                lock (unhealthy) unhealthy.Add($"{inspect.Name.TrimStart('/')} ({(inspect.State.Running ? health : inspect.State.Status)})");
            })).ConfigureAwait(false);
            if (unhealthy.Count == 0) return;
            await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
        } while (DateTime.UtcNow < deadline);

        throw new UpgradeOpsException("ServicesUnhealthy", ErrorKind.OperationTimeout, projectName,
            $"After {timeout.TotalSeconds:N0} s these containers are not healthy: {string.Join(", ", unhealthy)}. " +
            "Look at their logs ('docker logs NAME'); Invoke-Rollback returns to the backup taken before the upgrade.");
    }

    /// <summary>Runs the container's own healthcheck command (CMD or CMD-SHELL) inside it, within the check's timeout.</summary>
    internal static async Task<bool> PassesOwnHealthcheckAsync(DockerEngine engine, ContainerInspectResponse container, CancellationToken ct)
    {
        var test = container.Config?.Healthcheck?.Test;
        if (test is null || test.Count < 2) return false;
        IReadOnlyList<string> command = test[0] switch
        {
            "CMD" => test.Skip(1).ToList(),
            "CMD-SHELL" => new[] { "/bin/sh", "-c", test[1] },
            _ => Array.Empty<string>(),
        };
        if (command.Count == 0) return false;
        var timeout = container.Config!.Healthcheck!.Timeout is { } t && t > TimeSpan.Zero ? t : TimeSpan.FromSeconds(30);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            return (await DockerExec.RunAsync(engine.Client, container.ID, command, limit.Token).ConfigureAwait(false)).ExitCode == 0;
        }
        catch (Exception ex) when (ex is OperationCanceledException or Docker.DotNet.DockerApiException or UpgradeOpsException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}

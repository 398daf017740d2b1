using Docker.DotNet.Models;

namespace UpgradeOps.Compose;

/// <summary>Waits until a Compose project's containers run and pass their healthchecks.</summary>
public static class ComposeHealth
{
    public static async Task WaitHealthyAsync(DockerEngine engine, string projectName, TimeSpan timeout, CancellationToken ct,
        IReadOnlyCollection<string>? containerIds = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        List<string> unhealthy;
        do
        {
            unhealthy = new List<string>();
            var containers = await ComposeDiscovery.ListProjectContainersAsync(engine, projectName, ct).ConfigureAwait(false);
            foreach (var container in containers.Where(c => containerIds is null || containerIds.Contains(c.ID)))
            {
                var inspect = await engine.Client.Containers.InspectContainerAsync(container.ID, ct).ConfigureAwait(false);
                var state = DockerModels.StateOf(inspect);
                var health = state.Health?.Status;
                if (!state.Running || health is "starting" or "unhealthy")
                    unhealthy.Add($"{inspect.Name.TrimStart('/')} ({(state.Running ? health : state.Status)})");
            }
            if (unhealthy.Count == 0) return;
            await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
        } while (DateTime.UtcNow < deadline);

        throw new UpgradeOpsException("ServicesUnhealthy", ErrorKind.OperationTimeout, projectName,
            $"After {timeout.TotalSeconds:N0} s these containers are not healthy: {string.Join(", ", unhealthy)}. " +
            "Look at their logs ('docker logs NAME'); Invoke-Rollback returns to the backup taken before the upgrade.");
    }
}

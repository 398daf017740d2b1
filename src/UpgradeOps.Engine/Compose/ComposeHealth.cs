using Docker.DotNet.Models;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

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

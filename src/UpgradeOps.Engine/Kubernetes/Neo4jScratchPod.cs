using k8s;
using k8s.Autorest;
using k8s.Models;
using UpgradeOps.Backups;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// The restore test's scratch pod for a Neo4j data store on Kubernetes, as the scratch container is on Compose: the live
/// database container's image, environment and configuration volumes, sleep instead of the image's entrypoint (so its
/// server never starts and binds nothing: only neo4j-admin runs in it), and an emptyDir wherever the live pod mounts a
/// volume that holds state (its data claim above all), so the live store is never touched. No service account token, no
/// restart; deleted when disposed. Labelled org.upgradeops.purpose=neo4j-restore-test, so a leftover one is findable.
/// </summary>
internal static class Neo4jScratchPod
{
    private const string PurposeLabel = Compose.ComposeDeployment.PurposeLabel;
    public const string Purpose = "neo4j-restore-test";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    public static async Task<Neo4jScratch> StartAsync(IKubernetes client, string ns, string release, V1Pod live, V1Container container, CancellationToken ct)
    {
        var pod = Describe(ns, release, live, container);
        var name = pod.Metadata.Name;
        await CallAsync(client, ns, name, "create the restore test's scratch pod", () => client.CoreV1.CreateNamespacedPodAsync(pod, ns, cancellationToken: ct)).ConfigureAwait(false);
        async Task RemoveAsync()
        {
            try
            {
                await client.CoreV1.DeleteNamespacedPodAsync(name, ns, gracePeriodSeconds: 0, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
            }
        }
        try
        {
            await WaitRunningAsync(client, ns, name, ct).ConfigureAwait(false);
        }
        catch
        {
            await RemoveAsync().ConfigureAwait(false);
            throw;
        }
        return new Neo4jScratch(new PodContainerExec(client, ns, name, container.Name),
            "a scratch pod of the database's image (its data volumes emptyDirs of its own, no service account token, its server not started)", async () =>
        {
            try { await RemoveAsync().ConfigureAwait(false); }
            catch (Exception ex) when (ex is HttpOperationException or HttpRequestException)
            {
                throw new UpgradeOpsException("Neo4jScratchFailed", ErrorKind.ResourceUnavailable, $"{ns}/{name}",
                    $"The restore test's scratch pod {ns}/{name} could not be deleted: {ex.Message} Delete it with " +
                    $"'kubectl delete pod -n {ns} -l {PurposeLabel}={Purpose}'.", ex);
            }
        });
    }

    /// <summary>The scratch pod made from the live database pod (pure, for the tests).</summary>
    internal static V1Pod Describe(string ns, string release, V1Pod live, V1Container container)
    {
        var mounted = new HashSet<string>((container.VolumeMounts ?? new List<V1VolumeMount>()).Select(m => m.Name), StringComparer.Ordinal);
        var volumes = (live.Spec?.Volumes ?? new List<V1Volume>()).Where(v => mounted.Contains(v.Name)).Select(ScratchVolume).ToList();
        // Claim templates of a StatefulSet are volumes the pod spec names only in its mounts: each becomes an emptyDir too.
        foreach (var missing in mounted.Where(m => volumes.All(v => v.Name != m)))
            volumes.Add(new V1Volume { Name = missing, EmptyDir = new V1EmptyDirVolumeSource() });
        // A pod name is at most 63 characters: 30 of the release, 25, 8 random.
        var name = $"{Truncate(release, 30).TrimEnd('-')}-upgradeops-neo4j-verify-{Guid.NewGuid().ToString("N")[..8]}";
        return new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = ns,
                Labels = new Dictionary<string, string> { [PurposeLabel] = Purpose, ["app.kubernetes.io/managed-by"] = "upgradeops" },
            },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                AutomountServiceAccountToken = false,
                EnableServiceLinks = false,
                // Where the database may run (its image, its node's architecture) and as whom its files are written.
                NodeSelector = live.Spec?.NodeSelector,
                Tolerations = live.Spec?.Tolerations,
                ImagePullSecrets = live.Spec?.ImagePullSecrets,
                SecurityContext = live.Spec?.SecurityContext,
                Containers = new List<V1Container>
                {
                    new()
                    {
                        Name = container.Name,
                        Image = container.Image,
                        ImagePullPolicy = "IfNotPresent",
                        Command = new List<string> { "sleep" },
                        Args = new List<string> { "3600" },
                        Env = container.Env,
                        EnvFrom = container.EnvFrom,
                        VolumeMounts = container.VolumeMounts,
                        Resources = container.Resources,
                        SecurityContext = container.SecurityContext,
                    },
                },
                Volumes = volumes,
            },
        };
    }

    /// <summary>Configuration volumes are kept; anything that holds state (a claim, a host path, any other source) is a fresh emptyDir.</summary>
    private static V1Volume ScratchVolume(V1Volume volume) =>
        volume.ConfigMap is not null || volume.Secret is not null || volume.Projected is not null || volume.DownwardAPI is not null || volume.EmptyDir is not null
            ? volume
            : new V1Volume { Name = volume.Name, EmptyDir = new V1EmptyDirVolumeSource() };

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];

    private static async Task WaitRunningAsync(IKubernetes client, string ns, string name, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + StartTimeout;
        while (true)
        {
            var pod = await CallAsync(client, ns, name, "read the restore test's scratch pod", () => client.CoreV1.ReadNamespacedPodAsync(name, ns, cancellationToken: ct)).ConfigureAwait(false);
            var waiting = pod.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting;
            switch (pod.Status?.Phase)
            {
                case "Running":
                    return;
                case "Failed" or "Succeeded":
                    throw Failed(ns, name, $"it ended ({pod.Status.Phase}) before neo4j-admin could run in it");
            }
            if (waiting?.Reason is "ErrImagePull" or "ImagePullBackOff" or "InvalidImageName" or "CreateContainerConfigError" or "CreateContainerError")
                throw Failed(ns, name, $"it cannot start: {waiting.Reason}: {waiting.Message}");
            if (DateTimeOffset.UtcNow > deadline)
                throw Failed(ns, name, $"it is not running after {StartTimeout.TotalMinutes:N0} minutes ({pod.Status?.Phase ?? "no phase"}{(waiting?.Reason is { } r ? $", {r}" : "")})");
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
    }

    private static UpgradeOpsException Failed(string ns, string name, string why) =>
        new("Neo4jScratchFailed", ErrorKind.ResourceUnavailable, $"{ns}/{name}",
            $"The restore test's scratch pod {ns}/{name} (the database's image, running neo4j-admin only) failed: {why}. " +
            $"Look at 'kubectl describe pod {name} -n {ns}'; the dump's header was read by the live database's neo4j-admin before this.");

    private static async Task<T> CallAsync<T>(IKubernetes client, string ns, string name, string what, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw KubernetesDiscovery.Unreachable(client, ex);
        }
        catch (HttpOperationException ex)
        {
            throw new UpgradeOpsException("Neo4jScratchFailed", ErrorKind.PermissionDenied, $"{ns}/{name}",
                $"The Kubernetes API refused to {what} in '{ns}' ({(int)ex.Response.StatusCode}): the restore test needs to create, read and delete a pod there. " +
                "Use an identity that may do that, or run Test-DeploymentBackup without -RestoreTest.", ex);
        }
    }
}

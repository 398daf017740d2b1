using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Profiles;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// What a Helm release offers a backup or a restore: its profile, the API client, its workloads mapped to the
/// profile's services, the ready pod of each data store (where pg_dump runs through the exec API) and the
/// release's stored values and manifest.
/// </summary>
internal sealed class HelmDeployment : IDataStoreHost
{
    private HelmDeployment(Deployment deployment, ProductProfile profile, IKubernetes client, string ns, string release)
    {
        Deployment = deployment;
        Profile = profile;
        Client = client;
        Namespace = ns;
        Release = release;
    }

    public Deployment Deployment { get; }
    public ProductProfile Profile { get; }
    public IKubernetes Client { get; }
    public string Namespace { get; }
    public string Release { get; }

    /// <summary>
    /// The release's namespace and name: its typed properties, or (a deployment made by hand or read from an older export)
    /// the namespace/release its Location shows. The one place a release is located.
    /// </summary>
    public static (string Namespace, string Release) Locate(Deployment deployment)
    {
        if (deployment is { Namespace: { Length: > 0 } typedNs, Release: { Length: > 0 } typedRelease }) return (typedNs, typedRelease);
        return deployment.Location?.Split('/', 2) is [{ Length: > 0 } ns, { Length: > 0 } release]
            ? (ns, release)
            : throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, deployment.Name,
                $"'{deployment.Name}' is not a Helm release read with Get-UpgradeDeployment -Namespace -Release. Get it again that way.");
    }

    public static HelmDeployment Open(Deployment deployment)
    {
        var (ns, release) = Locate(deployment);
        var profile = ProfileLoader.Load(deployment.Profile);
        return new HelmDeployment(deployment, profile, KubernetesDiscovery.Connect(deployment.Kubeconfig, deployment.KubeContext), ns, release);
    }

    /// <summary>A workload of the release (Deployment or StatefulSet) with the profile service it plays.</summary>
    public sealed record Workload(string Kind, string Name, int Replicas, IDictionary<string, string> Selector, ServiceDefinition? Service);

    public async Task<IReadOnlyList<Workload>> WorkloadsAsync(CancellationToken ct) => await CallAsync("list the workloads", async () =>
    {
        var deployments = (await Client.AppsV1.ListNamespacedDeploymentAsync(Namespace, cancellationToken: ct).ConfigureAwait(false)).Items
            .Where(d => KubernetesDiscovery.BelongsTo(d.Metadata, Release))
            .Select(d => new Workload("Deployment", d.Metadata.Name, d.Spec?.Replicas ?? 1, d.Spec?.Selector?.MatchLabels ?? new Dictionary<string, string>(),
                KubernetesDiscovery.ServiceOf(d.Metadata, d.Spec?.Template?.Metadata?.Labels, Profile, Release)));
        var statefulSets = (await Client.AppsV1.ListNamespacedStatefulSetAsync(Namespace, cancellationToken: ct).ConfigureAwait(false)).Items
            .Where(s => KubernetesDiscovery.BelongsTo(s.Metadata, Release))
            .Select(s => new Workload("StatefulSet", s.Metadata.Name, s.Spec?.Replicas ?? 1, s.Spec?.Selector?.MatchLabels ?? new Dictionary<string, string>(),
                KubernetesDiscovery.ServiceOf(s.Metadata, s.Spec?.Template?.Metadata?.Labels, Profile, Release)));
        return (IReadOnlyList<Workload>)deployments.Concat(statefulSets).OrderBy(w => w.Name, StringComparer.Ordinal).ToList();
    }).ConfigureAwait(false);

    /// <summary>The newest revision of the release as helm stores it (values in "config", the rendered "manifest").</summary>
    public async Task<JsonObject> ReleaseJsonAsync(CancellationToken ct)
    {
        var secrets = await CallAsync("read the release Secrets", () => HelmReleaseReader.ListSecretsAsync(Client, Namespace, Release, ct)).ConfigureAwait(false);
        var latest = secrets.Select(s => (Secret: s, Release: HelmReleaseReader.FromSecret(s))).OrderBy(r => r.Release.Revision).LastOrDefault();
        if (latest.Secret is null)
            throw new UpgradeOpsException("HelmReleaseNotFound", ErrorKind.ObjectNotFound, $"{Namespace}/{Release}",
                $"No Helm release '{Release}' in namespace '{Namespace}'. Check the names with 'helm list -A'.");
        return HelmReleaseReader.DecodeReleaseJson(latest.Secret.Data["release"]);
    }

    /// <summary>The pods of a workload (its label selector), as the API lists them.</summary>
    public async Task<IList<V1Pod>> PodsAsync(Workload workload, CancellationToken ct)
    {
        var selector = string.Join(",", workload.Selector.Select(p => $"{p.Key}={p.Value}"));
        return (await CallAsync("list the pods", () => Client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: selector, cancellationToken: ct)).ConfigureAwait(false)).Items;
    }

    /// <summary>A pod that runs and is Ready.</summary>
    internal static bool IsReady(V1Pod pod) =>
        pod.Status?.Phase == "Running" && pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    /// <summary>
    /// The workload that plays a data store's service. A backup or restore that held a Neo4j server stopped waits for it to
    /// be ready again, not only for the server to answer: its pod restarts with the server and its readiness follows later.
    /// </summary>
    public async Task<Workload> DataStoreWorkloadAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var service = store.KubernetesWorkload ?? store.Service;
        return (await WorkloadsAsync(ct).ConfigureAwait(false)).FirstOrDefault(w => w.Service?.Name == service)
            ?? throw new UpgradeOpsException("DataStoreNotFound", ErrorKind.ObjectNotFound, store.Name,
                $"No workload of release {Namespace}/{Release} plays the profile's service '{service}' (data store '{store.Name}'). " +
                "Check the profile's kubernetesSelector or kubernetesWorkload for it against the release's Deployments and StatefulSets ('kubectl get deploy,sts --show-labels').");
    }

    /// <summary>The workload of a data store's service and its running, ready pod.</summary>
    public async Task<(Workload Workload, V1Pod Pod)> DataStorePodAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var workload = await DataStoreWorkloadAsync(store, ct).ConfigureAwait(false);
        var pods = await PodsAsync(workload, ct).ConfigureAwait(false);
        var pod = pods.Where(p => p.Metadata.DeletionTimestamp is null && p.Status?.Phase == "Running")
                      .OrderByDescending(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true)
                      .ThenBy(p => p.Metadata.Name, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new UpgradeOpsException("DataStoreNotRunning", ErrorKind.ResourceUnavailable, store.Name,
                $"Data store '{store.Name}' needs a running pod of {workload.Kind} {Namespace}/{workload.Name}, and none runs. " +
                $"Scale it up ('kubectl scale {workload.Kind.ToLowerInvariant()} {workload.Name} -n {Namespace} --replicas=1') and try again.");
        return (workload, pod);
    }

    /// <summary>
    /// The PostgreSQL of a data store: pg_dump and friends run in its pod; user, password and port come from the pod's
    /// container environment (values, or Secret and ConfigMap keys read through the API). The password is handed to the
    /// tools from the container's own variable, so it never crosses the API; its value is used only to mask it.
    /// </summary>
    public async Task<PostgresTarget> PostgresAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var (_, pod) = await DataStorePodAsync(store, ct).ConfigureAwait(false);
        var container = ContainerOf(pod, store, store.PasswordVariable);
        var environment = new PodEnvironment(container, Lookup);
        var user = (store.UserVariable is null ? null : await environment.ValueAsync(store.UserVariable, ct).ConfigureAwait(false)) ?? "postgres";
        string password = "";
        var fromVariables = new Dictionary<string, string>();
        if (store.PasswordVariable is not null && PodEnvironment.Declares(container, store.PasswordVariable))
        {
            password = await environment.ValueAsync(store.PasswordVariable, ct).ConfigureAwait(false) ?? "";
            fromVariables["PGPASSWORD"] = store.PasswordVariable;
        }
        var port = int.TryParse(await environment.ValueAsync("PGPORT", ct).ConfigureAwait(false), out var p) ? p
            : container.Ports?.FirstOrDefault(c => c.Name is "postgres" or "postgresql")?.ContainerPort ?? store.Port;
        var named = new Dictionary<string, string?>();
        foreach (var variable in store.DatabaseVariables) named[variable] = await environment.ValueAsync(variable, ct).ConfigureAwait(false);
        var exec = new PodContainerExec(Client, Namespace, pod.Metadata.Name, container.Name, fromVariables);
        return new PostgresTarget(exec, user, password, store.DatabaseIn(named.GetValueOrDefault)!, port, npgsqlHost: null, npgsqlPort: null);
    }

    /// <summary>
    /// The Neo4j of a data store: neo4j-admin and cypher-shell run in its pod, as opsmill/infrahub-backup runs them on
    /// Kubernetes. NEO4J_AUTH comes from the pod's environment (the neo4j chart gives it through envFrom from its Secret
    /// NAME-auth); cypher-shell gets user and password from that variable inside the container, so the password never
    /// crosses the API, and its value is read only to mask it.
    /// </summary>
    public async Task<Neo4jTarget> Neo4jAsync(DataStoreDefinition store, ILogger log, CancellationToken ct)
    {
        var (_, pod) = await DataStorePodAsync(store, ct).ConfigureAwait(false);
        var container = ContainerOf(pod, store, "NEO4J_AUTH");
        var environment = new PodEnvironment(container, Lookup);
        var values = new Dictionary<string, string>();
        foreach (var name in Neo4jTarget.EnvironmentVariables(store))
            if (await environment.ValueAsync(name, ct).ConfigureAwait(false) is { } value) values[name] = value;
        var exec = new PodContainerExec(Client, Namespace, pod.Metadata.Name, container.Name, Neo4jTarget.ExecEnvironmentFromVariables(store, values));
        return new Neo4jTarget(exec, store, container.Image ?? "", values, log);
    }

    /// <summary>
    /// The restore test's scratch pod for a Neo4j data store: made from its running database pod (Neo4jScratchPod), started
    /// and running before this returns; disposing deletes it.
    /// </summary>
    public async Task<Neo4jScratch?> Neo4jScratchAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var (_, pod) = await DataStorePodAsync(store, ct).ConfigureAwait(false);
        var container = ContainerOf(pod, store, "NEO4J_AUTH");
        return await Neo4jScratchPod.StartAsync(Client, Namespace, Release, pod, container, ct).ConfigureAwait(false);
    }

    /// <summary>A Volume data store's pod (of its kubernetesWorkload), where tar runs on its path: the pod's first container.</summary>
    public async Task<(Workload Workload, IContainerExec Exec)> VolumeExecAsync(DataStoreDefinition store, CancellationToken ct)
    {
        var (workload, pod) = await DataStorePodAsync(store, ct).ConfigureAwait(false);
        var container = ContainerOf(pod, store, declaring: null);
        return (workload, new PodContainerExec(Client, Namespace, pod.Metadata.Name, container.Name));
    }

    /// <summary>The data store's container in its pod: the first that declares <paramref name="declaring"/>, else the first.</summary>
    private V1Container ContainerOf(V1Pod pod, DataStoreDefinition store, string? declaring)
    {
        var containers = pod.Spec?.Containers ?? new List<V1Container>();
        return containers.FirstOrDefault(c => declaring is not null && PodEnvironment.Declares(c, declaring))
            ?? containers.FirstOrDefault()
            ?? throw new UpgradeOpsException("DataStoreNotRunning", ErrorKind.ResourceUnavailable, store.Name,
                $"Pod {Namespace}/{pod.Metadata.Name} of data store '{store.Name}' has no container to run its tools in. " +
                $"Check the pod ('kubectl get pod {pod.Metadata.Name} -n {Namespace} -o yaml') and the profile's kubernetesSelector or kubernetesWorkload for '{store.Service ?? store.KubernetesWorkload}'.");
    }

    /// <summary>One key of a Secret or ConfigMap, read through the API (null when it is not there).</summary>
    private async Task<string?> Lookup(PodEnvironment.Source source, string name, string? key, CancellationToken ct)
    {
        try
        {
            if (source == PodEnvironment.Source.Secret)
            {
                var secret = await Client.CoreV1.ReadNamespacedSecretAsync(name, Namespace, cancellationToken: ct).ConfigureAwait(false);
                return key is not null && secret.Data?.TryGetValue(key, out var bytes) == true ? Encoding.UTF8.GetString(bytes) : null;
            }
            var map = await Client.CoreV1.ReadNamespacedConfigMapAsync(name, Namespace, cancellationToken: ct).ConfigureAwait(false);
            return key is not null && map.Data?.TryGetValue(key, out var value) == true ? value : null;
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (HttpOperationException ex)
        {
            throw new UpgradeOpsException("KubernetesRequestFailed", ErrorKind.PermissionDenied, $"{Namespace}/{name}",
                $"The Kubernetes API refused to read {source} {Namespace}/{name} ({(int)ex.Response.StatusCode}), which holds the database credentials. " +
                "Use an identity that may read it.", ex);
        }
    }

    /// <summary>Sets a workload's replicas (merge patch of spec.replicas).</summary>
    public Task ScaleAsync(Workload workload, int replicas, CancellationToken ct) => CallAsync($"scale {workload.Kind} {workload.Name}", async () =>
    {
        var patch = new V1Patch($"{{\"spec\":{{\"replicas\":{replicas}}}}}", V1Patch.PatchType.MergePatch);
        if (workload.Kind == "StatefulSet")
            await Client.AppsV1.PatchNamespacedStatefulSetAsync(patch, workload.Name, Namespace, cancellationToken: ct).ConfigureAwait(false);
        else
            await Client.AppsV1.PatchNamespacedDeploymentAsync(patch, workload.Name, Namespace, cancellationToken: ct).ConfigureAwait(false);
        return true;
    });

    /// <summary>
    /// Scales each workload back to the replicas it had, whatever happened before (not with a cancelled token): one that
    /// cannot be scaled is a warning with the kubectl command to do it, and the others are still scaled back.
    /// </summary>
    public async Task ScaleBackAsync(IEnumerable<Workload> workloads, ILogger log)
    {
        foreach (var workload in workloads)
        {
            try
            {
                await ScaleAsync(workload, workload.Replicas, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                log.LogWarning("Could not scale {Kind} {Workload} back to {Replicas}: {Message}. Scale it with 'kubectl scale {Kind} {Workload} -n {Namespace} --replicas={Replicas}'.",
                    workload.Kind, workload.Name, workload.Replicas, ex.Message, workload.Kind.ToLowerInvariant(), workload.Name, Namespace, workload.Replicas);
            }
        }
    }

    /// <summary>Waits until each workload reports as many ready replicas as it asks for.</summary>
    public async Task WaitReadyAsync(IEnumerable<Workload> workloads, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        foreach (var workload in workloads)
        {
            while (true)
            {
                var statefulSet = workload.Kind == "StatefulSet";
                var (wanted, ready) = await CallAsync(statefulSet ? "read a StatefulSet" : "read a Deployment", async () =>
                {
                    if (statefulSet)
                    {
                        var s = await Client.AppsV1.ReadNamespacedStatefulSetAsync(workload.Name, Namespace, cancellationToken: ct).ConfigureAwait(false);
                        return (s.Spec?.Replicas ?? 1, s.Status?.ReadyReplicas ?? 0);
                    }
                    var d = await Client.AppsV1.ReadNamespacedDeploymentAsync(workload.Name, Namespace, cancellationToken: ct).ConfigureAwait(false);
                    return (d.Spec?.Replicas ?? 1, d.Status?.ReadyReplicas ?? 0);
                }).ConfigureAwait(false);
                if (ready >= wanted) break;
                if (DateTimeOffset.UtcNow > deadline)
                    throw new UpgradeOpsException("ServicesNotHealthy", ErrorKind.OperationTimeout, $"{Namespace}/{workload.Name}",
                        $"{workload.Kind} {Namespace}/{workload.Name} has {ready} of {wanted} replicas ready after {timeout.TotalSeconds:N0} s. " +
                        $"Look at 'kubectl describe {workload.Kind.ToLowerInvariant()} {workload.Name} -n {Namespace}' and Get-UpgradeDiagnostic.");
                await Task.Delay(500, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The profile's kubernetesResources as snapshot items (Secrets' values masked when <paramref name="redactSecrets"/>).</summary>
    public async Task<List<JsonObject>> ResourcesAsync(bool redactSecrets, CancellationToken ct)
    {
        var items = new List<JsonObject>();
        foreach (var reference in Profile.KubernetesResources)
        {
            var name = KubernetesObjectSnapshot.ResolveName(reference.Name, Release);
            try
            {
                if (reference.Kind == "Secret")
                {
                    var secret = await Client.CoreV1.ReadNamespacedSecretAsync(name, Namespace, cancellationToken: ct).ConfigureAwait(false);
                    items.Add(KubernetesObjectSnapshot.Secret(name, secret.Type, secret.Data, redactSecrets));
                }
                else
                {
                    var map = await Client.CoreV1.ReadNamespacedConfigMapAsync(name, Namespace, cancellationToken: ct).ConfigureAwait(false);
                    items.Add(KubernetesObjectSnapshot.ConfigMap(name, map.Data));
                }
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                throw new UpgradeOpsException("KubernetesResourceNotFound", ErrorKind.ObjectNotFound, $"{reference.Kind} {Namespace}/{name}",
                    $"The profile's kubernetesResources names {reference.Kind} {Namespace}/{name}, which does not exist. Correct the profile " +
                    $"(check with 'kubectl get {reference.Kind.ToLowerInvariant()} -n {Namespace}'), or pass -Component without '{KubernetesObjectSnapshot.Component}'.", ex);
            }
            catch (HttpRequestException ex)
            {
                throw KubernetesDiscovery.Unreachable(Client, ex);
            }
            catch (HttpOperationException ex)
            {
                throw new UpgradeOpsException("KubernetesRequestFailed", ErrorKind.PermissionDenied, $"{reference.Kind} {Namespace}/{name}",
                    $"The Kubernetes API refused to read {reference.Kind} {Namespace}/{name} ({(int)ex.Response.StatusCode}). Use an identity that may read it.", ex);
            }
        }
        return items;
    }

    /// <summary>Replaces (or creates) a ConfigMap or a Secret with the data of a snapshot item; labels and annotations of the live object stay.</summary>
    public Task ApplyAsync(KubernetesObjectSnapshot.Item item, CancellationToken ct) => CallAsync($"apply {item.Kind} {item.Name}", async () =>
    {
        if (item.Kind == "Secret")
        {
            var data = item.SecretData();
            V1Secret? live = null;
            try { live = await Client.CoreV1.ReadNamespacedSecretAsync(item.Name, Namespace, cancellationToken: ct).ConfigureAwait(false); }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { }
            if (live is null)
                await Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = item.Name }, Type = item.Type, Data = data }, Namespace, cancellationToken: ct).ConfigureAwait(false);
            else
            {
                live.Data = data;
                live.StringData = null;
                await Client.CoreV1.ReplaceNamespacedSecretAsync(live, item.Name, Namespace, cancellationToken: ct).ConfigureAwait(false);
            }
        }
        else
        {
            var data = item.Data.ToDictionary(d => d.Key, d => d.Value);
            V1ConfigMap? live = null;
            try { live = await Client.CoreV1.ReadNamespacedConfigMapAsync(item.Name, Namespace, cancellationToken: ct).ConfigureAwait(false); }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { }
            if (live is null)
                await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = item.Name }, Data = data }, Namespace, cancellationToken: ct).ConfigureAwait(false);
            else
            {
                live.Data = data;
                await Client.CoreV1.ReplaceNamespacedConfigMapAsync(live, item.Name, Namespace, cancellationToken: ct).ConfigureAwait(false);
            }
        }
        return true;
    });

    /// <summary>One API call, its failures turned into errors that say what to do.</summary>
    private async Task<T> CallAsync<T>(string what, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw KubernetesDiscovery.Unreachable(Client, ex);
        }
        catch (HttpOperationException ex)
        {
            throw new UpgradeOpsException("KubernetesRequestFailed", ErrorKind.PermissionDenied, $"{Namespace}/{Release}",
                $"The Kubernetes API refused to {what} in '{Namespace}' ({(int)ex.Response.StatusCode}). Use an identity that may do that there.", ex);
        }
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>
/// The value of a container's environment variable as the kubelet would set it: a literal value, a Secret or
/// ConfigMap key (valueFrom), or a key of an envFrom Secret/ConfigMap (with its prefix). Later definitions win, as in a pod.
/// </summary>
internal sealed class PodEnvironment(V1Container container, Func<PodEnvironment.Source, string, string?, CancellationToken, Task<string?>> lookup)
{
    public enum Source { Secret, ConfigMap }

    public static bool Declares(V1Container container, string name) =>
        container.Env?.Any(e => e.Name == name) == true || container.EnvFrom?.Count > 0;

    public async Task<string?> ValueAsync(string name, CancellationToken ct)
    {
        var explicitly = container.Env?.LastOrDefault(e => e.Name == name);
        if (explicitly is not null)
        {
            if (explicitly.ValueFrom?.SecretKeyRef is { } secretKey) return await lookup(Source.Secret, secretKey.Name, secretKey.Key, ct).ConfigureAwait(false);
            if (explicitly.ValueFrom?.ConfigMapKeyRef is { } mapKey) return await lookup(Source.ConfigMap, mapKey.Name, mapKey.Key, ct).ConfigureAwait(false);
            return explicitly.Value;
        }
        foreach (var from in (container.EnvFrom ?? new List<V1EnvFromSource>()).Reverse())
        {
            var prefix = from.Prefix ?? "";
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var key = name[prefix.Length..];
            var value = from.SecretRef is { } s ? await lookup(Source.Secret, s.Name, key, ct).ConfigureAwait(false)
                : from.ConfigMapRef is { } m ? await lookup(Source.ConfigMap, m.Name, key, ct).ConfigureAwait(false) : null;
            if (value is not null) return value;
        }
        return null;
    }
}

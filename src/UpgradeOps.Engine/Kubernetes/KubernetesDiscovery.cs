using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

using UpgradeOps.Versioning;

namespace UpgradeOps.Kubernetes;

/// <summary>What Get-UpgradeDeployment -Namespace -Release asks.</summary>
public sealed class KubernetesDiscoveryRequest
{
    public required string Namespace { get; init; }
    public required string Release { get; init; }
    public string? KubeContext { get; init; }
    /// <summary>A kubeconfig file; default KUBECONFIG, then ~/.kube/config, then the in-cluster service account.</summary>
    public string? Kubeconfig { get; init; }
    public string Profile { get; init; } = "infrahub";
}

/// <summary>
/// Describes a Helm release natively: the release from its newest release Secret (chart, app version, revision,
/// status), and its workloads (Deployments and StatefulSets helm manages for it) mapped to the profile's roles.
/// </summary>
public static partial class KubernetesDiscovery
{
    private const string ReleaseNameAnnotation = "meta.helm.sh/release-name";
    private const string InstanceLabel = "app.kubernetes.io/instance";
    private const string ComponentLabel = "app.kubernetes.io/component";
    private const string ChartLabel = "helm.sh/chart";

    /// <summary>
    /// How long connecting to the API server may take (TCP and TLS handshake): a cluster connects in well under a second,
    /// and a server that takes the connection and never answers (a hung API server, a firewall or proxy that holds it)
    /// would otherwise hold the command for the client's 100 s. Requests on an open connection (a watch, pod logs) are not
    /// limited by it.
    /// </summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    public static IKubernetes Connect(string? kubeconfig, string? context)
    {
        try
        {
            KubernetesClientConfiguration config;
            if (kubeconfig is not null)
                config = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig, context);
            else if (context is not null)
                config = KubernetesClientConfiguration.BuildConfigFromConfigFile(Environment.GetEnvironmentVariable("KUBECONFIG")?.Split(Path.PathSeparator)[0], context);
            else
                config = KubernetesClientConfiguration.BuildDefaultConfig();
            config.FirstMessageHandlerSetup = handler =>
            {
                if (handler is SocketsHttpHandler sockets) sockets.ConnectTimeout = ConnectTimeout;
            };
            return new k8s.Kubernetes(config, new ConnectTimeoutHandler());
        }
        catch (Exception ex) when (ex is k8s.Exceptions.KubeConfigException or FileNotFoundException or IOException or YamlDotNet.Core.YamlException)
        {
            // YamlException: a kubeconfig that is not YAML (its position is in the message).
            throw new UpgradeOpsException("KubeconfigInvalid", ErrorKind.InvalidArgument, kubeconfig ?? context,
                $"The Kubernetes configuration could not be read: {Hosting.LocalFile.Shown(ex.Message).TrimEnd('.')}. " +
                "Give -Kubeconfig (or set KUBECONFIG) and, if needed, -KubeContext.", ex);
        }
    }

    /// <summary>
    /// The one answer to a Kubernetes API that did not answer (refused, no route, TLS or DNS failure: an HttpRequestException from
    /// the client), for every command that asks it; <paramref name="purpose"/> says what it was asked for, when that helps.
    /// </summary>
    internal static UpgradeOpsException Unreachable(IKubernetes client, HttpRequestException ex, string? purpose = null) =>
        new("KubernetesUnreachable", ErrorKind.ConnectionError, client.BaseUri.ToString(),
            $"No Kubernetes API answered at {client.BaseUri}{(purpose is null ? "" : " to " + purpose)} ({ex.Message}). Check -Kubeconfig / -KubeContext " +
            "(or KUBECONFIG and the kubeconfig's current context) and that the cluster is reachable from here.", ex);

    /// <summary>
    /// A connection that timed out (<see cref="ConnectTimeout"/>) surfaces from the handler as a cancellation, which no
    /// caller takes for a connection failure: it is turned into the HttpRequestException every caller already says as
    /// KubernetesUnreachable (or tolerates, where a failed read is not fatal).
    /// </summary>
    private sealed class ConnectTimeoutHandler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && ex.InnerException is TimeoutException)
            {
                throw new HttpRequestException(HttpRequestError.ConnectionError,
                    $"it took the connection but did not answer within {ConnectTimeout.TotalSeconds:0} s", ex);
            }
        }
    }

    /// <summary>
    /// How to repair a release left pending-* (a sentence): back to <paramref name="deployedRevision"/>, the newest revision helm
    /// deployed (<see cref="HelmReleaseReader.LastDeployed"/>; not the pending one − 1, which may be a failed upgrade's).
    /// </summary>
    internal static string PendingRepair(string release, string ns, int? deployedRevision) => deployedRevision is { } revision
        ? $"Invoke-Upgrade -Deployment $d -Resume -Chart <chart> rolls it back to revision {revision} (its last deployed one) and continues the interrupted upgrade; " +
          $"by hand: 'helm rollback {release} {revision} -n {ns}'."
        : $"No revision of it was ever deployed, so no rollback repairs it: 'helm uninstall {release} -n {ns}', then install it again.";

    /// <summary>A release read with Get-UpgradeDeployment -Namespace -Release, described afresh (the object given may be old).</summary>
    internal static Task<Deployment> AgainAsync(Deployment given, EngineContext context)
    {
        var (ns, release) = HelmDeployment.Locate(given);
        return DiscoverAsync(new KubernetesDiscoveryRequest
        {
            Namespace = ns, Release = release, Kubeconfig = given.Kubeconfig, KubeContext = given.KubeContext, Profile = given.Profile,
        }, context);
    }

    public static async Task<Deployment> DiscoverAsync(KubernetesDiscoveryRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(KubernetesDiscovery));
        var profile = ProfileLoader.Load(request.Profile);
        using var progress = context.StartActivity($"Reading Helm release {request.Namespace}/{request.Release}");
        using var client = Connect(request.Kubeconfig, request.KubeContext);

        progress.Report("Reading the release Secrets", 20);
        var revisions = await ReadAsync(client, request, "Secrets (the release is stored in them)",
            () => HelmReleaseReader.ListAsync(client, request.Namespace, request.Release, ct)).ConfigureAwait(false);
        var release = revisions.LastOrDefault();
        var deployed = HelmReleaseReader.LastDeployed(revisions);
        if (release is null)
            throw new UpgradeOpsException("HelmReleaseNotFound", ErrorKind.ObjectNotFound, $"{request.Namespace}/{request.Release}",
                $"No Helm release '{request.Release}' in namespace '{request.Namespace}' on {client.BaseUri}. Check the names with 'helm list -A'.");
        log.LogDebug("Release {Release} revision {Revision}: {Status}", release.Name, release.Revision, release.Status);

        progress.Report("Listing the workloads", 60);
        var deployments = (await ReadAsync(client, request, "Deployments",
                () => client.AppsV1.ListNamespacedDeploymentAsync(request.Namespace, cancellationToken: ct)).ConfigureAwait(false)).Items
            .Where(d => BelongsTo(d.Metadata, request.Release))
            .Select(d => new Workload(d.Metadata, d.Spec?.Template, d.Spec?.Replicas ?? 1, d.Status?.ReadyReplicas ?? 0));
        var statefulSets = (await ReadAsync(client, request, "StatefulSets",
                () => client.AppsV1.ListNamespacedStatefulSetAsync(request.Namespace, cancellationToken: ct)).ConfigureAwait(false)).Items
            .Where(s => BelongsTo(s.Metadata, request.Release))
            .Select(s => new Workload(s.Metadata, s.Spec?.Template, s.Spec?.Replicas ?? 1, s.Status?.ReadyReplicas ?? 0));

        var services = deployments.Concat(statefulSets).OrderBy(w => w.Metadata.Name).Select(w => Describe(w, profile, request.Release)).ToList();
        var productVersions = services.Where(s => profile.Services.Any(p => p.ProductImage && p.Role == s.Role) && s.Version is not null)
            .Select(s => s.Version!).Distinct().ToList();
        var warnings = new List<string>();
        if (release.IsPending)
            warnings.Add($"Release {release.Name} is {release.Status} (revision {release.Revision}): a helm operation did not finish, and helm refuses the next " +
                          "upgrade until it is repaired. " + PendingRepair(release.Name, release.Namespace, deployed?.Revision));
        if (productVersions.Count > 1)
            warnings.Add($"The product workloads run different versions: {string.Join(", ", productVersions)}.");

        // Where the profile says the version is a value (image.tag), the values win over the chart's appVersion.
        var configured = release.VersionAt(profile.Version.HelmValuesKey);
        var running = productVersions.Count == 1 ? productVersions[0] : null;
        // A failed helm upgrade (a pre-upgrade hook failed) leaves a newest revision that names a version no workload runs:
        // what runs is the version, as on Compose.
        if (running is not null && configured is not null && running != configured)
            warnings.Add($"Release {release.Name} revision {release.Revision} ({release.Status}) names version {configured}, but its workloads run {running}: " +
                         "a helm upgrade failed or did not finish. Invoke-Rollback returns to the journalled revision; Get-UpgradeDiagnostic shows what failed.");
        progress.Complete();
        return new Deployment
        {
            Name = release.Name,
            Platform = DeploymentPlatform.Kubernetes,
            Profile = request.Profile,
            Version = running ?? (productVersions.Count == 0 ? configured : null),
            ConfiguredVersion = configured,
            RunningVersion = running,
            ChartVersion = release.ChartVersion,
            ChartName = release.ChartName,
            Revision = release.Revision,
            ReleaseStatus = release.Status,
            DeployedRevision = deployed?.Revision,
            Services = services,
            Location = $"{request.Namespace}/{request.Release}", Namespace = request.Namespace, Release = request.Release,
            Endpoint = client.BaseUri.ToString(),
            Kubeconfig = request.Kubeconfig,
            KubeContext = request.KubeContext,
            Warnings = warnings,
        };
    }

    private sealed record Workload(V1ObjectMeta Metadata, V1PodTemplateSpec? Template, int Replicas, int Ready);

    internal static bool BelongsTo(V1ObjectMeta metadata, string release) =>
        (metadata.Annotations?.TryGetValue(ReleaseNameAnnotation, out var name) == true && name == release) ||
        (metadata.Labels?.TryGetValue(InstanceLabel, out var instance) == true && instance == release);

    /// <summary>A workload's role and volumes: the profile service it plays (<see cref="ServiceOf"/>), the PVCs its pods mount.</summary>
    private static DeploymentService Describe(Workload workload, ProductProfile profile, string release)
    {
        var name = workload.Metadata.Name;
        var definition = ServiceOf(workload.Metadata, workload.Template?.Metadata?.Labels, profile, release);
        var image = workload.Template?.Spec?.Containers?.FirstOrDefault()?.Image;
        return new DeploymentService
        {
            Name = name,
            Role = definition?.Role ?? ServiceRole.Other,
            Image = image,
            Version = image is null ? null : ImageReference.Version(image),
            Replicas = workload.Ready,
            ExpectedReplicas = workload.Replicas,
            Healthy = workload.Ready >= workload.Replicas,
            Volumes = VolumesOf(workload.Template?.Spec, definition, profile),
        };
    }

    /// <summary>
    /// The PersistentVolumeClaims a pod template mounts (every container's mounts), each with the profile's Volume data store
    /// that names this service as its kubernetesWorkload and this mount path as its path: so a backup's "storage" is seen to be
    /// the claim it really is. StatefulSet volumeClaimTemplates are not listed (their claims are per pod).
    /// </summary>
    internal static IReadOnlyList<DeploymentVolume> VolumesOf(V1PodSpec? spec, ServiceDefinition? service, ProductProfile profile)
    {
        var claims = (spec?.Volumes ?? new List<V1Volume>()).Where(v => v.PersistentVolumeClaim?.ClaimName is { Length: > 0 })
            .ToDictionary(v => v.Name, v => v.PersistentVolumeClaim.ClaimName, StringComparer.Ordinal);
        return (spec?.Containers ?? new List<V1Container>()).SelectMany(c => c.VolumeMounts ?? new List<V1VolumeMount>())
            .Where(m => claims.ContainsKey(m.Name))
            .Select(m => new DeploymentVolume
            {
                Claim = claims[m.Name],
                Path = m.MountPath,
                DataStore = service is null ? null : profile.DataStores.FirstOrDefault(d => d.Kind == DataStoreKind.Volume &&
                    string.Equals(d.KubernetesWorkload, service.Name, StringComparison.OrdinalIgnoreCase) &&
                    string.Equals(d.Path?.TrimEnd('/'), m.MountPath.TrimEnd('/'), StringComparison.Ordinal))?.Name,
            })
            .DistinctBy(v => (v.Claim, v.Path)).ToList();
    }

    /// <summary>
    /// The profile service a workload plays: first the one whose kubernetesSelector its labels satisfy (a chart's own labels
    /// hold whatever the release, fullnameOverride or subchart names it), else the one whose kubernetesWorkload it answers to
    /// (<see cref="AnswersTo"/>), for charts that label nothing.
    /// </summary>
    internal static ServiceDefinition? ServiceOf(V1ObjectMeta metadata, IDictionary<string, string>? podLabels, ProductProfile profile, string release) =>
        profile.Services.FirstOrDefault(s => s.KubernetesSelector is { } selector && Selects(selector, metadata.Labels, podLabels))
        ?? profile.Services.FirstOrDefault(s => AnswersTo(s.KubernetesWorkload, release, metadata.Name, metadata.Labels));

    /// <summary>
    /// Whether every pair of a selector is among the pod template's labels, or among the workload's own. Charts put a
    /// component's label in one place or the other (Infrahub's chart and the Bitnami subcharts on the pods, Neo4j's on both);
    /// each set is checked whole, so no pair is taken from one and the rest from the other.
    /// </summary>
    internal static bool Selects(KubernetesSelector selector, IDictionary<string, string>? workloadLabels, IDictionary<string, string>? podLabels) =>
        selector.MatchLabels.Count > 0 && (Contains(podLabels, selector.MatchLabels) || Contains(workloadLabels, selector.MatchLabels));

    private static bool Contains(IDictionary<string, string>? labels, Dictionary<string, string> wanted) =>
        labels is not null && wanted.All(p => labels.TryGetValue(p.Key, out var value) && value == p.Value);

    /// <summary>
    /// Whether a workload or Job answers to the name a profile gives it: its full name, its name without the release prefix,
    /// its name without the "RELEASE-CHART-" prefix of helm's usual fullname template (the chart from the helm.sh/chart
    /// label), or its app.kubernetes.io/component label. So one profile fits every release name: Infrahub's chart names its
    /// server "prod-infrahub-infrahub-server" in a release "prod" and "infrahub-infrahub-server" in a release "infrahub".
    /// </summary>
    internal static bool AnswersTo(string? wanted, string release, string name, IDictionary<string, string>? labels)
    {
        if (string.IsNullOrEmpty(wanted)) return false;
        if (wanted == name || labels?.TryGetValue(ComponentLabel, out var component) == true && component == wanted) return true;
        if (!name.StartsWith(release + "-", StringComparison.Ordinal)) return false;
        var shortName = name[(release.Length + 1)..];
        if (wanted == shortName) return true;
        var chart = labels?.TryGetValue(ChartLabel, out var chartLabel) == true ? ChartVersionSuffix().Replace(chartLabel, "") : null;
        return chart is { Length: > 0 } && shortName == $"{chart}-{wanted}";
    }

    /// <summary>helm.sh/chart is "NAME-VERSION" (the version with + replaced by _).</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"-v?\d+\.\d+\.\d+[^/]*$")]
    private static partial System.Text.RegularExpressions.Regex ChartVersionSuffix();

    /// <summary>One read of the API, its failures turned into errors that say what to do.</summary>
    private static async Task<T> ReadAsync<T>(IKubernetes client, KubernetesDiscoveryRequest request, string what, Func<Task<T>> read)
    {
        try
        {
            return await read().ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(client, ex);
        }
        catch (HttpOperationException ex)
        {
            throw new UpgradeOpsException("KubernetesRequestFailed", ErrorKind.PermissionDenied, $"{request.Namespace}/{request.Release}",
                $"The Kubernetes API refused to list {what} in '{request.Namespace}' ({(int)ex.Response.StatusCode}). " +
                "Use an identity that may list them there.", ex);
        }
    }
}

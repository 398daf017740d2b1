using System.Globalization;
using k8s;
using k8s.Models;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;

namespace UpgradeOps.Validation;

/// <summary>
/// What the post-upgrade checks need of a deployment, on either platform: the deployment described afresh (its
/// services' containers, or pods), a command run in an instance of a profile service (docker exec, or pod exec through
/// the Kubernetes API), the logs since a moment (the Engine's container logs, or pod logs through the API), and the
/// redactor for the deployment's secrets. One validator (PostUpgradeValidator) runs the same checks over it.
/// </summary>
internal interface IValidationTarget : IDisposable
{
    /// <summary>Described afresh; each service's Containers are its containers (Compose) or pods (Kubernetes).</summary>
    Deployment Deployment { get; }
    ProductProfile Profile { get; }
    SecretRedactor Redactor { get; }
    /// <summary>"containers" or "pods", for messages.</summary>
    string InstanceNoun { get; }
    /// <summary>What to do when an instance does not run (a sentence).</summary>
    string StartRemedy { get; }
    /// <summary>Runs a command in a running instance of the profile service; ServiceNotRunning when none runs.</summary>
    Task<ExecResult> ExecAsync(string service, IReadOnlyList<string> command, CancellationToken ct);
    /// <summary>
    /// The product's API: at <paramref name="apiEndpoint"/> when given, else where the deployment publishes it (Compose) or
    /// through a port-forward to a ready API pod that the target opens on first use and closes when disposed (a Helm release).
    /// </summary>
    ProductApi Api(string? apiEndpoint);
    /// <summary>The log of every instance from <paramref name="since"/> (when null: from the start of the newest product instance, less 5 s).</summary>
    Task<(DateTimeOffset From, IReadOnlyList<(string Instance, string Text)> Logs)> LogsSinceAsync(DateTimeOffset? since, CancellationToken ct);
}

internal static class ValidationTarget
{
    public static async Task<IValidationTarget> OpenAsync(Deployment given, EngineContext context) =>
        given.Platform == DeploymentPlatform.Kubernetes
            ? await KubernetesValidationTarget.OpenAsync(given, context).ConfigureAwait(false)
            : await ComposeValidationTarget.OpenAsync(given, context).ConfigureAwait(false);
}

internal sealed class ComposeValidationTarget : IValidationTarget
{
    private readonly ComposeBackupSource _source;

    private ComposeValidationTarget(Deployment deployment, ComposeBackupSource source)
    {
        Deployment = deployment;
        _source = source;
        Redactor = EnvFile.Redactor(source.File.EnvFilePath);
    }

    public static async Task<ComposeValidationTarget> OpenAsync(Deployment given, EngineContext context)
    {
        var deployment = await ComposeDiscovery.DiscoverAsync(ComposeDiscoveryRequest.Again(given), context).ConfigureAwait(false);
        return new ComposeValidationTarget(deployment, await ComposeBackupSource.OpenAsync(deployment, context.CancellationToken).ConfigureAwait(false));
    }

    public Deployment Deployment { get; }
    public ProductProfile Profile => _source.Profile;
    public SecretRedactor Redactor { get; }
    public string InstanceNoun => "containers";
    public string StartRemedy => "Start what stopped ('docker compose up -d'), and read its log with Get-UpgradeDiagnostic.";

    public ProductApi Api(string? apiEndpoint) => ProductApi.For(Deployment, Profile, apiEndpoint);

    public async Task<ExecResult> ExecAsync(string service, IReadOnlyList<string> command, CancellationToken ct)
    {
        var container = _source.ContainersOf(service).FirstOrDefault(c => c.State == "running")
            ?? throw new UpgradeOpsException("ServiceNotRunning", ErrorKind.ObjectNotFound, service,
                $"No running container of service '{service}' to run {command[0]} in. Start it first.");
        return await DockerExec.RunAsync(_source.Engine.Client, container.ID, command, ct).ConfigureAwait(false);
    }

    public async Task<(DateTimeOffset From, IReadOnlyList<(string Instance, string Text)> Logs)> LogsSinceAsync(DateTimeOffset? since, CancellationToken ct)
    {
        await _source.RefreshAsync(ct).ConfigureAwait(false);
        var inspected = await Task.WhenAll(_source.Containers.Select(c => _source.Engine.Client.Containers.InspectContainerAsync(c.ID, ct))).ConfigureAwait(false);
        // "Since the upgrade": the caller's moment, else the start of the newest product container (the current version).
        var productServices = Profile.Services.Where(s => s.ProductImage).Select(s => _source.ComposeName(s.Name)).ToHashSet();
        var from = since ?? inspected
            .Where(i => DockerModels.ConfigOf(i).Labels?.TryGetValue(ComposeDiscovery.ServiceLabel, out var s) == true && productServices.Contains(s))
            .Select(i => DateTimeOffset.TryParse(DockerModels.StateOf(i).StartedAt, out var at) ? at : DateTimeOffset.MinValue)
            .DefaultIfEmpty(DateTimeOffset.UtcNow.AddHours(-1)).Max().AddSeconds(-5);
        var logs = new List<(string, string)>();
        foreach (var container in inspected)
            logs.Add((container.Name.TrimStart('/'), await PostUpgradeValidator.ReadLogsAsync(_source.Engine, container.ID, from, ct).ConfigureAwait(false)));
        return (from, logs);
    }

    public void Dispose() => _source.Dispose();
}

/// <summary>A Helm release: its workloads' pods stand for the containers; exec and logs go through the Kubernetes API.</summary>
internal sealed class KubernetesValidationTarget : IValidationTarget
{
    private readonly KubernetesBackupSource _source;
    private readonly IReadOnlyList<(KubernetesBackupSource.Workload Workload, IReadOnlyList<V1Pod> Pods)> _pods;

    private readonly ApiPortForward _forward;

    private KubernetesValidationTarget(Deployment deployment, KubernetesBackupSource source, IReadOnlyList<(KubernetesBackupSource.Workload, IReadOnlyList<V1Pod>)> pods,
        SecretRedactor redactor, EngineContext context)
    {
        Deployment = deployment;
        _source = source;
        _pods = pods;
        Redactor = redactor;
        _forward = new ApiPortForward(source, context.CreateLogger(nameof(ApiPortForward)), context.CancellationToken);
    }

    public static async Task<KubernetesValidationTarget> OpenAsync(Deployment given, EngineContext context)
    {
        var ct = context.CancellationToken;
        var deployment = await KubernetesDiscovery.AgainAsync(given, context).ConfigureAwait(false);
        var (ns, release) = (deployment.Location!.Split('/', 2)[0], deployment.Location.Split('/', 2)[1]);
        var source = KubernetesBackupSource.Open(deployment);
        try
        {
            var pods = new List<(KubernetesBackupSource.Workload, IReadOnlyList<V1Pod>)>();
            foreach (var workload in await source.WorkloadsAsync(ct).ConfigureAwait(false))
            {
                var owned = (await source.PodsAsync(workload, ct).ConfigureAwait(false)).Where(p => p.Metadata.DeletionTimestamp is null &&
                    (p.Metadata.OwnerReferences is null || p.Metadata.OwnerReferences.Count == 0 ||
                     p.Metadata.OwnerReferences.Any(o => o.Kind is "ReplicaSet" or "StatefulSet" or "Deployment"))).ToList();
                pods.Add((workload, owned));
                // The pods stand for the service's containers, so the checks read them the same way.
                if (deployment.Services.FirstOrDefault(s => s.Name == workload.Name) is { } service)
                    service.Containers = owned.Select(Describe).ToList();
            }
            var latest = await HelmReleaseReader.GetLatestAsync(source.Client, ns, release, ct).ConfigureAwait(false);
            return new KubernetesValidationTarget(deployment, source, pods, new SecretRedactor(latest?.FlatValues() ?? Array.Empty<KeyValuePair<string, string>>()), context);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>A pod as a service's container: running and healthy when its phase is Running and it is Ready.</summary>
    internal static DeploymentContainer Describe(V1Pod pod)
    {
        var status = pod.Status?.ContainerStatuses?.FirstOrDefault();
        var ready = pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        var phase = (pod.Status?.Phase ?? "Unknown").ToLowerInvariant();
        var terminated = status?.State?.Terminated ?? status?.LastState?.Terminated;
        return new DeploymentContainer
        {
            Id = pod.Metadata.Uid ?? pod.Metadata.Name, Name = pod.Metadata.Name, Image = status?.Image ?? pod.Spec?.Containers?.FirstOrDefault()?.Image,
            State = status?.State?.Waiting?.Reason is { } waiting ? $"{phase}, {waiting}" : phase,
            Health = phase == "running" ? (ready ? "healthy" : "not ready") : null,
            ExitCode = terminated?.ExitCode,
        };
    }

    public Deployment Deployment { get; }
    public ProductProfile Profile => _source.Profile;
    public SecretRedactor Redactor { get; }
    public string InstanceNoun => "pods";
    public string StartRemedy =>
        $"Look at the pods ('kubectl get pods -n {_source.Namespace}', 'kubectl describe pod'), and read their logs with Get-UpgradeDiagnostic or 'kubectl logs'.";

    public ProductApi Api(string? apiEndpoint) =>
        (apiEndpoint ?? Deployment.ApiEndpoint) is not null ? ProductApi.For(Deployment, Profile, apiEndpoint) : new ProductApi(_forward, Profile.Api);

    public async Task<ExecResult> ExecAsync(string service, IReadOnlyList<string> command, CancellationToken ct)
    {
        var (workload, pods) = _pods.FirstOrDefault(p => p.Workload.Service?.Name == service);
        var pod = pods?.Where(KubernetesBackupSource.IsReady).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new UpgradeOpsException("ServiceNotRunning", ErrorKind.ObjectNotFound, service,
                $"No ready pod of service '{service}'{(workload is null ? " (no workload of the release plays it: check the profile's kubernetesWorkload)" : $" ({workload.Kind} {_source.Namespace}/{workload.Name})")} to run {command[0]} in. " +
                "Check the pods with 'kubectl get pods' first.");
        var container = pod.Spec?.Containers?.FirstOrDefault()?.Name ?? "";
        return await new PodContainerExec(_source.Client, _source.Namespace, pod.Metadata.Name, container).RunAsync(command, ct).ConfigureAwait(false);
    }

    public async Task<(DateTimeOffset From, IReadOnlyList<(string Instance, string Text)> Logs)> LogsSinceAsync(DateTimeOffset? since, CancellationToken ct)
    {
        var productWorkloads = _pods.Where(p => p.Workload.Service?.ProductImage == true).SelectMany(p => p.Pods);
        var from = since ?? productWorkloads
            .Select(p => p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Running?.StartedAt ?? p.Metadata.CreationTimestamp)
            .Where(t => t is not null).Select(t => new DateTimeOffset(DateTime.SpecifyKind(t!.Value, DateTimeKind.Utc)))
            .DefaultIfEmpty(DateTimeOffset.UtcNow.AddHours(-1)).Max().AddSeconds(-5);
        var logs = new List<(string, string)>();
        foreach (var pod in _pods.SelectMany(p => p.Pods).Where(p => p.Status?.Phase is "Running" or "Succeeded" or "Failed"))
            logs.Add(($"{_source.Namespace}/{pod.Metadata.Name}", await PodLogSinceAsync(pod, from, ct).ConfigureAwait(false)));
        return (from, logs);
    }

    /// <summary>A pod's log lines from a moment on: read with timestamps (which the API always honours) and cut here.</summary>
    private async Task<string> PodLogSinceAsync(V1Pod pod, DateTimeOffset from, CancellationToken ct)
    {
        try
        {
            var seconds = (int)Math.Max(1, Math.Ceiling((DateTimeOffset.UtcNow - from).TotalSeconds));
            await using var stream = await _source.Client.CoreV1.ReadNamespacedPodLogAsync(pod.Metadata.Name, _source.Namespace,
                container: pod.Spec?.Containers?.FirstOrDefault()?.Name, sinceSeconds: seconds, timestamps: true, cancellationToken: ct).ConfigureAwait(false);
            using var reader = new StreamReader(stream);
            return CutBefore(await reader.ReadToEndAsync(ct).ConfigureAwait(false), from);
        }
        catch (k8s.Autorest.HttpOperationException ex)
        {
            throw new UpgradeOpsException("PodLogUnavailable", ErrorKind.ConnectionError, $"{_source.Namespace}/{pod.Metadata.Name}",
                $"The Kubernetes API did not give the log of pod {_source.Namespace}/{pod.Metadata.Name} ({(int)ex.Response.StatusCode}). " +
                "Check that you may read pod logs there ('kubectl logs').", ex);
        }
    }

    /// <summary>The lines of a log read with timestamps ("2026-01-01T00:00:00.123456789Z text") from a moment on, without their timestamps.</summary>
    internal static string CutBefore(string log, DateTimeOffset from)
    {
        var kept = new List<string>();
        foreach (var line in log.Split('\n'))
        {
            if (line.Length == 0) continue;
            var space = line.IndexOf(' ');
            var stamp = space > 0 ? line[..space] : line;
            // RFC 3339 with nanoseconds: .NET parses at most 7 fraction digits.
            var trimmed = System.Text.RegularExpressions.Regex.Replace(stamp, @"(\.\d{7})\d+", "$1");
            if (DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                if (at >= from) kept.Add(space > 0 ? line[(space + 1)..] : "");
            }
            else kept.Add(line);
        }
        return kept.Count == 0 ? "" : string.Join('\n', kept) + "\n";
    }

    public void Dispose()
    {
        _forward.Dispose();
        _source.Dispose();
    }
}

using System.Globalization;
using k8s;
using k8s.Models;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Platforms;
using UpgradeOps.Validation;

namespace UpgradeOps.Kubernetes;

/// <summary>A Helm release: its workloads' pods stand for the containers; exec and logs go through the Kubernetes API.</summary>
internal sealed class KubernetesValidationTarget : IValidationTarget
{
    private readonly HelmDeployment _source;
    private readonly IReadOnlyList<(HelmDeployment.Workload Workload, IReadOnlyList<V1Pod> Pods)> _pods;

    private readonly ApiPortForward _forward;

    private KubernetesValidationTarget(Deployment deployment, HelmDeployment source, IReadOnlyList<(HelmDeployment.Workload, IReadOnlyList<V1Pod>)> pods,
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
        var (ns, release) = HelmDeployment.Locate(deployment);
        var source = HelmDeployment.Open(deployment);
        try
        {
            var pods = new List<(HelmDeployment.Workload, IReadOnlyList<V1Pod>)>();
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
        var pod = pods?.Where(HelmDeployment.IsReady).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new UpgradeOpsException("ServiceNotRunning", ErrorKind.ObjectNotFound, service,
                $"No ready pod of service '{service}'{(workload is null ? " (no workload of the release plays it: check the profile's kubernetesSelector or kubernetesWorkload)" : $" ({workload.Kind} {_source.Namespace}/{workload.Name})")} to run {command[0]} in. " +
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

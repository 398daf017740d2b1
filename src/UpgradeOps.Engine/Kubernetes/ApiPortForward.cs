using k8s.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Profiles;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// A Helm release's product API reached from here without an -ApiEndpoint: a port-forward (<see cref="PodPortForward"/>)
/// to a ready pod of the workload that serves the profile's API, opened on first use and closed with its owner (on
/// success, error or Ctrl+C alike: the owner is disposed by a using). The workload is the one that plays the profile's
/// api.service, else the first (by name) that plays a service of role Api; the port is found in the pod by
/// <see cref="ApiPort"/>.
/// </summary>
internal sealed class ApiPortForward : IApiTunnel, IDisposable
{
    private readonly HelmDeployment _source;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop;
    private readonly object _lock = new();
    private static readonly TimeSpan OpeningEndTimeout = TimeSpan.FromSeconds(10);

    private Task<PodPortForward>? _opening;
    private PodPortForward? _open;
    private bool _disposed;

    /// <param name="ct">Ends an opening still under way (the caller's Ctrl+C); a check's own timeout does not.</param>
    public ApiPortForward(HelmDeployment source, ILogger log, CancellationToken ct)
    {
        _source = source;
        _log = log;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
    }

    /// <summary>The forward's local base URL (http://127.0.0.1:PORT/), opening it on the first call; its errors are <see cref="UpgradeOpsException"/>s.</summary>
    public async Task<Uri> EndpointAsync(CancellationToken ct)
    {
        Task<PodPortForward> opening;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            opening = _opening ??= Task.Run(OpenAsync);
        }
        return (await opening.WaitAsync(ct).ConfigureAwait(false)).Endpoint;
    }

    /// <summary>
    /// The error to report for a request through the forward that broke (the connection closed without an answer), when the
    /// forward knows why (what the server said on the error channel, e.g. nothing listens on the port in the pod); else null.
    /// </summary>
    public UpgradeOpsException? Explain(Exception ex) =>
        _opening is { IsCompletedSuccessfully: true } opened && opened.Result is { Failure: { } failure } forward
            ? new UpgradeOpsException("PortForwardFailed", ErrorKind.ConnectionError, $"{forward.Namespace}/{forward.Pod}",
                $"A request to the API through the port-forward to {forward.Description} failed: {failure.TrimEnd('.')}. " +
                $"Check that the API listens on port {forward.Port} in the pod (its container ports, the profile's api.port), or give -ApiEndpoint.", ex)
            : null;

    private async Task<PodPortForward> OpenAsync()
    {
        var ct = _stop.Token;
        var (ns, release, profile) = (_source.Namespace, _source.Release, _source.Profile);
        var workloads = await _source.WorkloadsAsync(ct).ConfigureAwait(false);
        var workload = ApiWorkload(workloads, profile)
            ?? throw new UpgradeOpsException("ApiWorkloadNotFound", ErrorKind.ObjectNotFound, $"{ns}/{release}",
                $"No Deployment or StatefulSet of release {ns}/{release} plays the profile's API ({(profile.Api.Service is { } s ? $"the service '{s}' that api.service names, or " : "")}" +
                "a service of role Api, matched by its kubernetesSelector labels or kubernetesWorkload name), so there is no pod to port-forward to. " +
                "Set kubernetesSelector or kubernetesWorkload on that service in the profile, or give -ApiEndpoint.");
        var pods = await _source.PodsAsync(workload, ct).ConfigureAwait(false);
        var pod = pods.Where(HelmDeployment.IsReady).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new UpgradeOpsException("ApiPodNotReady", ErrorKind.ResourceUnavailable, $"{ns}/{workload.Name}",
                $"No pod of {workload.Kind} {ns}/{workload.Name}, which serves the API, is ready ({pods.Count} pod(s)), so there is no pod to port-forward to. " +
                $"Look at its pods ('kubectl get pods -n {ns}', Get-UpgradeDiagnostic) and run again once one is ready, or give -ApiEndpoint.");
        var name = pod.Metadata.Name;
        var port = ApiPort(pod.Spec, profile.Api.Port)
            ?? throw new UpgradeOpsException("ApiPortUnknown", ErrorKind.ObjectNotFound, $"{ns}/{name}",
                $"Pod {ns}/{name} declares the ports {string.Join(", ", DeclaredPorts(pod.Spec).Select(p => p.Name is null ? $"{p.ContainerPort}" : $"{p.ContainerPort} ({p.Name})"))}, " +
                $"none of them {(profile.Api.Port is { } p ? $"the profile's api.port {p} or " : "")}named 'http', so the API's port is not known. " +
                "Set api.port in the profile to the port the API listens on in the pod, or give -ApiEndpoint.");
        var forward = await PodPortForward.StartAsync(_source.Client, ns, name, port, _log, ct).ConfigureAwait(false);
        lock (_lock)
        {
            if (_disposed)
            {
                forward.Dispose();
                throw new OperationCanceledException("the owner of the port-forward was disposed while it opened");
            }
            // Known to Dispose before anyone can learn its port (the log below): the port is closed with the owner.
            _open = forward;
        }
        _log.LogDebug("Forwarding 127.0.0.1:{LocalPort} to pod {Namespace}/{Pod} port {Port} ({Kind} {Workload}, the API) through the Kubernetes API at {Server}",
            forward.LocalPort, ns, name, port, workload.Kind, workload.Name, _source.Client.BaseUri);
        return forward;
    }

    /// <summary>The workload that serves the API: the one playing the profile's api.service, else the first playing a service of role Api.</summary>
    internal static HelmDeployment.Workload? ApiWorkload(IReadOnlyList<HelmDeployment.Workload> workloads, ProductProfile profile) =>
        (profile.Api.Service is { } service ? workloads.FirstOrDefault(w => w.Service?.Name == service) : null)
        ?? workloads.FirstOrDefault(w => w.Service?.Role == ServiceRole.Api);

    /// <summary>
    /// The port the API listens on in the pod: the profile's api.port when a container declares it (or no container declares
    /// any port), else the container port named "http", else the only port declared; null when none of these tells.
    /// </summary>
    internal static int? ApiPort(V1PodSpec? spec, int? profilePort)
    {
        var declared = DeclaredPorts(spec);
        if (profilePort is { } port && (declared.Count == 0 || declared.Any(d => d.ContainerPort == port))) return port;
        return declared.FirstOrDefault(d => d.Name == "http")?.ContainerPort ?? (declared.Count == 1 ? declared[0].ContainerPort : null);
    }

    private static List<V1ContainerPort> DeclaredPorts(V1PodSpec? spec) =>
        spec?.Containers?.SelectMany(c => c.Ports ?? new List<V1ContainerPort>()).Where(p => p.Protocol is null or "TCP").ToList() ?? new();

    public void Dispose()
    {
        Task<PodPortForward>? opening;
        PodPortForward? open;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            (opening, open) = (_opening, _open);
        }
        _stop.Cancel();
        if (open is not null)
        {
            open.Dispose();
            return;
        }
        if (opening is null) return;
        // Still opening, now cancelled: OpenAsync closes what it opened when it sees _disposed. Wait for that (briefly), so
        // that the local port is free when the owner's command returns, as it is when the forward was already open.
        try { opening.Wait(OpeningEndTimeout); }
        catch (AggregateException) { }
    }
}

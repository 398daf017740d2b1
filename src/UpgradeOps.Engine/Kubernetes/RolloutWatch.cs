using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Watches a Helm release's workloads (its Deployments and StatefulSets, mapped to the profile's roles) through an upgrade:
/// polls them once a second from before helm upgrade starts; each workload the upgrade changes gets a progress bar of its own
/// ("1/2 updated, 1/2 ready", with its pods' waiting reasons), and its time from the new spec to rolled out is recorded. A
/// rollout that does not finish by its deadline is RolloutTimedOut, naming the workload and what its pods say.
/// </summary>
internal sealed class RolloutWatch : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private sealed class Tracked
    {
        public required WorkloadRolloutStatus Status { get; set; }
        public ServiceDefinition? Service { get; set; }
        public IDictionary<string, string> Selector { get; set; } = new Dictionary<string, string>();
        /// <summary>The image of its pod template's first container: a pod that runs it runs the new version.</summary>
        public string? Image { get; set; }
        public bool Changed { get; set; }
        public DateTimeOffset? ChangedAt { get; set; }
        public DateTimeOffset? ReadyAt { get; set; }
        public List<V1Pod> Pods { get; set; } = new();
        public ProgressActivity? Bar { get; set; }
        public bool Done { get; set; }
        public string? Detail { get; set; }
        public string Label => $"{Status.Name} ({Service?.Role ?? ServiceRole.Other})";
    }

    private readonly IKubernetes _client;
    private readonly string _ns;
    private readonly string _release;
    private readonly ProductProfile _profile;
    private readonly SecretRedactor _redactor;
    private readonly EngineContext _context;
    private readonly ProgressActivity _parent;
    private readonly ILogger _log;
    private readonly Dictionary<string, (string? Uid, long Generation)> _baseline = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tracked> _workloads = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop;
    private Task _loop = Task.CompletedTask;
    private TaskCompletionSource _polled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DateTimeOffset _lastPollStarted = DateTimeOffset.MinValue;
    private string? _lastError;
    private volatile bool _applied;
    private string? _podsOf;
    private bool _disposed;

    private RolloutWatch(IKubernetes client, string ns, string release, ProductProfile profile, SecretRedactor redactor, EngineContext context,
        ProgressActivity parent, ILogger log)
    {
        _client = client;
        _ns = ns;
        _release = release;
        _profile = profile;
        _redactor = redactor;
        _context = context;
        _parent = parent;
        _log = log;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
    }

    /// <summary>Reads the workloads as they are before the upgrade (what "changed" is measured against) and starts polling.</summary>
    public static async Task<RolloutWatch> StartAsync(IKubernetes client, string ns, string release, ProductProfile profile, SecretRedactor redactor,
        EngineContext context, ProgressActivity parent, ILogger log)
    {
        var watch = new RolloutWatch(client, ns, release, profile, redactor, context, parent, log);
        try
        {
            foreach (var (status, _, _, _, _) in await watch.ListAsync(context.CancellationToken).ConfigureAwait(false))
                watch._baseline[$"{status.Kind}/{status.Name}"] = (status.Uid, status.Generation);
        }
        catch (Exception ex) when (ex is HttpOperationException or HttpRequestException)
        {
            watch._stop.Dispose();
            throw new UpgradeOpsException("KubernetesRequestFailed", ErrorKind.ConnectionError, $"{ns}/{release}",
                $"The workloads of release {ns}/{release} could not be listed before the upgrade ({ex.Message}): nothing was changed. " +
                "Check -Kubeconfig / -KubeContext and that your identity may list Deployments, StatefulSets and pods there.", ex);
        }
        watch._loop = Task.Run(watch.LoopAsync);
        return watch;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await PollAsync(_stop.Token).ConfigureAwait(false);
                await Task.Delay(Interval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
        }
    }

    private async Task<List<(WorkloadRolloutStatus Status, V1ObjectMeta Metadata, IDictionary<string, string>? PodLabels, IDictionary<string, string> Selector, string? Image)>> ListAsync(CancellationToken ct)
    {
        var deployments = await _client.AppsV1.ListNamespacedDeploymentAsync(_ns, cancellationToken: ct).ConfigureAwait(false);
        var statefulSets = await _client.AppsV1.ListNamespacedStatefulSetAsync(_ns, cancellationToken: ct).ConfigureAwait(false);
        return deployments.Items.Where(d => KubernetesDiscovery.BelongsTo(d.Metadata, _release))
            .Select(d => (WorkloadRolloutStatus.Of(d), d.Metadata, d.Spec?.Template?.Metadata?.Labels, d.Spec?.Selector?.MatchLabels ?? new Dictionary<string, string>(), d.Spec?.Template?.Spec?.Containers?.FirstOrDefault()?.Image))
            .Concat(statefulSets.Items.Where(s => KubernetesDiscovery.BelongsTo(s.Metadata, _release))
                .Select(s => (WorkloadRolloutStatus.Of(s), s.Metadata, s.Spec?.Template?.Metadata?.Labels, s.Spec?.Selector?.MatchLabels ?? new Dictionary<string, string>(), s.Spec?.Template?.Spec?.Containers?.FirstOrDefault()?.Image)))
            .OrderBy(w => w.Item1.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>One look at the workloads (and, for those still rolling out, their pods); then the progress bars.</summary>
    private async Task PollAsync(CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        try
        {
            var listed = await ListAsync(ct).ConfigureAwait(false);
            List<Tracked> shown;
            lock (_gate)
            {
                foreach (var (status, metadata, podLabels, selector, image) in listed)
                {
                    var key = $"{status.Kind}/{status.Name}";
                    if (!_workloads.TryGetValue(key, out var tracked))
                        _workloads[key] = tracked = new Tracked { Status = status, Service = KubernetesDiscovery.ServiceOf(metadata, podLabels, _profile, _release) };
                    tracked.Status = status;
                    tracked.Selector = selector;
                    tracked.Image = image;
                    if (!tracked.Changed && (!_baseline.TryGetValue(key, out var before) || before.Uid != status.Uid || status.Generation > before.Generation))
                    {
                        tracked.Changed = true;
                        tracked.ChangedAt = started;
                    }
                    if (tracked.Changed && tracked.ReadyAt is null && status.IsRolledOut) tracked.ReadyAt = started;
                }
                // A workload the upgrade removed has nothing left to roll out.
                foreach (var gone in _workloads.Where(w => !listed.Any(l => $"{l.Status.Kind}/{l.Status.Name}" == w.Key)).ToList())
                {
                    gone.Value.Bar?.Complete();
                    _workloads.Remove(gone.Key);
                }
                shown = _workloads.Values.Where(t => !t.Done && (t.Changed || _applied && !t.Status.IsRolledOut)).ToList();
            }
            if (shown.Any(t => !t.Status.IsRolledOut) || _podsOf is not null)
            {
                var pods = (await _client.CoreV1.ListNamespacedPodAsync(_ns, cancellationToken: ct).ConfigureAwait(false)).Items
                    .Where(p => p.Metadata.OwnerReferences?.Any(o => o.Kind == "Job") != true).ToList();
                lock (_gate)
                    foreach (var tracked in _workloads.Values)
                        tracked.Pods = pods.Where(p => tracked.Selector.Count > 0 && tracked.Selector.All(s => p.Metadata.Labels?.TryGetValue(s.Key, out var v) == true && v == s.Value))
                            .OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).ToList();
            }
            foreach (var tracked in shown) Show(tracked);
            _lastError = null;
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && ct.IsCancellationRequested))
        {
            // A failed look (an API error, a timeout, an answer it cannot read) is not a failed rollout: the next one may work;
            // a deadline that passes meanwhile says why. The loop must not die: the waits depend on it.
            _lastError = ex is HttpOperationException h ? $"{(int)h.Response.StatusCode} {h.Response.ReasonPhrase}" : ex.Message;
            _log.LogDebug("Reading the workloads of {Release} failed: {Message}", _release, _lastError);
        }
        finally
        {
            TaskCompletionSource polled;
            lock (_gate)
            {
                _lastPollStarted = started;
                polled = _polled;
                _polled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            polled.TrySetResult();
        }
    }

    private void Show(Tracked tracked)
    {
        var status = tracked.Status;
        tracked.Bar ??= _context.StartActivity($"Rollout of {tracked.Label}", _parent);
        var reasons = status.IsRolledOut ? Array.Empty<string>() : PodStatusText.Reasons(tracked.Pods);
        tracked.Bar.Report(status.Progress + (reasons.Count > 0 ? $" ({string.Join(", ", reasons)})" : ""), status.Percent);
        if (tracked.ReadyAt is not null && status.IsRolledOut)
        {
            tracked.Done = true;
            tracked.Bar.Complete();
        }
    }

    /// <summary>Waits for a look at the workloads that started after now.</summary>
    private async Task FreshAsync(CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        while (true)
        {
            Task polled;
            lock (_gate)
            {
                if (_lastPollStarted >= now) return;
                polled = _polled.Task;
            }
            await polled.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After helm has applied the release: waits until every workload is rolled out, or throws RolloutTimedOut at
    /// <paramref name="deadline"/> (a deadline already passed still gets one fresh look). <paramref name="cause"/> is added to the error.
    /// </summary>
    public async Task WaitRolledOutAsync(DateTimeOffset deadline, TimeSpan timeout, string? cause, CancellationToken ct)
    {
        _applied = true;
        while (true)
        {
            await FreshAsync(ct).ConfigureAwait(false);
            List<Tracked> stuck;
            lock (_gate) stuck = _workloads.Values.Where(t => !t.Status.IsRolledOut).OrderBy(t => t.Status.Name, StringComparer.Ordinal).ToList();
            if (stuck.Count == 0 && _lastError is null) return;
            if (DateTimeOffset.UtcNow >= deadline)
                throw await StuckAsync(stuck, timeout, cause, "", ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The workload that plays <paramref name="service"/> and one of its pods that runs the new pod template's image with its
    /// container running (ready or not: the application may wait for its migration before it says ready), for a migration by exec.
    /// </summary>
    public async Task<(string Workload, V1Pod Pod)> NewPodAsync(ServiceDefinition service, DateTimeOffset deadline, TimeSpan timeout, CancellationToken ct)
    {
        _applied = true;
        _podsOf = service.Name;
        try
        {
            while (true)
            {
                await FreshAsync(ct).ConfigureAwait(false);
                Tracked? workload;
                lock (_gate) workload = _workloads.Values.FirstOrDefault(t => t.Service?.Name == service.Name);
                if (workload is null && _lastError is null)
                    throw new UpgradeOpsException("MigrationServiceNotFound", ErrorKind.ObjectNotFound, service.Name,
                        $"No workload of release {_ns}/{_release} plays the profile's service '{service.Name}' (migration.kubernetesExec), so the migration has no pod " +
                        $"to run in. Check how the profile finds it ({service.DescribeKubernetesMatch()}) against 'kubectl get deploy,sts -n {_ns} --show-labels'.");
                var pod = workload is null || workload.Status.ObservedGeneration < workload.Status.Generation ? null : workload.Pods
                    .Where(p => p.Metadata.DeletionTimestamp is null && p.Status?.Phase == "Running")
                    .Where(p => p.Spec?.Containers?.FirstOrDefault() is { } first && first.Image == workload.Image &&
                                p.Status?.ContainerStatuses?.FirstOrDefault(c => c.Name == first.Name)?.State?.Running is not null)
                    .OrderByDescending(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true)
                    .ThenBy(p => p.Metadata.Name, StringComparer.Ordinal).FirstOrDefault();
                if (pod is not null) return (workload!.Status.Name, pod);
                if (DateTimeOffset.UtcNow >= deadline)
                    throw await StuckAsync(workload is null ? new List<Tracked>() : new List<Tracked> { workload }, timeout, null,
                        " No pod of it ran the new version, so the migration (migration.kubernetesExec) could not start.", ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _podsOf = null;
        }
    }

    /// <summary>RolloutTimedOut: each workload that did not roll out, its state, and what its pods say (with a crashing pod's last log line).</summary>
    private async Task<UpgradeOpsException> StuckAsync(List<Tracked> stuck, TimeSpan timeout, string? cause, string note, CancellationToken ct)
    {
        var sentences = new List<string>();
        foreach (var tracked in stuck)
        {
            var status = tracked.Status;
            var pods = new List<string>();
            foreach (var group in tracked.Pods.Select(p => (Pod: p, Text: PodStatusText.Describe(p))).Where(p => p.Text is not null).GroupBy(p => p.Text))
            {
                var text = $"{string.Join(", ", group.Select(p => p.Pod.Metadata.Name))}: {group.Key}";
                if (await LastLogLineAsync(group.First().Pod, ct).ConfigureAwait(false) is { } line) text += $"; last log line: '{line}'";
                pods.Add(text);
            }
            tracked.Detail = _redactor.Redact(string.Join(". ", new[] { status.Beyond, pods.Count > 0 ? "Pods: " + string.Join(" | ", pods) : null }.OfType<string>()) + ".");
            sentences.Add($"{status.Kind} {_ns}/{status.Name} ({tracked.Service?.Role ?? ServiceRole.Other}) has {status.Progress}" +
                          (tracked.Detail.Length > 1 ? $": {tracked.Detail}" : "."));
        }
        var first = stuck.FirstOrDefault();
        var message = $"The rollout of release {_ns}/{_release} did not finish within {timeout.TotalSeconds:N0} s. " +
                      (sentences.Count > 0 ? string.Join(" ", sentences) : $"The workloads could not be read: {_lastError}.") + note +
                      (cause is null ? "" : $" (helm: {_redactor.Redact(cause)})") +
                      " Fix what the pods say (Get-UpgradeDiagnostic shows every pod with its log), then run Invoke-Upgrade again with a longer -HealthTimeout if it was only slow; " +
                      "Invoke-Rollback returns to the previous revision and the backup's data.";
        return new UpgradeOpsException("RolloutTimedOut", ErrorKind.OperationTimeout, first is null ? $"{_ns}/{_release}" : $"{_ns}/{first.Status.Name}", message);
    }

    /// <summary>The last line a pod that crashed or is not ready logged, redacted and shortened; null when there is none or it cannot be read.</summary>
    private async Task<string?> LastLogLineAsync(V1Pod pod, CancellationToken ct)
    {
        // A container that never started (an image that cannot be pulled) has no log.
        var container = pod.Status?.ContainerStatuses?.FirstOrDefault(c => c.Ready != true);
        if (container is null || container.RestartCount == 0 && container.State?.Running is null && container.State?.Terminated is null) return null;
        var crashed = CrashIsInPreviousLog(container);
        return await LogLineAsync(pod, container.Name, previous: crashed, ct).ConfigureAwait(false)
            ?? (crashed ? await LogLineAsync(pod, container.Name, previous: false, ct).ConfigureAwait(false) : null);
    }

    /// <summary>
    /// Restarted and running again (or waiting to): what the crash said is in the previous run's log; the current one may hold
    /// only start-up lines, or nothing yet (seen under load: the line that names the failure was missing). Just terminated:
    /// the current log is the crashed run's.
    /// </summary>
    internal static bool CrashIsInPreviousLog(V1ContainerStatus container) => container.RestartCount > 0 && container.State?.Terminated is null;

    private async Task<string?> LogLineAsync(V1Pod pod, string container, bool previous, CancellationToken ct)
    {
        try
        {
            await using var stream = await _client.CoreV1.ReadNamespacedPodLogAsync(pod.Metadata.Name, _ns, container: container, tailLines: 5, previous: previous,
                cancellationToken: ct).ConfigureAwait(false);
            using var reader = new StreamReader(stream);
            var line = (await reader.ReadToEndAsync(ct).ConfigureAwait(false)).Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
            return line is null ? null : _redactor.Redact(line.Length > 200 ? line[..200] + "…" : line);
        }
        catch (Exception ex) when (ex is HttpOperationException or HttpRequestException or IOException)
        {
            return null;
        }
    }

    /// <summary>Each workload as the upgrade rolled it out, for the result and the journal.</summary>
    public List<WorkloadRollout> Records()
    {
        lock (_gate)
            return _workloads.Values.OrderBy(t => t.Status.Name, StringComparer.Ordinal).Select(t => new WorkloadRollout
            {
                Workload = t.Status.Name, Kind = t.Status.Kind, Role = t.Service?.Role ?? ServiceRole.Other, Replicas = t.Status.Desired,
                Updated = Math.Min(t.Status.Updated, t.Status.Desired), Ready = Math.Min(t.Status.Ready, t.Status.Desired), Changed = t.Changed, Started = t.ChangedAt,
                TimeToReady = t.ReadyAt - t.ChangedAt, Detail = t.Detail,
            }).ToList();
    }

    /// <summary>The rollout step's detail: each changed workload and its time to ready, then the unchanged ones.</summary>
    public string Summary()
    {
        var records = Records();
        var changed = records.Where(r => r.Changed).Select(r => r.ToString());
        var unchanged = records.Where(r => !r.Changed).Select(r => r.Workload).ToList();
        return string.Join("; ", changed) + (unchanged.Count == 0 ? "" : $"{(records.Any(r => r.Changed) ? "; " : "")}unchanged and ready: {string.Join(", ", unchanged)}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        try { await _loop.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        lock (_gate)
            foreach (var tracked in _workloads.Values) tracked.Bar?.Complete();
        _stop.Dispose();
    }
}

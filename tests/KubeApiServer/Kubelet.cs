using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace KubeApiServer;

/// <summary>
/// With --kubelet PREFIX the server runs what a kubelet would, as Docker containers of their own image (host network,
/// no Docker network): one container per Deployment / StatefulSet (its pods share it; replicas 0 stops it), replaced
/// when the pod template changes (a new image), and one per Job, run once: the Job succeeds or fails with its exit code.
/// A workload is ready when its container runs and has passed its image's healthcheck (run by the kubelet, see Readiness); the
/// workload's, pod's and Job's status follow, so helm --wait and hook waits see the real application. A workload's
/// observedGeneration and updatedReplicas move once this kubelet has acted on its new pod template (its container
/// replaced), its readyReplicas once the new container is healthy: all replicas at once, since they share the container.
/// A pod whose container is not there yet is Pending (ContainerCreating; ErrImagePull / ImagePullBackOff when its image
/// cannot be pulled, retried every 5 s), a container that keeps exiting is CrashLoopBackOff with its last exit code.
/// Service names resolve to 127.0.0.1 in the containers (--add-host), as cluster DNS would lead to the pods. A pod's
/// PersistentVolumeClaim is a Docker volume of its own that outlives the container; no other volume kind is mounted.
/// A Pod created directly (no owner: a tool's short-lived pod) runs once, as a Job's pod does. With podsOnly (--kubelet-pods-only)
/// only those run: the workloads keep the store's default status (ready at once) and their exec goes to --docker-workload.
/// Containers are named PREFIX-NAMESPACE-NAME, labelled io.upgradeops.kubetest=PREFIX, and removed when the server stops.
/// </summary>
public sealed class Kubelet(string prefix, string socketPath, Store store, bool podsOnly = false)
{
    public const string Label = "io.upgradeops.kubetest";
    private const string OwnerLabel = "io.upgradeops.kubetest.owner";
    private const string TemplateLabel = "io.upgradeops.kubetest.template";
    /// <summary>The Docker container behind a pod, on pods the kubelet made (Jobs').</summary>
    public const string ContainerAnnotation = "upgradeops.test/docker-container";

    private static readonly ResourceType Deployments = ResourceTypes.Find("apps", "v1", "deployments")!;
    private static readonly ResourceType StatefulSets = ResourceTypes.Find("apps", "v1", "statefulsets")!;
    private static readonly ResourceType Jobs = ResourceTypes.Find("batch", "v1", "jobs")!;
    private static readonly ResourceType Secrets = ResourceTypes.Find("", "v1", "secrets")!;
    private static readonly ResourceType ConfigMaps = ResourceTypes.Find("", "v1", "configmaps")!;
    private static readonly ResourceType Services = ResourceTypes.Find("", "v1", "services")!;

    /// <summary>What the containers are doing, by container name.</summary>
    /// <summary>
    /// What the containers are doing, by container name: <see cref="Template"/> is the pod template hash it runs,
    /// <see cref="WaitingReason"/> why it could not be created (ErrImagePull, ImagePullBackOff, CreateContainerConfigError),
    /// <see cref="LastExitCode"/> how its previous run ended (a container restarted by Docker).
    /// </summary>
    public sealed record ContainerState(bool Exists, bool Running, bool Ready, long RestartCount, long? ExitCode, string? StartedAt, string? FinishedAt, string Image,
        string? Template = null, string? WaitingReason = null, string? WaitingMessage = null, long? LastExitCode = null);

    private readonly ConcurrentDictionary<string, ContainerState> _states = new(StringComparer.Ordinal);
    /// <summary>The generation of each workload (by container name) this kubelet has acted on.</summary>
    private readonly ConcurrentDictionary<string, long> _observed = new(StringComparer.Ordinal);
    /// <summary>When a container whose creation failed (image pull) is tried again.</summary>
    private readonly Dictionary<string, DateTime> _retryAt = new(StringComparer.Ordinal);
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    }) { BaseAddress = new Uri("http://docker"), Timeout = TimeSpan.FromMinutes(5) };

    public string Prefix => prefix;

    public string WorkloadContainer(string ns, string workload) => $"{prefix}-{ns}-{workload}";

    private string JobContainer(string ns, JsonObject job) => $"{prefix}-{ns}-{job["metadata"]!["name"]}-{((string)job["metadata"]!["uid"]!)[..8]}";

    /// <summary>The container of a Pod created directly: its name and the start of its uid (a pod of the same name made again is another).</summary>
    private string BarePodContainer(string ns, JsonObject pod) =>
        $"{prefix}-{ns}-{pod["metadata"]!["name"]}-{new string(((string?)pod["metadata"]!["uid"] ?? "").Take(8).ToArray())}";

    /// <summary>A Pod created directly, not by a workload or a Job.</summary>
    private static bool IsBare(JsonObject pod) => Pods.Owner(pod) is null && pod["metadata"]?["annotations"]?[ContainerAnnotation] is null;

    /// <summary>The container behind a pod: a Job's pod names it; a workload's pod is its workload's; a bare pod has its own.</summary>
    public string? ContainerFor(string ns, JsonObject pod) =>
        (string?)pod["metadata"]?["annotations"]?[ContainerAnnotation]
        ?? (Pods.Owner(pod) is { } owner ? (podsOnly ? null : WorkloadContainer(ns, owner)) : BarePodContainer(ns, pod));

    /// <summary>The status the kubelet observes, over the store's default (which says ready at once); null = the default.</summary>
    public JsonObject? Observe(string kind, JsonObject obj, JsonObject? status)
    {
        var ns = (string?)obj["metadata"]?["namespace"];
        if (ns is null || status is null) return status;
        if (podsOnly && !(kind == "Pod" && IsBare(obj))) return status;
        switch (kind)
        {
            case "Deployment" or "StatefulSet":
            {
                var replicas = obj["spec"]?["replicas"]?.GetValue<long>() ?? 1;
                var container = WorkloadContainer(ns, (string)obj["metadata"]!["name"]!);
                var generation = obj["metadata"]?["generation"]?.GetValue<long>() ?? 1;
                var state = _states.GetValueOrDefault(container);
                // The controller has seen this spec once the kubelet acted on it; until then the status is the previous one's.
                var observed = Math.Min(generation, _observed.GetValueOrDefault(container));
                var current = observed == generation;
                var ready = replicas == 0 || current && state is { Ready: true } && state.Template == TemplateHash(obj["spec"]?["template"] as JsonObject);
                status["observedGeneration"] = observed;
                status["updatedReplicas"] = current ? replicas : 0;
                if (ready) return status;
                status["readyReplicas"] = 0;
                status["availableReplicas"] = 0;
                if (kind == "StatefulSet") status["currentReplicas"] = 0;
                if (status["conditions"] is JsonArray conditions)
                    foreach (var c in conditions.OfType<JsonObject>().Where(c => (string?)c["type"] == "Available")) { c["status"] = "False"; c["reason"] = "MinimumReplicasUnavailable"; }
                return status;
            }
            case "Pod":
            {
                var container = ContainerFor(ns, obj);
                var state = container is null ? null : _states.GetValueOrDefault(container);
                // A Job's pod and a bare pod run once: their exit ends them.
                var isJob = obj["metadata"]?["annotations"]?[ContainerAnnotation] is not null || IsBare(obj);
                // A workload's pod of a newer template than its container runs: its container is not created yet.
                if (!isJob && state is not null && Pods.TemplateHash(obj) is { } podTemplate && state.Template != podTemplate) state = null;
                var ready = state is { Ready: true };
                status["phase"] = state switch
                {
                    null or { WaitingReason: not null } => "Pending",
                    { Running: true } => "Running",
                    { ExitCode: 0 } when isJob => "Succeeded",
                    { ExitCode: not null } when isJob => "Failed",
                    _ => "Running",
                };
                foreach (var c in (status["conditions"] as JsonArray ?? new JsonArray()).OfType<JsonObject>()) c["status"] = ready ? "True" : "False";
                var name = (string?)obj["spec"]?["containers"]?[0]?["name"] ?? "main";
                var containerStatus = new JsonObject
                {
                    ["name"] = name, ["ready"] = ready, ["restartCount"] = state?.RestartCount ?? 0,
                    ["image"] = state?.Image is { Length: > 0 } image ? image : (string?)obj["spec"]?["containers"]?[0]?["image"] ?? "",
                    ["started"] = state?.Running ?? false,
                };
                containerStatus["state"] = state switch
                {
                    null => new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating" } },
                    { WaitingReason: { } reason } => new JsonObject { ["waiting"] = new JsonObject { ["reason"] = reason, ["message"] = state.WaitingMessage } },
                    { Running: true } => new JsonObject { ["running"] = new JsonObject { ["startedAt"] = state.StartedAt } },
                    { ExitCode: not null } when isJob => new JsonObject { ["terminated"] = Terminated(state) },
                    _ => new JsonObject { ["waiting"] = new JsonObject
                    {
                        ["reason"] = "CrashLoopBackOff", ["message"] = $"back-off restarting failed container {name} in pod {obj["metadata"]?["name"]}",
                    } },
                };
                if (!isJob && state is { WaitingReason: null } && (state.ExitCode ?? state.LastExitCode) is { } lastExit && (!state.Running || state.RestartCount > 0))
                    containerStatus["lastState"] = new JsonObject { ["terminated"] = Terminated(state with { ExitCode = lastExit }) };
                status["containerStatuses"] = new JsonArray(containerStatus);
                return status;
            }
            case "Job":
            {
                var state = _states.GetValueOrDefault(JobContainer(ns, obj));
                var now = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
                if (state is not { Running: false, ExitCode: not null })
                    return new JsonObject { ["startTime"] = obj["status"]?["startTime"]?.DeepClone() ?? now, ["active"] = 1, ["ready"] = 0 };
                if (state.ExitCode == 0) return status;
                JsonObject Condition(string type) => new()
                {
                    ["type"] = type, ["status"] = "True", ["reason"] = "BackoffLimitExceeded",
                    ["message"] = "Job has reached the specified backoff limit", ["lastTransitionTime"] = now, ["lastProbeTime"] = now,
                };
                return new JsonObject
                {
                    ["startTime"] = obj["status"]?["startTime"]?.DeepClone() ?? now, ["failed"] = 1, ["active"] = 0, ["ready"] = 0,
                    ["conditions"] = new JsonArray(Condition("FailureTarget"), Condition("Failed")),
                };
            }
            default:
                return status;
        }
    }

    private static JsonObject Terminated(ContainerState state) => new()
    {
        ["exitCode"] = state.ExitCode, ["reason"] = state.ExitCode == 0 ? "Completed" : "Error", ["startedAt"] = state.StartedAt, ["finishedAt"] = state.FinishedAt,
    };

    /// <summary>The pod template's hash, as the pods' template-hash annotation and the containers' template label carry it.</summary>
    private static string TemplateHash(JsonObject? template) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes((template ?? new JsonObject()).ToJsonString())))[..10].ToLowerInvariant();

    public async Task RunAsync(CancellationToken ct)
    {
        _stopping = ct;
        while (!ct.IsCancellationRequested)
        {
            try { await ReconcileAsync(ct); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e) { Console.Error.WriteLine($"kubelet: {e.GetType().Name}: {e.Message}"); }
            try { await Task.Delay(300, ct); } catch (OperationCanceledException) { break; }
        }
    }

    private async Task ReconcileAsync(CancellationToken ct)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        await ReconcileBarePodsAsync(wanted, ct);
        if (!podsOnly) await ReconcileWorkloadsAndJobsAsync(wanted, ct);

        // Containers whose workload, Job or pod is gone.
        var ours = JsonNode.Parse(await _http.GetStringAsync($"/containers/json?all=1&filters={Uri.EscapeDataString($"{{\"label\":[\"{Label}={prefix}\"]}}")}", ct)) as JsonArray;
        foreach (var c in ours?.OfType<JsonObject>() ?? [])
        {
            var name = ((string?)c["Names"]?[0])?.TrimStart('/');
            if (name is not null && !wanted.Contains(name))
            {
                await RemoveAsync(name, ct);
                _states.TryRemove(name, out _);
                lock (_readiness) _readiness.Remove(name);
            }
        }
        // Workloads that are gone, and whose container never existed (its creation failed), are forgotten too.
        foreach (var name in _states.Keys.Concat(_observed.Keys).Where(n => !wanted.Contains(n)).ToList())
        {
            _states.TryRemove(name, out _);
            lock (_readiness) _readiness.Remove(name);
            _observed.TryRemove(name, out _);
            _retryAt.Remove(name);
        }
    }

    /// <summary>Pods created directly run once as a container of their own; a pod whose image cannot be pulled waits with the reason.</summary>
    private async Task ReconcileBarePodsAsync(HashSet<string> wanted, CancellationToken ct)
    {
        foreach (var pod in store.List(Pods.Type, null, Selector.Parse(null, null)).Items.Where(IsBare))
        {
            var ns = (string)pod["metadata"]!["namespace"]!;
            var name = (string)pod["metadata"]!["name"]!;
            var container = BarePodContainer(ns, pod);
            wanted.Add(container);
            var template = new JsonObject { ["spec"] = pod["spec"]?.DeepClone() ?? new JsonObject() };
            var inspect = await InspectAsync(container, ct);
            var changed = false;
            if (inspect is null && _states.GetValueOrDefault(container) is null)
            {
                try
                {
                    if (await CreateAsync(container, ns, template, $"{ns}/Pod/{name}", "pod", restart: false, ct)) inspect = await InspectAsync(container, ct);
                    else changed = Record(container, Waiting(template, "pod", "CreateContainerConfigError", "a Secret or ConfigMap (or one of its keys) that the container's environment names does not exist"));
                }
                catch (PodStartException e)
                {
                    changed = Record(container, Waiting(template, "pod", e.Reason, e.Message));
                }
            }
            if (inspect is not null) changed |= Update(container, inspect);
            if (changed) try { store.Refresh(Pods.Type, ns, name); } catch (ApiException) { }
        }
    }

    private async Task ReconcileWorkloadsAndJobsAsync(HashSet<string> wanted, CancellationToken ct)
    {
        foreach (var type in new[] { Deployments, StatefulSets })
            foreach (var workload in store.List(type, null, Selector.Parse(null, null)).Items)
            {
                var ns = (string)workload["metadata"]!["namespace"]!;
                var name = (string)workload["metadata"]!["name"]!;
                var container = WorkloadContainer(ns, name);
                wanted.Add(container);
                var template = workload["spec"]?["template"] as JsonObject ?? new JsonObject();
                var hash = TemplateHash(template);
                var replicas = workload["spec"]?["replicas"]?.GetValue<long>() ?? 1;
                var inspect = await InspectAsync(container, ct);
                if (inspect is not null && (string?)inspect["Config"]?["Labels"]?[TemplateLabel] != hash)
                {
                    await RemoveAsync(container, ct);
                    inspect = null;
                }
                ContainerState? failed = null;
                if (replicas > 0 && inspect is null)
                {
                    var previous = _states.GetValueOrDefault(container);
                    if (_retryAt.TryGetValue(container, out var retry) && DateTime.UtcNow < retry && previous?.Template == hash) failed = previous;
                    else
                    {
                        try
                        {
                            if (await CreateAsync(container, ns, template, $"{ns}/{type.Kind}/{name}", hash, restart: true, ct))
                            {
                                _retryAt.Remove(container);
                                inspect = await InspectAsync(container, ct);
                            }
                            else failed = Waiting(template, hash, "CreateContainerConfigError", "a Secret or ConfigMap (or one of its keys) that the container's environment names does not exist");
                        }
                        catch (PodStartException e)
                        {
                            // As a kubelet: ErrImagePull first, then ImagePullBackOff while it keeps trying.
                            var reason = previous is { WaitingReason: "ErrImagePull" or "ImagePullBackOff" } && previous.Template == hash ? e.BackOffReason : e.Reason;
                            failed = Waiting(template, hash, reason, e.Message);
                            _retryAt[container] = DateTime.UtcNow.AddSeconds(5);
                        }
                    }
                }
                else if (replicas > 0 && inspect?["State"]?["Running"]?.GetValue<bool>() == false && inspect["State"]?["Restarting"]?.GetValue<bool>() != true
                         && (string?)inspect["State"]?["Status"] is "exited" or "created" && _stopped.Remove(container))
                {
                    await PostAsync($"/containers/{container}/start", null, ct);
                    inspect = await InspectAsync(container, ct);
                }
                else if (replicas == 0 && inspect?["State"]?["Running"]?.GetValue<bool>() == true)
                {
                    await PostAsync($"/containers/{container}/stop?t=10", null, ct);
                    _stopped.Add(container);
                    inspect = await InspectAsync(container, ct);
                }
                var changed = failed is null ? Update(container, inspect) : Record(container, failed);
                var generation = workload["metadata"]?["generation"]?.GetValue<long>() ?? 1;
                if (_observed.GetValueOrDefault(container) != generation)
                {
                    _observed[container] = generation;
                    changed = true;
                }
                if (changed)
                {
                    store.Refresh(type, ns, name);
                    foreach (var pod in store.List(Pods.Type, ns, Selector.Parse(null, null)).Items.Where(p => Pods.OwnerUid(p) == (string?)workload["metadata"]!["uid"]))
                        store.Refresh(Pods.Type, ns, (string)pod["metadata"]!["name"]!);
                }
            }

        foreach (var job in store.List(Jobs, null, Selector.Parse(null, null)).Items)
        {
            var ns = (string)job["metadata"]!["namespace"]!;
            var name = (string)job["metadata"]!["name"]!;
            var container = JobContainer(ns, job);
            wanted.Add(container);
            var uid = (string)job["metadata"]!["uid"]!;
            var template = job["spec"]?["template"] as JsonObject ?? new JsonObject();
            var inspect = await InspectAsync(container, ct);
            var podName = $"{name}-{uid[..5]}";
            if (inspect is null && _states.GetValueOrDefault(container) is null)
            {
                var labels = template["metadata"]?["labels"]?.DeepClone() as JsonObject ?? new JsonObject();
                labels["job-name"] = name;
                labels["batch.kubernetes.io/job-name"] = name;
                labels["controller-uid"] = uid;
                labels["batch.kubernetes.io/controller-uid"] = uid;
                try
                {
                    store.Create(Pods.Type, ns, new JsonObject
                    {
                        ["metadata"] = new JsonObject
                        {
                            ["name"] = podName, ["labels"] = labels,
                            ["annotations"] = new JsonObject { [ContainerAnnotation] = container },
                            ["ownerReferences"] = new JsonArray(new JsonObject
                            {
                                ["apiVersion"] = "batch/v1", ["kind"] = "Job", ["name"] = name, ["uid"] = uid, ["controller"] = true, ["blockOwnerDeletion"] = true,
                            }),
                        },
                        ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject(),
                    }, dryRun: false);
                }
                catch (ApiException e) when (e.Code == 409) { }
                try
                {
                    if (await CreateAsync(container, ns, template, $"{ns}/Job/{name}", "job", restart: false, ct))
                        inspect = await InspectAsync(container, ct);
                }
                catch (PodStartException e)
                {
                    // The Job's pod waits with the reason (not retried here: its image will not appear later in a test).
                    Record(container, Waiting(template, "job", e.Reason, e.Message));
                    try { store.Refresh(Pods.Type, ns, podName); } catch (ApiException) { }
                }
            }
            if (inspect is not null && Update(container, inspect))
            {
                store.Refresh(Jobs, ns, name);
                try { store.Refresh(Pods.Type, ns, podName); } catch (ApiException) { }
            }
        }
    }

    private readonly HashSet<string> _stopped = new(StringComparer.Ordinal);

    /// <summary>Records the container's state; true when it changed.</summary>
    private bool Update(string container, JsonObject? inspect)
    {
        var previous = _states.GetValueOrDefault(container);
        // Docker says Running while it waits to restart a container that exited: a kubelet says CrashLoopBackOff.
        var running = inspect?["State"]?["Running"]?.GetValue<bool>() == true && inspect["State"]?["Restarting"]?.GetValue<bool>() != true;
        var template = (string?)inspect?["Config"]?["Labels"]?[TemplateLabel];
        long? exitCode = inspect is null || running || (string?)inspect["State"]?["Status"] == "created" ? null : inspect["State"]?["ExitCode"]?.GetValue<long>();
        var state = inspect is null
            ? new ContainerState(false, false, false, 0, null, null, null, "")
            : new ContainerState(true, running,
                running && IsReady(container, inspect),
                inspect["RestartCount"]?.GetValue<long>() ?? 0, exitCode,
                (string?)inspect["State"]?["StartedAt"], (string?)inspect["State"]?["FinishedAt"], (string?)inspect["Config"]?["Image"] ?? "",
                template, LastExitCode: exitCode ?? (previous?.Template == template ? previous?.LastExitCode : null));
        return Record(container, state);
    }

    private bool Record(string container, ContainerState state)
    {
        var previous = _states.GetValueOrDefault(container);
        _states[container] = state;
        return previous != state;
    }

    /// <summary>
    /// Readiness is the image's healthcheck, run by this kubelet rather than by Docker: every second from the container's
    /// start until it first passes, then no more for that run (a restart starts over). Docker running it every second for
    /// the pods' whole life cost about 0.13 s of CPU per check (a runc exec): seven pods kept half of this machine's two
    /// cores busy while a release sat idle. Docker's own check, with 60 retries, never turned a ready pod back within a test either.
    /// </summary>
    private sealed record Readiness(string StartedAt, bool Ready, bool Probing, DateTime NextProbe);

    private static readonly TimeSpan ProbePeriod = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(4);
    private readonly Dictionary<string, Readiness> _readiness = new(StringComparer.Ordinal);
    /// <summary>The healthcheck command of each image (by image id), as an exec command; null when the image has none.</summary>
    private readonly ConcurrentDictionary<string, string[]?> _imageChecks = new(StringComparer.Ordinal);
    private CancellationToken _stopping;

    /// <summary>Whether this run of the container has passed its check; starts a probe when one is due.</summary>
    private bool IsReady(string container, JsonObject inspect)
    {
        var startedAt = (string?)inspect["State"]?["StartedAt"] ?? "";
        var image = (string?)inspect["Image"] ?? "";
        // An image with no healthcheck is ready once running, as Docker reports no health for it (its check is looked up
        // when the container is created).
        if (_imageChecks.TryGetValue(image, out var check) && check is null) return true;
        lock (_readiness)
        {
            if (!_readiness.TryGetValue(container, out var readiness) || readiness.StartedAt != startedAt)
                readiness = new Readiness(startedAt, false, false, DateTime.MinValue);
            var due = !readiness.Ready && !readiness.Probing && DateTime.UtcNow >= readiness.NextProbe;
            _readiness[container] = due ? readiness with { Probing = true } : readiness;
            // On the thread pool: a probe that ends at once (an image with no check) must not record its result under this lock first.
            if (due)
            {
                var id = (string)inspect["Id"]!;
                _ = Task.Run(() => ProbeAsync(container, id, image, startedAt));
            }
            return readiness.Ready;
        }
    }

    private async Task ProbeAsync(string container, string id, string image, string startedAt)
    {
        var passed = false;
        try { passed = await CheckAsync(id, image, _stopping); }
        // Whatever goes wrong (the container gone, Docker's 409 while it restarts) is a failed check, tried again in a second.
        catch (Exception) { }
        lock (_readiness)
            if (_readiness.TryGetValue(container, out var readiness) && readiness.StartedAt == startedAt)
                _readiness[container] = readiness with { Ready = passed, Probing = false, NextProbe = DateTime.UtcNow + ProbePeriod };
    }

    /// <summary>The image's healthcheck as an exec command (null: none), cached by image id; IMAGE is a name or an id.</summary>
    private async Task<string[]?> ImageCheckAsync(string image, CancellationToken ct)
    {
        if (_imageChecks.TryGetValue(image, out var command)) return command;
        var config = JsonNode.Parse(await _http.GetStringAsync($"/images/{Uri.EscapeDataString(image)}/json", ct));
        var test = (config?["Config"]?["Healthcheck"]?["Test"] as JsonArray)?.Select(t => (string?)t ?? "").ToArray() ?? [];
        command = test switch
        {
            ["CMD", .. var args] when args.Length > 0 => args,
            ["CMD-SHELL", var line] => ["/bin/sh", "-c", line],
            _ => null,
        };
        if ((string?)config?["Id"] is { } id) _imageChecks[id] = command;
        return command;
    }

    /// <summary>Runs the image's healthcheck in the container (docker exec, as Docker would): true when it exits 0 in time.</summary>
    private async Task<bool> CheckAsync(string id, string image, CancellationToken ct)
    {
        var command = await ImageCheckAsync(image, ct);
        if (command is null) return true;
        using var create = await _http.PostAsync($"/containers/{id}/exec",
            new StringContent(new JsonObject { ["Cmd"] = new JsonArray(command.Select(c => (JsonNode)c).ToArray()) }.ToJsonString(), Encoding.UTF8, "application/json"), ct);
        if (!create.IsSuccessStatusCode) return false;
        var exec = (string)JsonNode.Parse(await create.Content.ReadAsStringAsync(ct))!["Id"]!;
        using (var start = await _http.PostAsync($"/exec/{exec}/start", new StringContent("{\"Detach\":true}", Encoding.UTF8, "application/json"), ct))
            if (!start.IsSuccessStatusCode) return false;
        var deadline = DateTime.UtcNow + ProbeTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var state = JsonNode.Parse(await _http.GetStringAsync($"/exec/{exec}/json", ct));
            if (state?["Running"]?.GetValue<bool>() == false) return state["ExitCode"]?.GetValue<long>() == 0;
            await Task.Delay(100, ct);
        }
        return false;
    }

    private static ContainerState Waiting(JsonObject template, string hash, string reason, string message) =>
        new(false, false, false, 0, null, null, null, (string?)template["spec"]?["containers"]?[0]?["image"] ?? "", hash, reason, message);

    /// <summary>A container that could not be created: the kubelet's waiting reason for it the first time and while it retries.</summary>
    private sealed class PodStartException(string reason, string backOffReason, string message) : Exception(message)
    {
        public string Reason { get; } = reason;
        public string BackOffReason { get; } = backOffReason;
    }

    private async Task<JsonObject?> InspectAsync(string container, CancellationToken ct)
    {
        using var response = await _http.GetAsync($"/containers/{container}/json", ct);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(ct)) as JsonObject;
    }

    private async Task RemoveAsync(string container, CancellationToken ct)
    {
        using var _ = await _http.DeleteAsync($"/containers/{container}?force=1&v=1", ct);
        _stopped.Remove(container);
    }

    private async Task PostAsync(string path, JsonObject? body, CancellationToken ct)
    {
        using var response = await _http.PostAsync(path, body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct);
        if (!response.IsSuccessStatusCode && response.StatusCode != System.Net.HttpStatusCode.NotModified)
            throw new IOException($"docker {path}: {await response.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary>docker run of the pod template's first container; false when its configuration is not complete yet (a Secret missing).</summary>
    private async Task<bool> CreateAsync(string container, string ns, JsonObject template, string owner, string hash, bool restart, CancellationToken ct)
    {
        var spec = template["spec"]?["containers"]?[0] as JsonObject ?? throw new InvalidOperationException($"{owner} has no container");
        var image = (string)spec["image"]!;
        var env = Environment(ns, spec);
        if (env is null) return false;
        var hosts = store.List(Services, ns, Selector.Parse(null, null)).Items
            .Select(s => (string)s["metadata"]!["name"]!).SelectMany(s => new[] { $"{s}:127.0.0.1", $"{s}.{ns}:127.0.0.1", $"{s}.{ns}.svc:127.0.0.1", $"{s}.{ns}.svc.cluster.local:127.0.0.1" });
        var body = new JsonObject
        {
            ["Image"] = image,
            ["Env"] = new JsonArray(env.Select(p => (JsonNode)$"{p.Key}={p.Value}").ToArray()),
            ["Labels"] = new JsonObject { [Label] = prefix, [OwnerLabel] = owner, [TemplateLabel] = hash },
            // Docker runs no healthcheck: the kubelet runs the image's itself until it first passes (see Readiness).
            ["Healthcheck"] = new JsonObject { ["Test"] = new JsonArray("NONE") },
            ["HostConfig"] = new JsonObject
            {
                ["NetworkMode"] = "host",
                ["ExtraHosts"] = new JsonArray(hosts.Select(h => (JsonNode)h).ToArray()),
                ["RestartPolicy"] = restart ? new JsonObject { ["Name"] = "always" } : new JsonObject { ["Name"] = "no" },
            },
        };
        // A PersistentVolumeClaim is a Docker volume named after it (labelled as the containers are), mounted where the pod
        // template says: it outlives the container, as a claim outlives its pods, and goes when the server stops. Other
        // volume kinds are not mounted.
        var volumes = (template["spec"]?["volumes"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(v => v["persistentVolumeClaim"]?["claimName"] is not null)
            .ToDictionary(v => (string)v["name"]!, v => (string)v["persistentVolumeClaim"]!["claimName"]!);
        var mounts = (spec["volumeMounts"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(m => volumes.ContainsKey((string?)m["name"] ?? ""))
            .Select(m => (JsonNode)new JsonObject
            {
                ["Type"] = "volume", ["Source"] = $"{prefix}-{ns}-{volumes[(string)m["name"]!]}", ["Target"] = (string?)m["mountPath"],
                ["VolumeOptions"] = new JsonObject { ["Labels"] = new JsonObject { [Label] = prefix } },
            }).ToArray();
        if (mounts.Length > 0) body["HostConfig"]!["Mounts"] = new JsonArray(mounts);
        // Kubernetes' command replaces the image's entrypoint, its args the image's cmd.
        if (spec["command"] is JsonArray command) { body["Entrypoint"] = command.DeepClone(); body["Cmd"] = spec["args"]?.DeepClone() ?? new JsonArray(); }
        else if (spec["args"] is JsonArray args) body["Cmd"] = args.DeepClone();
        var path = $"/containers/create?name={Uri.EscapeDataString(container)}";
        using (var response = await _http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct))
        {
            if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                var colon = image.LastIndexOf(':');
                var (repository, tag) = colon > image.LastIndexOf('/') ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
                using var pull = await _http.PostAsync($"/images/create?fromImage={Uri.EscapeDataString(repository)}&tag={Uri.EscapeDataString(tag)}", null, ct);
                // The pull reports failure as its status or as an "error" line of its progress stream.
                var progress = await pull.Content.ReadAsStringAsync(ct);
                static string? Field(string json, string name)
                {
                    try { return (string?)(JsonNode.Parse(json) as JsonObject)?[name]; }
                    catch (System.Text.Json.JsonException) { return null; }
                }
                var pullError = !pull.IsSuccessStatusCode ? Field(progress, "message") ?? progress.Trim()
                    : progress.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('{')).Select(l => Field(l, "error")).LastOrDefault(e => e is not null);
                if (pullError is not null)
                    throw new PodStartException("ErrImagePull", "ImagePullBackOff", $"Failed to pull image \"{image}\": {pullError}");
                using var again = await _http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct);
                if (!again.IsSuccessStatusCode) throw new IOException($"docker create {container}: {await again.Content.ReadAsStringAsync(ct)}");
            }
            else if (!response.IsSuccessStatusCode) throw new IOException($"docker create {container}: {await response.Content.ReadAsStringAsync(ct)}");
        }
        try { await ImageCheckAsync(image, ct); }
        catch (Exception e) when (e is HttpRequestException or IOException or System.Text.Json.JsonException) { } // the first probe looks it up again
        await PostAsync($"/containers/{container}/start", null, ct);
        return true;
    }

    /// <summary>The container's environment: env (values, Secret and ConfigMap keys) over envFrom; null when a reference is missing.</summary>
    private Dictionary<string, string>? Environment(string ns, JsonObject spec)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonObject? Data(ResourceType type, string? name)
        {
            try { return name is null ? null : store.Get(type, ns, name)["data"] as JsonObject ?? new JsonObject(); }
            catch (ApiException) { return null; }
        }
        static string Decode(ResourceType type, JsonNode? value) =>
            type == Secrets ? Encoding.UTF8.GetString(Convert.FromBase64String((string?)value ?? "")) : (string?)value ?? "";
        foreach (var from in spec["envFrom"] as JsonArray ?? [])
        {
            var (type, reference) = from?["configMapRef"] is JsonObject cm ? (ConfigMaps, cm) : (Secrets, from?["secretRef"] as JsonObject);
            var data = Data(type, (string?)reference?["name"]);
            if (data is null) { if (reference?["optional"]?.GetValue<bool>() == true) continue; return null; }
            foreach (var (key, value) in data) env[(string?)from?["prefix"] + key] = Decode(type, value);
        }
        foreach (var item in (spec["env"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var name = (string)item["name"]!;
            if (item["valueFrom"] is JsonObject valueFrom)
            {
                var (type, reference) = valueFrom["secretKeyRef"] is JsonObject s ? (Secrets, s) : (ConfigMaps, valueFrom["configMapKeyRef"] as JsonObject);
                var data = Data(type, (string?)reference?["name"]);
                if (data?[(string?)reference?["key"] ?? ""] is not JsonNode value) { if (reference?["optional"]?.GetValue<bool>() == true) continue; return null; }
                env[name] = Decode(type, value);
            }
            else env[name] = (string?)item["value"] ?? "";
        }
        return env;
    }

    /// <summary>Removes every container of this server (on shutdown).</summary>
    public async Task RemoveAllAsync()
    {
        var filter = Uri.EscapeDataString($"{{\"label\":[\"{Label}={prefix}\"]}}");
        var ours = JsonNode.Parse(await _http.GetStringAsync($"/containers/json?all=1&filters={filter}")) as JsonArray;
        await Task.WhenAll((ours?.OfType<JsonObject>() ?? []).Select(c => _http.DeleteAsync($"/containers/{(string?)c["Id"]}?force=1&v=1")));
        // The claims' volumes, once no container uses them.
        var volumes = JsonNode.Parse(await _http.GetStringAsync($"/volumes?filters={filter}"))?["Volumes"] as JsonArray;
        await Task.WhenAll((volumes?.OfType<JsonObject>() ?? []).Select(v => _http.DeleteAsync($"/volumes/{Uri.EscapeDataString((string)v["Name"]!)}")));
    }
}

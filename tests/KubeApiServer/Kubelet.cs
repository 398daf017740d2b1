using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace KubeApiServer;

/// <summary>
/// With --kubelet PREFIX the server runs what a kubelet would, as Docker containers of their own image (host network,
/// no Docker network): one container per Deployment / StatefulSet (its pods share it; replicas 0 stops it), replaced
/// when the pod template changes (a new image), and one per Job, run once: the Job succeeds or fails with its exit code.
/// A workload is ready when its container runs and its healthcheck (the image's, every second) says healthy; the
/// workload's, pod's and Job's status follow, so helm --wait and hook waits see the real application.
/// Service names resolve to 127.0.0.1 in the containers (--add-host), as cluster DNS would lead to the pods.
/// Containers are named PREFIX-NAMESPACE-NAME, labelled io.upgradeops.kubetest=PREFIX, and removed when the server stops.
/// </summary>
public sealed class Kubelet(string prefix, string socketPath, Store store)
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
    public sealed record ContainerState(bool Exists, bool Running, bool Ready, long RestartCount, long? ExitCode, string? StartedAt, string? FinishedAt, string Image);

    private readonly ConcurrentDictionary<string, ContainerState> _states = new(StringComparer.Ordinal);
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

    /// <summary>The container behind a pod: a Job's pod names it; a workload's pod is its workload's.</summary>
    public string? ContainerFor(string ns, JsonObject pod) =>
        (string?)pod["metadata"]?["annotations"]?[ContainerAnnotation] ?? (Pods.Owner(pod) is { } owner ? WorkloadContainer(ns, owner) : null);

    /// <summary>The status the kubelet observes, over the store's default (which says ready at once); null = the default.</summary>
    public JsonObject? Observe(string kind, JsonObject obj, JsonObject? status)
    {
        var ns = (string?)obj["metadata"]?["namespace"];
        if (ns is null || status is null) return status;
        switch (kind)
        {
            case "Deployment" or "StatefulSet":
            {
                var replicas = obj["spec"]?["replicas"]?.GetValue<long>() ?? 1;
                var state = _states.GetValueOrDefault(WorkloadContainer(ns, (string)obj["metadata"]!["name"]!));
                var ready = replicas == 0 || state is { Ready: true } && state.Image == Image(obj["spec"]?["template"] as JsonObject);
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
                var isJob = obj["metadata"]?["annotations"]?[ContainerAnnotation] is not null;
                var ready = state is { Ready: true };
                status["phase"] = state switch
                {
                    null => "Pending",
                    { Running: true } => "Running",
                    { ExitCode: 0 } when isJob => "Succeeded",
                    { ExitCode: not null } when isJob => "Failed",
                    _ => "Running",
                };
                foreach (var c in (status["conditions"] as JsonArray ?? new JsonArray()).OfType<JsonObject>()) c["status"] = ready ? "True" : "False";
                var name = (string?)obj["spec"]?["containers"]?[0]?["name"] ?? "main";
                var containerStatus = new JsonObject
                {
                    ["name"] = name, ["ready"] = ready, ["restartCount"] = state?.RestartCount ?? 0, ["image"] = state?.Image ?? "",
                    ["started"] = state?.Running ?? false,
                };
                containerStatus["state"] = state switch
                {
                    null => new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating" } },
                    { Running: true } => new JsonObject { ["running"] = new JsonObject { ["startedAt"] = state.StartedAt } },
                    { ExitCode: not null } when isJob => new JsonObject { ["terminated"] = Terminated(state) },
                    _ => new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff" } },
                };
                if (!isJob && state is { Running: false, ExitCode: not null })
                    containerStatus["lastState"] = new JsonObject { ["terminated"] = Terminated(state) };
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

    private static string Image(JsonObject? template) => (string?)template?["spec"]?["containers"]?[0]?["image"] ?? "";

    public async Task RunAsync(CancellationToken ct)
    {
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
        foreach (var type in new[] { Deployments, StatefulSets })
            foreach (var workload in store.List(type, null, Selector.Parse(null, null)).Items)
            {
                var ns = (string)workload["metadata"]!["namespace"]!;
                var name = (string)workload["metadata"]!["name"]!;
                var container = WorkloadContainer(ns, name);
                wanted.Add(container);
                var template = workload["spec"]?["template"] as JsonObject ?? new JsonObject();
                var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(template.ToJsonString())))[..10].ToLowerInvariant();
                var replicas = workload["spec"]?["replicas"]?.GetValue<long>() ?? 1;
                var inspect = await InspectAsync(container, ct);
                if (inspect is not null && (string?)inspect["Config"]?["Labels"]?[TemplateLabel] != hash)
                {
                    await RemoveAsync(container, ct);
                    inspect = null;
                }
                if (replicas > 0 && inspect is null)
                {
                    if (await CreateAsync(container, ns, template, $"{ns}/{type.Kind}/{name}", hash, restart: true, ct))
                        inspect = await InspectAsync(container, ct);
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
                if (Update(container, inspect))
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
                if (await CreateAsync(container, ns, template, $"{ns}/Job/{name}", "job", restart: false, ct))
                    inspect = await InspectAsync(container, ct);
            }
            if (inspect is not null && Update(container, inspect))
            {
                store.Refresh(Jobs, ns, name);
                try { store.Refresh(Pods.Type, ns, podName); } catch (ApiException) { }
            }
        }

        // Containers whose workload or Job is gone.
        var ours = JsonNode.Parse(await _http.GetStringAsync($"/containers/json?all=1&filters={Uri.EscapeDataString($"{{\"label\":[\"{Label}={prefix}\"]}}")}", ct)) as JsonArray;
        foreach (var c in ours?.OfType<JsonObject>() ?? [])
        {
            var name = ((string?)c["Names"]?[0])?.TrimStart('/');
            if (name is not null && !wanted.Contains(name))
            {
                await RemoveAsync(name, ct);
                _states.TryRemove(name, out _);
            }
        }
    }

    private readonly HashSet<string> _stopped = new(StringComparer.Ordinal);

    /// <summary>Records the container's state; true when it changed.</summary>
    private bool Update(string container, JsonObject? inspect)
    {
        var state = inspect is null
            ? new ContainerState(false, false, false, 0, null, null, null, "")
            : new ContainerState(true,
                inspect["State"]?["Running"]?.GetValue<bool>() == true,
                inspect["State"]?["Running"]?.GetValue<bool>() == true && (string?)inspect["State"]?["Health"]?["Status"] is null or "healthy",
                inspect["RestartCount"]?.GetValue<long>() ?? 0,
                inspect["State"]?["Running"]?.GetValue<bool>() == true || (string?)inspect["State"]?["Status"] == "created" ? null : inspect["State"]?["ExitCode"]?.GetValue<long>(),
                (string?)inspect["State"]?["StartedAt"], (string?)inspect["State"]?["FinishedAt"], (string?)inspect["Config"]?["Image"] ?? "");
        var previous = _states.GetValueOrDefault(container);
        _states[container] = state;
        return previous != state;
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
            .Select(s => (string)s["metadata"]!["name"]!).SelectMany(s => new[] { $"{s}:127.0.0.1", $"{s}.{ns}.svc.cluster.local:127.0.0.1" });
        var body = new JsonObject
        {
            ["Image"] = image,
            ["Env"] = new JsonArray(env.Select(p => (JsonNode)$"{p.Key}={p.Value}").ToArray()),
            ["Labels"] = new JsonObject { [Label] = prefix, [OwnerLabel] = owner, [TemplateLabel] = hash },
            // The image's healthcheck, every second: readiness follows it without waiting for the image's slower interval.
            ["Healthcheck"] = new JsonObject { ["Interval"] = 1_000_000_000L, ["StartPeriod"] = 1_000_000_000L, ["Timeout"] = 4_000_000_000L, ["Retries"] = 60 },
            ["HostConfig"] = new JsonObject
            {
                ["NetworkMode"] = "host",
                ["ExtraHosts"] = new JsonArray(hosts.Select(h => (JsonNode)h).ToArray()),
                ["RestartPolicy"] = restart ? new JsonObject { ["Name"] = "always" } : new JsonObject { ["Name"] = "no" },
            },
        };
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
                await pull.Content.ReadAsStringAsync(ct);
                using var again = await _http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct);
                if (!again.IsSuccessStatusCode) throw new IOException($"docker create {container}: {await again.Content.ReadAsStringAsync(ct)}");
            }
            else if (!response.IsSuccessStatusCode) throw new IOException($"docker create {container}: {await response.Content.ReadAsStringAsync(ct)}");
        }
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
        var ours = JsonNode.Parse(await _http.GetStringAsync($"/containers/json?all=1&filters={Uri.EscapeDataString($"{{\"label\":[\"{Label}={prefix}\"]}}")}")) as JsonArray;
        await Task.WhenAll((ours?.OfType<JsonObject>() ?? []).Select(c => _http.DeleteAsync($"/containers/{(string?)c["Id"]}?force=1&v=1")));
    }
}

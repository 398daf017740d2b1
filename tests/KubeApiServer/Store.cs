using System.Text.Json.Nodes;

namespace KubeApiServer;

public sealed record WatchEvent(long ResourceVersion, string Type, string TypeKey, JsonObject Object);

public sealed class ApiException(int code, string reason, string message) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
}

/// <summary>
/// The in-memory object store: one resourceVersion counter for everything, an event log that watches replay,
/// and the status a controller would write (workloads ready at once, Jobs succeeded) so that waits complete.
/// </summary>
public sealed class Store
{
    private readonly object _gate = new();
    private readonly Dictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly List<WatchEvent> _log = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _resourceVersion = 100;

    private static string Key(ResourceType type, string? ns, string name) => $"{type.Key}/{ns}/{name}";

    public long ResourceVersion { get { lock (_gate) return _resourceVersion; } }

    /// <summary>With --kubelet: what runs in Docker decides the status of workloads, pods and Jobs (see Kubelet).</summary>
    public Kubelet? Kubelet { get; set; }

    /// <summary>The status written anew from what the kubelet observes; an event only when it changed (timestamps aside).</summary>
    public void Refresh(ResourceType type, string? ns, string name)
    {
        lock (_gate)
        {
            if (!_objects.TryGetValue(Key(type, ns, name), out var previous)) throw NotFound(type, name);
            var obj = (JsonObject)previous.DeepClone();
            Normalize(type, ns, obj, previous);
            static string Stable(JsonNode? status) => System.Text.RegularExpressions.Regex.Replace(status?.ToJsonString() ?? "", "\\d{4}-\\d\\d-\\d\\dT[^\"]*", "");
            if (Stable(obj["status"]) == Stable(previous["status"])) return;
            obj["metadata"]!["resourceVersion"] = (++_resourceVersion).ToString();
            _objects[Key(type, ns, name)] = obj;
            Publish(new WatchEvent(_resourceVersion, "MODIFIED", type.Key, (JsonObject)obj.DeepClone()));
        }
    }

    public JsonObject Get(ResourceType type, string? ns, string name)
    {
        lock (_gate)
        {
            return _objects.TryGetValue(Key(type, ns, name), out var obj)
                ? (JsonObject)obj.DeepClone()
                : throw NotFound(type, name);
        }
    }

    public (List<JsonObject> Items, long ResourceVersion) List(ResourceType type, string? ns, Selector selector)
    {
        lock (_gate)
        {
            var prefix = ns is null ? $"{type.Key}/" : $"{type.Key}/{ns}/";
            var items = _objects.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal) && selector.Matches(p.Value))
                .OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (JsonObject)p.Value.DeepClone()).ToList();
            return (items, _resourceVersion);
        }
    }

    public JsonObject Create(ResourceType type, string? ns, JsonObject obj, bool dryRun)
    {
        lock (_gate)
        {
            var meta = Metadata(obj);
            var name = (string?)meta["name"];
            if (string.IsNullOrEmpty(name) && meta["generateName"] is JsonNode g)
                meta["name"] = name = (string)g! + Guid.NewGuid().ToString("n")[..5];
            if (string.IsNullOrEmpty(name)) throw new ApiException(422, "Invalid", $"{type.Plural}: metadata.name: Required value");
            if (_objects.ContainsKey(Key(type, ns, name)))
                throw new ApiException(409, "AlreadyExists", $"{type.Plural} \"{name}\" already exists");
            Normalize(type, ns, obj, previous: null);
            return dryRun ? obj : Commit(type, ns, name, obj, "ADDED");
        }
    }

    /// <summary>PUT: replaces the object; a resourceVersion in the body must match (optimistic concurrency).</summary>
    public JsonObject Replace(ResourceType type, string? ns, string name, JsonObject obj, bool dryRun)
    {
        lock (_gate)
        {
            if (!_objects.TryGetValue(Key(type, ns, name), out var previous)) throw NotFound(type, name);
            var rv = (string?)Metadata(obj)["resourceVersion"];
            if (!string.IsNullOrEmpty(rv) && rv != (string?)previous["metadata"]!["resourceVersion"])
                throw new ApiException(409, "Conflict", $"Operation cannot be fulfilled on {type.Plural} \"{name}\": the object has been modified; please apply your changes to the latest version and try again");
            Metadata(obj)["name"] = name;
            Normalize(type, ns, obj, previous);
            return dryRun ? obj : Commit(type, ns, name, obj, "MODIFIED");
        }
    }

    /// <summary>PATCH of any kind: the caller turns the current object (or null) into the new one.</summary>
    public JsonObject Patch(ResourceType type, string? ns, string name, Func<JsonObject?, JsonObject> patch, bool createIfMissing, bool dryRun)
    {
        lock (_gate)
        {
            _objects.TryGetValue(Key(type, ns, name), out var previous);
            if (previous is null && !createIfMissing) throw NotFound(type, name);
            var obj = patch(previous is null ? null : (JsonObject)previous.DeepClone());
            Metadata(obj)["name"] = name;
            Normalize(type, ns, obj, previous);
            return dryRun ? obj : Commit(type, ns, name, obj, previous is null ? "ADDED" : "MODIFIED");
        }
    }

    public JsonObject Delete(ResourceType type, string? ns, string name, bool dryRun)
    {
        lock (_gate)
        {
            var key = Key(type, ns, name);
            if (!_objects.TryGetValue(key, out var obj)) throw NotFound(type, name);
            if (dryRun) return (JsonObject)obj.DeepClone();
            _objects.Remove(key);
            var deleted = (JsonObject)obj.DeepClone();
            deleted["metadata"]!["resourceVersion"] = (++_resourceVersion).ToString();
            deleted["metadata"]!["deletionTimestamp"] = Now();
            Publish(new WatchEvent(_resourceVersion, "DELETED", type.Key, deleted));
            // Garbage collection of the pods it owned.
            if ((Pods.IsWorkload(type) || type.Kind == "Job") && ns is not null) SyncPods(type, ns, null, (string?)obj["metadata"]?["uid"]);
            // A namespace takes everything in it along (at once here; a real cluster finalizes it over a while).
            if (type.Kind == "Namespace")
                foreach (var inside in ResourceTypes.All.Where(t => t.Namespaced))
                    foreach (var item in _objects.Where(p => p.Key.StartsWith(Key(inside, name, ""), StringComparison.Ordinal)).Select(p => p.Value).ToList())
                        Delete(inside, name, (string)item["metadata"]!["name"]!, dryRun: false);
            return (JsonObject)deleted.DeepClone();
        }
    }

    /// <summary>Events after a resourceVersion for one kind, and a task that completes at the next change.</summary>
    public (List<WatchEvent> Events, Task Changed) EventsAfter(ResourceType type, long resourceVersion)
    {
        lock (_gate)
        {
            var events = _log.Where(e => e.ResourceVersion > resourceVersion && e.TypeKey == type.Key).ToList();
            return (events, _changed.Task);
        }
    }

    private JsonObject Commit(ResourceType type, string? ns, string name, JsonObject obj, string eventType)
    {
        obj["metadata"]!["resourceVersion"] = (++_resourceVersion).ToString();
        _objects[Key(type, ns, name)] = obj;
        Publish(new WatchEvent(_resourceVersion, eventType, type.Key, (JsonObject)obj.DeepClone()));
        if (Pods.IsWorkload(type) && ns is not null) SyncPods(type, ns, obj);
        return (JsonObject)obj.DeepClone();
    }

    /// <summary>What the workload controllers do: the pods of a workload follow its replicas and its pod template.</summary>
    private void SyncPods(ResourceType type, string ns, JsonObject? workload, string? deletedUid = null)
    {
        var uid = deletedUid ?? (string?)workload?["metadata"]?["uid"];
        var desired = workload is null ? new Dictionary<string, JsonObject>() : Pods.Desired(type, ns, workload);
        var prefix = $"{Pods.Type.Key}/{ns}/";
        var owned = _objects.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal) && Pods.OwnerUid(p.Value) == uid).ToList();
        foreach (var (key, pod) in owned)
        {
            var podName = (string)pod["metadata"]!["name"]!;
            if (desired.TryGetValue(podName, out var wanted) && Pods.TemplateHash(wanted) == Pods.TemplateHash(pod)) { desired.Remove(podName); continue; }
            _objects.Remove(key);
            var deleted = (JsonObject)pod.DeepClone();
            deleted["metadata"]!["resourceVersion"] = (++_resourceVersion).ToString();
            Publish(new WatchEvent(_resourceVersion, "DELETED", Pods.Type.Key, deleted));
        }
        foreach (var (podName, pod) in desired)
        {
            Normalize(Pods.Type, ns, pod, previous: null);
            pod["metadata"]!["resourceVersion"] = (++_resourceVersion).ToString();
            _objects[Key(Pods.Type, ns, podName)] = pod;
            Publish(new WatchEvent(_resourceVersion, "ADDED", Pods.Type.Key, (JsonObject)pod.DeepClone()));
        }
    }

    private void Publish(WatchEvent e)
    {
        _log.Add(e);
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.SetResult();
    }

    private static JsonObject Metadata(JsonObject obj) =>
        obj["metadata"] as JsonObject ?? (JsonObject)(obj["metadata"] = new JsonObject());

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");

    private static ApiException NotFound(ResourceType type, string name) =>
        new(404, "NotFound", $"{type.Plural}{(type.Group.Length > 0 ? "." + type.Group : "")} \"{name}\" not found");

    /// <summary>What the API server and the controllers would fill in: identity, generation, defaults and status.</summary>
    private void Normalize(ResourceType type, string? ns, JsonObject obj, JsonObject? previous)
    {
        obj["apiVersion"] = type.GroupVersion;
        obj["kind"] = type.Kind;
        var meta = Metadata(obj);
        if (type.Namespaced) meta["namespace"] = ns; else meta.Remove("namespace");
        meta.Remove("managedFields");
        var prevMeta = previous?["metadata"] as JsonObject;
        meta["uid"] = prevMeta?["uid"]?.DeepClone() ?? Guid.NewGuid().ToString();
        meta["creationTimestamp"] = prevMeta?["creationTimestamp"]?.DeepClone() ?? Now();
        long generation = prevMeta?["generation"]?.GetValue<long>() ?? 0;
        if (previous is null || !JsonNode.DeepEquals(previous["spec"], obj["spec"])) generation++;
        meta["generation"] = generation;

        if (type.Kind == "Secret")
        {
            obj["type"] ??= "Opaque";
            if (obj["stringData"] is JsonObject stringData)
            {
                var data = obj["data"] as JsonObject ?? (JsonObject)(obj["data"] = new JsonObject());
                foreach (var (k, v) in stringData) data[k] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes((string?)v ?? ""));
                obj.Remove("stringData");
            }
        }
        if (obj["status"] is null && previous?["status"] is JsonNode previousStatus) obj["status"] = previousStatus.DeepClone();
        var status = Status(type.Kind, obj, generation);
        if (Kubelet is not null) status = Kubelet.Observe(type.Kind, obj, status);
        if (status is not null) obj["status"] = status;
    }

    private static JsonObject? Status(string kind, JsonObject obj, long generation)
    {
        var spec = obj["spec"] as JsonObject;
        long replicas = spec?["replicas"]?.GetValue<long>() ?? 1;
        string now = Now();
        static JsonObject Condition(string type, string reason, string now) =>
            new() { ["type"] = type, ["status"] = "True", ["reason"] = reason, ["lastTransitionTime"] = now, ["lastUpdateTime"] = now };
        switch (kind)
        {
            case "Deployment":
                return new JsonObject
                {
                    ["observedGeneration"] = generation, ["replicas"] = replicas, ["updatedReplicas"] = replicas,
                    ["readyReplicas"] = replicas, ["availableReplicas"] = replicas,
                    ["conditions"] = new JsonArray(Condition("Available", "MinimumReplicasAvailable", now), Condition("Progressing", "NewReplicaSetAvailable", now)),
                };
            case "StatefulSet":
                var revision = $"{obj["metadata"]!["name"]}-{generation}";
                return new JsonObject
                {
                    ["observedGeneration"] = generation, ["replicas"] = replicas, ["readyReplicas"] = replicas,
                    ["currentReplicas"] = replicas, ["updatedReplicas"] = replicas, ["availableReplicas"] = replicas,
                    ["currentRevision"] = revision, ["updateRevision"] = revision, ["collisionCount"] = 0,
                };
            case "ReplicaSet":
                return new JsonObject
                {
                    ["observedGeneration"] = generation, ["replicas"] = replicas, ["readyReplicas"] = replicas,
                    ["availableReplicas"] = replicas, ["fullyLabeledReplicas"] = replicas,
                };
            case "DaemonSet":
                return new JsonObject
                {
                    ["observedGeneration"] = generation, ["desiredNumberScheduled"] = 1, ["currentNumberScheduled"] = 1,
                    ["numberReady"] = 1, ["updatedNumberScheduled"] = 1, ["numberAvailable"] = 1, ["numberMisscheduled"] = 0,
                };
            case "Job":
                return new JsonObject
                {
                    ["startTime"] = now, ["completionTime"] = now, ["succeeded"] = 1, ["active"] = 0, ["ready"] = 0,
                    ["conditions"] = new JsonArray(Condition("SuccessCriteriaMet", "CompletionsReached", now), Condition("Complete", "CompletionsReached", now)),
                };
            case "PersistentVolumeClaim":
                return new JsonObject { ["phase"] = "Bound" };
            case "Pod":
                return new JsonObject
                {
                    ["phase"] = "Running", ["startTime"] = now,
                    ["conditions"] = new JsonArray(Condition("Ready", "", now), Condition("ContainersReady", "", now)),
                };
            case "Namespace":
                return new JsonObject { ["phase"] = "Active" };
            case "Service":
                return obj["status"] as JsonObject is { } s ? (JsonObject)s.DeepClone() : new JsonObject { ["loadBalancer"] = new JsonObject() };
            default:
                return null;
        }
    }
}

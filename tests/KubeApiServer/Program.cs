// An in-memory Kubernetes API server for tests: what the real helm v4 and KubernetesClient need to install,
// upgrade (--wait), roll back, list history and uninstall a chart, and to read and patch helm's release Secrets.
// Plain HTTP on 127.0.0.1. Usage: KubeApiServer [--port N] (0 = any free port) [--kubeconfig PATH] [--log]
//   [--docker-workload NAMESPACE/WORKLOAD=CONTAINER ...] [--docker-socket PATH (default /var/run/docker.sock)]
//   [--kubelet PREFIX [--kubelet-pods-only]]
// Deployments and StatefulSets get pods; exec and logs of a pod whose workload is named with --docker-workload are
// forwarded to that Docker container (DockerForward.cs); a pod's portforward reaches 127.0.0.1:PORT (PortForward.cs).
// With --kubelet PREFIX the workloads and Jobs run as Docker containers of their own image, named PREFIX-*, and their
// readiness, exit codes, exec and logs are the containers' (Kubelet.cs); the containers are removed when it stops. Pods
// created directly run once as containers too; with --kubelet-pods-only only they do (the workloads stay in memory).
// With --kubeconfig it writes a kubeconfig for itself there before it says it is listening.
// It prints "Listening on http://127.0.0.1:PORT" once it accepts connections, and stops on SIGTERM / Ctrl+C.
// Verified against helm v4 and KubernetesClient only, never compared with a real cluster's behaviour.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KubeApiServer;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

int port = 0;
bool log = false;
string? kubeconfig = null;
var dockerWorkloads = new Dictionary<string, string>(StringComparer.Ordinal);
var dockerSocket = "/var/run/docker.sock";
string? kubeletPrefix = null;
bool kubeletPodsOnly = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--port" && i + 1 < args.Length) port = int.Parse(args[++i]);
    else if (args[i] == "--kubeconfig" && i + 1 < args.Length) kubeconfig = args[++i];
    else if (args[i] == "--log") log = true;
    else if (args[i] == "--docker-socket" && i + 1 < args.Length) dockerSocket = args[++i];
    else if (args[i] == "--kubelet" && i + 1 < args.Length) kubeletPrefix = args[++i];
    else if (args[i] == "--kubelet-pods-only") kubeletPodsOnly = true;
    else if (args[i] == "--docker-workload" && i + 1 < args.Length && args[++i].Split('=', 2) is [var workload, var container])
        dockerWorkloads[workload] = container;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
var app = builder.Build();
var store = new Store();
var kubelet = kubeletPrefix is null ? null : new Kubelet(kubeletPrefix, dockerSocket, store, kubeletPodsOnly);
store.Kubelet = kubelet;
var api = new Api(store, log, new DockerForward(dockerSocket, dockerWorkloads, kubelet));
app.UseWebSockets();
app.Run(api.HandleAsync);
await app.StartAsync();
using var stopping = new CancellationTokenSource();
var kubeletLoop = kubelet is null ? Task.CompletedTask : Task.Run(() => kubelet.RunAsync(stopping.Token));
var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::1]", "127.0.0.1");
if (kubeconfig is not null)
    File.WriteAllText(kubeconfig, $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: upgradeops-test
          cluster:
            server: {address}
        contexts:
        - name: upgradeops-test
          context:
            cluster: upgradeops-test
            user: upgradeops-test
            namespace: default
        current-context: upgradeops-test
        users:
        - name: upgradeops-test
          user:
            token: not-checked
        """);
Console.WriteLine($"Listening on {address}");
Console.Out.Flush();
await app.WaitForShutdownAsync();
stopping.Cancel();
await kubeletLoop;
if (kubelet is not null) await kubelet.RemoveAllAsync();

namespace KubeApiServer
{
    public sealed class Api(Store store, bool log, DockerForward docker)
    {
        private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

        public async Task HandleAsync(HttpContext context)
        {
            var request = context.Request;
            try
            {
                await RouteAsync(context);
            }
            catch (ApiException e)
            {
                await WriteStatusAsync(context, e.Code, e.Reason, e.Message);
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException or JsonException or KeyNotFoundException)
            {
                await WriteStatusAsync(context, 400, "BadRequest", e.Message);
            }
            if (log)
                Console.Error.WriteLine($"{request.Method} {request.Path}{request.QueryString} [{request.ContentType}] -> {context.Response.StatusCode}");
        }

        private async Task RouteAsync(HttpContext context)
        {
            var path = context.Request.Path.Value!.TrimEnd('/');
            var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            switch (path)
            {
                case "/version":
                    await WriteJsonAsync(context, 200, new JsonObject
                    {
                        ["major"] = "1", ["minor"] = "35", ["gitVersion"] = "v1.35.0", ["gitCommit"] = "upgradeops-test-server",
                        ["gitTreeState"] = "clean", ["buildDate"] = "2026-01-01T00:00:00Z", ["goVersion"] = "go1.25",
                        ["compiler"] = "gc", ["platform"] = "linux/amd64",
                    });
                    return;
                case "/api":
                    await WriteJsonAsync(context, 200, new JsonObject
                    {
                        ["kind"] = "APIVersions", ["versions"] = new JsonArray("v1"),
                        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = context.Request.Host.Value }),
                    });
                    return;
                case "/apis":
                    await WriteJsonAsync(context, 200, new JsonObject
                    {
                        ["kind"] = "APIGroupList", ["apiVersion"] = "v1",
                        ["groups"] = new JsonArray(ResourceTypes.Groups.Select(g => (JsonNode)GroupJson(g)).ToArray()),
                    });
                    return;
                case "/healthz" or "/readyz" or "/livez":
                    context.Response.ContentType = "text/plain";
                    await context.Response.WriteAsync("ok");
                    return;
                case "/openapi/v3":
                    // An empty OpenAPI v3 index, so client-go falls back to v2 ...
                    await WriteJsonAsync(context, 200, new JsonObject { ["paths"] = new JsonObject() });
                    return;
                case "/openapi/v2":
                    // ... and an empty v2 document (an empty protobuf message is a valid openapi_v2.Document): kubectl's
                    // schema validation skips kinds it has no schema for, so helm validates nothing and needs no flag.
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
                    return;
            }
            // /api/v1/... or /apis/{group}/{version}/...
            string group, version;
            int rest;
            if (segments.Length >= 2 && segments[0] == "api") { group = ""; version = segments[1]; rest = 2; }
            else if (segments.Length >= 2 && segments[0] == "apis")
            {
                group = segments[1];
                if (segments.Length == 2)
                {
                    await WriteJsonAsync(context, 200, GroupJson(group).Let(o => o["kind"] = "APIGroup").Let(o => o["apiVersion"] = "v1"));
                    return;
                }
                version = segments[2]; rest = 3;
            }
            else { await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource"); return; }

            if (segments.Length == rest)
            {
                var types = ResourceTypes.All.Where(t => t.Group == group && t.Version == version).ToList();
                if (types.Count == 0) { await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource"); return; }
                await WriteJsonAsync(context, 200, ResourceListJson(group, version, types));
                return;
            }

            var tail = segments[rest..];
            bool watchPath = tail[0] == "watch";
            if (watchPath) tail = tail[1..];
            string? ns = null;
            if (tail.Length >= 3 && tail[0] == "namespaces") { ns = tail[1]; tail = tail[2..]; }
            else if (tail.Length == 2 && tail[0] == "namespaces")
            {
                // /api/v1/namespaces/{name}: the namespace itself
            }
            var type = ResourceTypes.Find(group, version, tail[0])
                ?? throw new ApiException(404, "NotFound", "the server could not find the requested resource");
            if (type.Namespaced == (ns is null) && !(type.Namespaced && tail.Length == 1))
                throw new ApiException(404, "NotFound", "the server could not find the requested resource");
            string? name = tail.Length >= 2 ? tail[1] : null;
            string? subresource = tail.Length >= 3 ? tail[2] : null;
            if (type == Pods.Type && name is not null && subresource is "exec" or "log")
            {
                var pod = store.Get(type, ns, name);
                var container = docker.ContainerFor(ns!, pod);
                if (subresource == "exec") await docker.ExecAsync(context, container);
                else await docker.LogsAsync(context, container);
                return;
            }
            if (type == Pods.Type && name is not null && subresource == "portforward")
            {
                await PortForward.ServeAsync(context, store.Get(type, ns, name));
                return;
            }
            if (subresource is not null && subresource != "status")
                throw new ApiException(404, "NotFound", $"subresource {subresource} is not served by this test server");

            var query = context.Request.Query;
            bool dryRun = query.ContainsKey("dryRun");
            string method = context.Request.Method;
            if (method == "GET" && (watchPath || query["watch"] is var w && (w == "true" || w == "1")))
            {
                await WatchAsync(context, type, ns, name);
                return;
            }
            switch (method, name)
            {
                case ("GET", null):
                    var selector = Selector.Parse(query["labelSelector"], query["fieldSelector"]);
                    var (items, rv) = store.List(type, ns, selector);
                    await WriteJsonAsync(context, 200, new JsonObject
                    {
                        ["kind"] = type.Kind + "List", ["apiVersion"] = type.GroupVersion,
                        ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString() },
                        ["items"] = new JsonArray(items.Cast<JsonNode>().ToArray()),
                    });
                    return;
                case ("GET", _):
                    await WriteJsonAsync(context, 200, store.Get(type, ns, name));
                    return;
                case ("POST", null):
                    var created = await ReadObjectAsync(context);
                    if (type.Namespaced && created["metadata"]?["namespace"] is JsonNode bodyNs && (string?)bodyNs != ns && !string.IsNullOrEmpty((string?)bodyNs))
                        throw new ApiException(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
                    await WriteJsonAsync(context, 201, store.Create(type, ns, created, dryRun));
                    return;
                case ("PUT", not null):
                    var replacement = await ReadObjectAsync(context);
                    if (subresource == "status")
                    {
                        await WriteJsonAsync(context, 200, store.Patch(type, ns, name, current => current!.Let(c => c["status"] = replacement["status"]?.DeepClone()), false, dryRun));
                        return;
                    }
                    await WriteJsonAsync(context, 200, store.Replace(type, ns, name, replacement, dryRun));
                    return;
                case ("PATCH", not null):
                    await PatchAsync(context, type, ns, name, dryRun);
                    return;
                case ("DELETE", not null):
                    var deleted = store.Delete(type, ns, name, dryRun);
                    await WriteJsonAsync(context, 200, deleted);
                    return;
                default:
                    throw new ApiException(405, "MethodNotAllowed", $"{method} is not supported on this path");
            }
        }

        private async Task PatchAsync(HttpContext context, ResourceType type, string? ns, string name, bool dryRun)
        {
            var contentType = (context.Request.ContentType ?? "").Split(';')[0].Trim();
            var body = await ReadBodyAsync(context);
            var patch = JsonNode.Parse(body) ?? throw new FormatException("empty patch");
            JsonObject result = contentType switch
            {
                // Server-side apply: the applied configuration becomes the object (one field manager, helm, owns it all).
                "application/apply-patch+yaml" or "application/apply-patch+cbor" => store.Patch(type, ns, name, current =>
                {
                    var applied = (JsonObject)patch.DeepClone();
                    if (current?["status"] is JsonNode status) applied["status"] ??= status.DeepClone();
                    return applied;
                }, createIfMissing: true, dryRun),
                "application/json-patch+json" => store.Patch(type, ns, name,
                    current => (JsonObject)Patches.JsonPatch(current!, patch.AsArray()), createIfMissing: false, dryRun),
                "application/merge-patch+json" or "application/strategic-merge-patch+json" => store.Patch(type, ns, name,
                    current => (JsonObject)Patches.MergePatch(current, patch)!, createIfMissing: false, dryRun),
                _ => throw new ApiException(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"),
            };
            await WriteJsonAsync(context, 200, result);
        }

        /// <summary>A watch: initial ADDED events when asked (resourceVersion 0/empty or sendInitialEvents), then changes.</summary>
        private async Task WatchAsync(HttpContext context, ResourceType type, string? ns, string? name)
        {
            var query = context.Request.Query;
            var selector = Selector.Parse(query["labelSelector"], query["fieldSelector"]);
            bool Matches(JsonObject o) =>
                (ns is null || (string?)o["metadata"]?["namespace"] == ns) && (name is null || (string?)o["metadata"]?["name"] == name) && selector.Matches(o);
            int timeoutSeconds = int.TryParse(query["timeoutSeconds"], out var t) ? t : 300;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));

            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            string rvParam = query["resourceVersion"].ToString();
            bool sendInitial = query["sendInitialEvents"] == "true";
            long cursor;
            if (sendInitial || rvParam is "" or "0")
            {
                var (items, rv) = store.List(type, ns, selector);
                foreach (var item in items.Where(Matches)) await WriteEventAsync(context, "ADDED", item);
                if (sendInitial)
                    await WriteEventAsync(context, "BOOKMARK", new JsonObject
                    {
                        ["kind"] = type.Kind, ["apiVersion"] = type.GroupVersion,
                        ["metadata"] = new JsonObject
                        {
                            ["resourceVersion"] = rv.ToString(),
                            ["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" },
                        },
                    });
                cursor = rv;
            }
            else cursor = long.Parse(rvParam);
            await context.Response.Body.FlushAsync();
            try
            {
                while (!timeout.IsCancellationRequested)
                {
                    var (events, changed) = store.EventsAfter(type, cursor);
                    foreach (var e in events)
                    {
                        cursor = e.ResourceVersion;
                        if (Matches(e.Object)) await WriteEventAsync(context, e.Type, e.Object);
                    }
                    if (events.Count == 0) await changed.WaitAsync(timeout.Token);
                }
            }
            catch (OperationCanceledException) { }
        }

        private static async Task WriteEventAsync(HttpContext context, string type, JsonObject obj)
        {
            var line = new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString(Json) + "\n";
            await context.Response.WriteAsync(line);
            await context.Response.Body.FlushAsync();
        }

        private static async Task<byte[]> ReadBodyAsync(HttpContext context)
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            return buffer.ToArray();
        }

        private static async Task<JsonObject> ReadObjectAsync(HttpContext context)
        {
            var body = await ReadBodyAsync(context);
            if (KubeProtobuf.IsProtobuf(context.Request.ContentType)) return KubeProtobuf.Decode(body);
            return JsonNode.Parse(body) as JsonObject ?? throw new FormatException("the body is not a JSON object");
        }

        private static Task WriteJsonAsync(HttpContext context, int code, JsonObject body)
        {
            context.Response.StatusCode = code;
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(body.ToJsonString(Json));
        }

        private static Task WriteStatusAsync(HttpContext context, int code, string reason, string message) =>
            WriteJsonAsync(context, code, new JsonObject
            {
                ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Failure",
                ["message"] = message, ["reason"] = reason, ["code"] = code,
            });

        private static JsonObject GroupJson(string group)
        {
            var version = ResourceTypes.All.First(t => t.Group == group).Version;
            var gv = new JsonObject { ["groupVersion"] = $"{group}/{version}", ["version"] = version };
            return new JsonObject { ["name"] = group, ["versions"] = new JsonArray(gv), ["preferredVersion"] = gv.DeepClone() };
        }

        private static JsonObject ResourceListJson(string group, string version, List<ResourceType> types)
        {
            var resources = new JsonArray();
            foreach (var t in types)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = t.Plural, ["singularName"] = t.Singular, ["namespaced"] = t.Namespaced, ["kind"] = t.Kind,
                    ["verbs"] = new JsonArray(ResourceTypes.Verbs.Select(v => (JsonNode)v).ToArray()),
                    ["shortNames"] = new JsonArray(t.ShortNames.Select(v => (JsonNode)v).ToArray()),
                });
                resources.Add(new JsonObject
                {
                    ["name"] = t.Plural + "/status", ["singularName"] = "", ["namespaced"] = t.Namespaced, ["kind"] = t.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
            return new JsonObject
            {
                ["kind"] = "APIResourceList", ["apiVersion"] = "v1",
                ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}", ["resources"] = resources,
            };
        }
    }

    internal static class JsonExtensions
    {
        public static JsonObject Let(this JsonObject o, Action<JsonObject> action) { action(o); return o; }
    }
}

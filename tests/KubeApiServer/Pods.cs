using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace KubeApiServer;

/// <summary>
/// The pods a controller would run for a Deployment or StatefulSet: created with the workload, replaced when its pod
/// template changes, removed when it scales down or is deleted (owner references). Deployment pods are named
/// WORKLOAD-HASH-N, StatefulSet pods WORKLOAD-N. They report Running and Ready at once; nothing runs in them, but
/// their exec and logs can be forwarded to a Docker container (see DockerForward).
/// </summary>
public static class Pods
{
    public static readonly ResourceType Type = ResourceTypes.Find("", "v1", "pods")!;
    public const string TemplateHashAnnotation = "upgradeops.test/template-hash";

    public static bool IsWorkload(ResourceType type) => type.Group == "apps" && type.Kind is "Deployment" or "StatefulSet";

    /// <summary>The pods the workload should have now, by name.</summary>
    public static Dictionary<string, JsonObject> Desired(ResourceType type, string ns, JsonObject workload)
    {
        var name = (string)workload["metadata"]!["name"]!;
        var replicas = workload["spec"]?["replicas"]?.GetValue<long>() ?? 1;
        var template = workload["spec"]?["template"] as JsonObject ?? new JsonObject();
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(template.ToJsonString())))[..10].ToLowerInvariant();
        var pods = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        for (var i = 0; i < replicas; i++)
        {
            var podName = type.Kind == "StatefulSet" ? $"{name}-{i}" : $"{name}-{hash}-{i}";
            var labels = template["metadata"]?["labels"]?.DeepClone() as JsonObject ?? new JsonObject();
            if (type.Kind == "StatefulSet") labels["statefulset.kubernetes.io/pod-name"] = podName;
            else labels["pod-template-hash"] = hash;
            pods[podName] = new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Pod",
                ["metadata"] = new JsonObject
                {
                    ["name"] = podName, ["namespace"] = ns, ["labels"] = labels,
                    ["annotations"] = new JsonObject { [TemplateHashAnnotation] = hash },
                    ["ownerReferences"] = new JsonArray(new JsonObject
                    {
                        ["apiVersion"] = type.GroupVersion, ["kind"] = type.Kind, ["name"] = name,
                        ["uid"] = workload["metadata"]!["uid"]?.DeepClone(), ["controller"] = true, ["blockOwnerDeletion"] = true,
                    }),
                },
                ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject(),
            };
        }
        return pods;
    }

    /// <summary>The name of the workload that owns a pod, or null.</summary>
    public static string? Owner(JsonObject pod) =>
        pod["metadata"]?["ownerReferences"] is JsonArray { Count: > 0 } owners ? (string?)owners[0]!["name"] : null;

    public static string? OwnerUid(JsonObject pod) =>
        pod["metadata"]?["ownerReferences"] is JsonArray { Count: > 0 } owners ? (string?)owners[0]!["uid"] : null;

    public static string? TemplateHash(JsonObject pod) => (string?)pod["metadata"]?["annotations"]?[TemplateHashAnnotation];
}

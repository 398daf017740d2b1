using System.Text.Json;
using System.Text.Json.Nodes;
using UpgradeOps.Hosting;

using UpgradeOps.Backups;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// The ConfigMaps and Secrets a profile names (kubernetesResources), as one JSON document in a backup:
/// <c>{"items":[{"kind","name","type"?,"data":{...},"redacted"?}]}</c>. A Secret's data values (base64, as the API
/// gives them) are kept only when the backup is encrypted; otherwise each value is replaced by the mask and the item is
/// marked redacted (its keys are kept, so the backup still says what the Secret held). A redacted Secret is never applied.
/// </summary>
public static class KubernetesObjectSnapshot
{
    public const string File = "config/resources.json";
    public const string Component = Profiles.ProductProfile.KubernetesResourcesComponent;

    public static JsonObject ConfigMap(string name, IDictionary<string, string>? data)
    {
        var values = new JsonObject();
        foreach (var (key, value) in data ?? new Dictionary<string, string>()) values[key] = value;
        return new JsonObject { ["kind"] = "ConfigMap", ["name"] = name, ["data"] = values };
    }

    /// <param name="redact">True unless the backup is encrypted: the values are replaced by the mask, the keys kept.</param>
    public static JsonObject Secret(string name, string? type, IDictionary<string, byte[]>? data, bool redact)
    {
        var values = new JsonObject();
        foreach (var (key, value) in data ?? new Dictionary<string, byte[]>())
            values[key] = redact ? SecretRedactor.Mask : Convert.ToBase64String(value);
        var item = new JsonObject { ["kind"] = "Secret", ["name"] = name, ["type"] = type ?? "Opaque", ["data"] = values };
        if (redact) item["redacted"] = true;
        return item;
    }

    public static string Serialize(IEnumerable<JsonObject> items) =>
        new JsonObject { ["items"] = new JsonArray(items.Cast<JsonNode>().ToArray()) }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>One object of a snapshot, as read back for a restore.</summary>
    public sealed record Item(string Kind, string Name, string? Type, IReadOnlyDictionary<string, string> Data, bool Redacted)
    {
        /// <summary>A Secret's data decoded from base64 (only for a Secret that is not redacted).</summary>
        public Dictionary<string, byte[]> SecretData() => Data.ToDictionary(d => d.Key, d => Convert.FromBase64String(d.Value));
    }

    public static IReadOnlyList<Item> Parse(string json)
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new BackupFormatException("BackupResourcesInvalid", "The Kubernetes objects of the backup are not a JSON object.");
        return (root["items"] as JsonArray ?? new JsonArray()).OfType<JsonObject>().Select(o => new Item(
            (string?)o["kind"] ?? "", (string?)o["name"] ?? "", (string?)o["type"],
            (o["data"] as JsonObject ?? new JsonObject()).ToDictionary(p => p.Key, p => (string?)p.Value ?? ""),
            (bool?)o["redacted"] ?? false)).ToList();
    }

    /// <summary>A profile's resource name with {release} replaced by the release's name.</summary>
    public static string ResolveName(string name, string release) => name.Replace("{release}", release, StringComparison.Ordinal);
}

using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace UpgradeOps.Kubernetes;

/// <summary>One revision of a Helm release, as helm stores it in a Secret (driver "secret", helm's default).</summary>
/// <param name="SecretName">sh.helm.release.v1.NAME.vREVISION</param>
/// <param name="Status">deployed, superseded, failed, uninstalling, pending-install, pending-upgrade, pending-rollback</param>
public sealed record HelmRelease(
    string Name,
    string Namespace,
    int Revision,
    string Status,
    string ChartName,
    string ChartVersion,
    string? AppVersion,
    DateTimeOffset? LastDeployed,
    string? Description,
    string SecretName)
{
    /// <summary>The values the user gave (helm's "config"), e.g. image.tag; never shown (they may hold secrets).</summary>
    public JsonObject? Values { get; init; }

    /// <summary>Every user-given leaf value with its dotted key (database.password → ...), for masking helm's output.</summary>
    public IEnumerable<KeyValuePair<string, string>> FlatValues() => Flatten(Values, "");

    /// <summary>Every scalar leaf of a values tree with its dotted key (lists by index: "hosts.0").</summary>
    public static IEnumerable<KeyValuePair<string, string>> Flatten(JsonNode? node, string prefix = "") => node switch
    {
        JsonObject o => o.SelectMany(p => Flatten(p.Value, prefix.Length == 0 ? p.Key : $"{prefix}.{p.Key}")),
        JsonArray a => a.SelectMany((item, i) => Flatten(item, $"{prefix}.{i}")),
        JsonValue v => new[] { KeyValuePair.Create(prefix, v.ToString()) },
        _ => Array.Empty<KeyValuePair<string, string>>(),
    };

    /// <summary>A user-given value at a dotted key (image.tag), or null.</summary>
    public string? Value(string dottedKey)
    {
        JsonNode? node = Values;
        foreach (var part in dottedKey.Split('.')) node = node is JsonObject o ? o[part] : null;
        return node is JsonValue v ? v.ToString() : null;
    }

    /// <summary>A pending-* status: helm refuses the next upgrade ("another operation ... is in progress").</summary>
    public bool IsPending => Status.StartsWith("pending-", StringComparison.Ordinal);

    /// <summary>The product version this revision names: the value at the profile's version key (image.tag), else the chart's appVersion.</summary>
    public string? VersionAt(string? valuesKey) => (valuesKey is { } key ? Value(key) : null) ?? AppVersion;
}

/// <summary>
/// Reads Helm release state natively from the release Secrets, so no helm binary is needed to know what is
/// deployed. A Secret's data["release"] holds base64(gzip(JSON of helm's release object)); its labels repeat
/// name, owner=helm, status and version. Only the fields UpgradeOps uses are decoded.
/// </summary>
public static class HelmReleaseReader
{
    private static readonly byte[] GzipMagic = [0x1f, 0x8b, 0x08];

    /// <summary>Every stored revision of a release, oldest first.</summary>
    public static async Task<IReadOnlyList<HelmRelease>> ListAsync(IKubernetes client, string ns, string releaseName, CancellationToken cancellationToken = default)
    {
        var secrets = await ListSecretsAsync(client, ns, releaseName, cancellationToken).ConfigureAwait(false);
        return secrets.Select(FromSecret).OrderBy(r => r.Revision).ToList();
    }

    /// <summary>The newest revision of a release, or null when there is none.</summary>
    public static async Task<HelmRelease?> GetLatestAsync(IKubernetes client, string ns, string releaseName, CancellationToken cancellationToken = default) =>
        (await ListAsync(client, ns, releaseName, cancellationToken).ConfigureAwait(false)).LastOrDefault();

    /// <summary>
    /// The revision a release left pending-* returns to: the newest one helm marked deployed. Not "the pending revision − 1":
    /// helm keeps a failed upgrade's revision (1 deployed, 2 failed, 3 pending-upgrade returns to 1, not to the failed 2), and
    /// an earlier repair leaves its pending revision in the history. When helm was killed between marking the old revision
    /// superseded and the new one deployed, none says deployed: then the newest superseded one. Null when nothing was ever
    /// deployed (pending-install): no rollback can repair that.
    /// </summary>
    /// <param name="revisions">Every stored revision, in any order.</param>
    public static HelmRelease? LastDeployed(IEnumerable<HelmRelease> revisions)
    {
        var newestFirst = revisions.OrderByDescending(r => r.Revision).ToList();
        return newestFirst.FirstOrDefault(r => r.Status == "deployed") ?? newestFirst.FirstOrDefault(r => r.Status == "superseded");
    }

    /// <summary>The release Secrets (label selector owner=helm,name=RELEASE).</summary>
    public static async Task<IReadOnlyList<V1Secret>> ListSecretsAsync(IKubernetes client, string ns, string releaseName, CancellationToken cancellationToken = default)
    {
        var list = await client.CoreV1.ListNamespacedSecretAsync(ns, labelSelector: $"owner=helm,name={releaseName}", cancellationToken: cancellationToken).ConfigureAwait(false);
        return list.Items.ToList();
    }

    public static HelmRelease FromSecret(V1Secret secret)
    {
        if (secret.Data is null || !secret.Data.TryGetValue("release", out var data))
            throw new InvalidDataException($"Secret {secret.Metadata?.Name} has no 'release' data: it is not a Helm release Secret.");
        var json = DecodeReleaseJson(data);
        var chart = json["chart"]?["metadata"];
        var info = json["info"];
        return new HelmRelease(
            Name: (string?)json["name"] ?? "",
            Namespace: (string?)json["namespace"] ?? secret.Metadata?.NamespaceProperty ?? "",
            Revision: (int?)json["version"] ?? 0,
            Status: (string?)info?["status"] ?? "unknown",
            ChartName: (string?)chart?["name"] ?? "",
            ChartVersion: (string?)chart?["version"] ?? "",
            AppVersion: (string?)chart?["appVersion"],
            LastDeployed: DateTimeOffset.TryParse((string?)info?["last_deployed"], out var deployed) ? deployed : null,
            Description: (string?)info?["description"],
            SecretName: secret.Metadata?.Name ?? "")
        {
            Values = json["config"] as JsonObject,
        };
    }

    /// <summary>The Secret's "release" value (already base64-decoded once by the Kubernetes API) to helm's release JSON.</summary>
    public static JsonObject DecodeReleaseJson(byte[] secretData)
    {
        var bytes = Convert.FromBase64String(Encoding.ASCII.GetString(secretData));
        if (bytes.AsSpan().StartsWith(GzipMagic))
        {
            using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var plain = new MemoryStream();
            gzip.CopyTo(plain);
            bytes = plain.ToArray();
        }
        return JsonNode.Parse(bytes) as JsonObject ?? throw new InvalidDataException("the Helm release is not a JSON object");
    }

    /// <summary>helm's own encoding of a release (gzip, then base64): the bytes to put in data["release"].</summary>
    public static byte[] EncodeReleaseJson(JsonObject release)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes(release.ToJsonString()));
        return Encoding.ASCII.GetBytes(Convert.ToBase64String(compressed.ToArray()));
    }

    /// <summary>
    /// Sets a revision's status both where helm reads it (info.status inside the release) and in the Secret's
    /// status label (which helm's queries select on), with a resourceVersion-checked replace. The building block
    /// for repairing a release left pending-upgrade by an interrupted helm (and for simulating one in tests).
    /// </summary>
    public static async Task<HelmRelease> SetStatusAsync(IKubernetes client, V1Secret secret, string status, CancellationToken cancellationToken = default)
    {
        var json = DecodeReleaseJson(secret.Data["release"]);
        json["info"]!["status"] = status;
        secret.Data["release"] = EncodeReleaseJson(json);
        secret.Metadata.Labels ??= new Dictionary<string, string>();
        secret.Metadata.Labels["status"] = status;
        var replaced = await client.CoreV1.ReplaceNamespacedSecretAsync(secret, secret.Metadata.Name, secret.Metadata.NamespaceProperty, cancellationToken: cancellationToken).ConfigureAwait(false);
        return FromSecret(replaced);
    }
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using UpgradeOps.Hosting;


using UpgradeOps.Rehearsals;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// The pure parts of a Helm release's rehearsal copy: its namespace name, the values it is installed with, and which
/// labelled namespaces a dead process left behind.
/// </summary>
public static class HelmRehearsalCopy
{
    /// <summary>Annotation (not a label: "pid:ticks" is no valid label value) naming the process that owns the copy.</summary>
    public const string OwnerAnnotation = RehearsalLabels.Owner;
    /// <summary>Annotation naming the copy's release, for the commands that remove it.</summary>
    public const string ReleaseAnnotation = "io.upgradeops.rehearsal.release";

    /// <summary>"&lt;release&gt;-rehearsal-&lt;last 6 of the id&gt;", a valid namespace name (DNS label, at most 63 characters).</summary>
    public static string NamespaceName(string release, string id)
    {
        var clean = Regex.Replace(id.ToLowerInvariant(), "[^a-z0-9]", "");
        var suffix = "-rehearsal-" + (clean.Length > 6 ? clean[^6..] : clean);
        var stem = Regex.Replace(release.ToLowerInvariant(), "[^a-z0-9-]", "-").Trim('-');
        if (stem.Length == 0) stem = "release";
        if (stem.Length + suffix.Length > 63) stem = stem[..(63 - suffix.Length)].TrimEnd('-');
        return stem + suffix;
    }

    /// <summary>
    /// The values the copy is installed with: the backup's, with the product version at <paramref name="version"/> under
    /// the profile's values key, every masked secret (an unencrypted backup's) not set by <paramref name="coveredKeys"/> replaced
    /// by a fresh random value, then the copy's own values. Returns the keys given fresh values (never their values).
    /// </summary>
    public static (JsonObject Values, IReadOnlyList<string> FreshSecrets) Values(JsonObject backupValues, string? versionKey, string? version,
        IReadOnlyDictionary<string, string> copyValues, IEnumerable<string> coveredKeys)
    {
        var values = (JsonObject)backupValues.DeepClone();
        var covered = new HashSet<string>(coveredKeys.Concat(copyValues.Keys), StringComparer.Ordinal);
        var fresh = new List<string>();
        foreach (var (key, _) in Kubernetes.HelmRelease.Flatten(values).Where(l => l.Value == SecretRedactor.Mask).ToList())
        {
            if (covered.Contains(key)) continue;
            Set(values, key, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant());
            fresh.Add(key);
        }
        if (versionKey is not null && version is not null) Set(values, versionKey, version);
        foreach (var (key, value) in copyValues) Set(values, key, value);
        return (values, fresh);
    }

    /// <summary>Sets a dotted key ("server.port"), creating the maps on the way; the text keeps the type of the value it replaces (a number stays a number), and a new integer or true/false is typed as helm --set types it.</summary>
    public static void Set(JsonObject values, string dottedKey, string value)
    {
        var parts = dottedKey.Split('.');
        if (parts.Length == 0 || parts.Any(string.IsNullOrWhiteSpace))
            throw new UpgradeOpsException("CopyValueInvalid", ErrorKind.InvalidArgument, dottedKey,
                $"'{dottedKey}' is not a values key: give dotted keys such as 'ingress.host' or 'server.port' with -CopyValue.");
        var node = values;
        foreach (var part in parts[..^1])
        {
            if (node[part] is not JsonObject child)
            {
                child = new JsonObject();
                node[part] = child;
            }
            node = child;
        }
        var existing = node[parts[^1]] as JsonValue;
        var kind = existing?.GetValueKind();
        node[parts[^1]] = kind switch
        {
            System.Text.Json.JsonValueKind.Number when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) => JsonNode.Parse(value),
            System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False when bool.TryParse(value, out var b) => JsonValue.Create(b),
            System.Text.Json.JsonValueKind.String => JsonValue.Create(value),
            _ when existing is null && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => JsonValue.Create(n),
            _ when existing is null && value is "true" or "false" => JsonValue.Create(value == "true"),
            _ => JsonValue.Create(value),
        };
    }

    /// <summary>A labelled copy namespace as listed: its name and its rehearsal annotations.</summary>
    public sealed record Listed(string Namespace, string? Id, string? Owner, string? Release);

    /// <summary>
    /// Who owns a copy: this machine and this process (pid:starttime). A cluster is shared by the admins' machines, so a
    /// process is judged gone only on the machine it ran on.
    /// </summary>
    public static string CurrentOwner => $"{Environment.MachineName}/{RehearsalLabels.CurrentOwner}";

    /// <summary>
    /// The copies this machine left behind: owned by a process of this machine that is gone. A copy of a rehearsal still
    /// running, one of another machine, and one whose owner is not recorded are left alone (another admin's rehearsal
    /// may be running there); the teardown commands remove them by hand.
    /// </summary>
    public static IReadOnlyList<Listed> Abandoned(IEnumerable<Listed> copies, Func<string, bool>? ownerAlive = null, string? machine = null)
    {
        ownerAlive ??= RehearsalLabels.OwnerAlive;
        machine ??= Environment.MachineName;
        return copies.Where(c => c.Id is not null && c.Owner?.Split('/', 2) is [var host, var process]
                                 && string.Equals(host, machine, StringComparison.OrdinalIgnoreCase) && !ownerAlive(process)).ToList();
    }

    /// <summary>The commands that remove a kept copy.</summary>
    public static string RemoveCommands(string ns, string release) => $"helm uninstall {release} -n {ns}; kubectl delete namespace {ns}";
}

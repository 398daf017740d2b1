using System.Text.RegularExpressions;

namespace UpgradeOps.Hosting;

/// <summary>
/// Masks the deployment's secret values in text that leaves the engine (migration output, logs, reports, bundles):
/// every value of a variable whose name says it is secret, whatever its length, and every other .env value of six
/// characters or more (a shorter one, such as a port or a version, would mask ordinary words). Values that name the
/// deployment rather than protect it (the Compose project name, image and version variables, a database's user and name,
/// a host or address, a chart's name overrides) stay readable: masked, a project named like its database user turned
/// every container name, upgrade id and image in a report into "***".
/// </summary>
public sealed partial class SecretRedactor
{
    public const string Mask = "***";
    private readonly string[] _secrets;

    public SecretRedactor(IEnumerable<KeyValuePair<string, string>> variables)
    {
        _secrets = variables
            .Where(v => v.Value.Length > 0 && (SecretName().IsMatch(v.Key) ||
                (v.Value.Length >= 6 && (!IsIdentityName(v.Key) || UrlCredentials().IsMatch(v.Value)))))
            .Select(v => v.Value).Distinct(StringComparer.Ordinal)
            // Longer first, so a secret that contains another is masked whole.
            .OrderByDescending(v => v.Length).ToArray();
    }

    public int Count => _secrets.Length;

    /// <summary>Whether a variable's or key's name says its value is secret (PASSWORD, TOKEN, SIGNING_KEY, ...).</summary>
    public static bool IsSecretName(string name) => SecretName().IsMatch(name);

    public string Redact(string text)
    {
        foreach (var secret in _secrets) text = text.Replace(secret, Mask, StringComparison.Ordinal);
        return text;
    }

    /// <summary>Whether a variable or key names the deployment (its project, image, version, chart name), not a secret.</summary>
    public static bool IsIdentityName(string name) => !SecretName().IsMatch(name) && IdentityName().IsMatch(name);

    [GeneratedRegex(@"^COMPOSE_(PROJECT_NAME|FILE|PROFILES)$|(^|[._])(VERSION|IMAGE|TAG|REPOSITORY|USER|USERNAME|DB|DATABASE|HOST|HOSTNAME|PORT|ADDRESS)$|(^|\.)(fullnameOverride|nameOverride)$", RegexOptions.IgnoreCase)]
    private static partial Regex IdentityName();

    /// <summary>A URL with a user and password or token in it (https://user:token@host/...): masked whatever the name.</summary>
    [GeneratedRegex(@"://[^/@\s]+@")]
    private static partial Regex UrlCredentials();

    [GeneratedRegex("PASS|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();
}

using System.Text.RegularExpressions;

namespace UpgradeOps.Hosting;

/// <summary>
/// Masks the deployment's secret values in text that leaves the engine (migration output, logs, reports, bundles):
/// every value of a variable whose name says it is secret, whatever its length (and the password of a user/password
/// pair such as NEO4J_AUTH), but not a switch or a measure under such a name, and every other .env value of six
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
        _secrets = variables.SelectMany(SecretsOf).Distinct(StringComparer.Ordinal)
            // Longer first, so a secret that contains another is masked whole.
            .OrderByDescending(v => v.Length).ToArray();
    }

    /// <summary>The values of one variable to mask: none, its value, or (a user/password pair such as NEO4J_AUTH) also the password alone.</summary>
    private static IEnumerable<string> SecretsOf(KeyValuePair<string, string> variable)
    {
        var (name, value) = (variable.Key, variable.Value);
        if (value.Length == 0 || IsSetting(name, value)) yield break;
        if (SecretName().IsMatch(name))
        {
            yield return value;
            if (AuthName().IsMatch(name) && UserPasswordPair().Match(value) is { Success: true } pair) yield return pair.Groups["password"].Value;
        }
        else if (value.Length >= 6 && (!IsIdentityName(name) || UrlCredentials().IsMatch(value)))
        {
            yield return value;
        }
    }

    /// <summary>
    /// A switch or a measure under a secret-sounding name (AWS_QUERYSTRING_AUTH=false, ..._TOKEN_LIFETIME=3600,
    /// NEO4J_dbms_security_auth__minimum__password__length=4, all in Infrahub's compose file): masking it would turn every
    /// "false" or "4" of a report into "***", and break the JSON it is in.
    /// </summary>
    private static bool IsSetting(string name, string value) => BooleanWord().IsMatch(value) || MeasureName().IsMatch(name);

    public int Count => _secrets.Length;

    /// <summary>Whether a variable's or key's name says its value is secret (PASSWORD, TOKEN, SIGNING_KEY, ...).</summary>
    public static bool IsSecretName(string name) => SecretName().IsMatch(name);

    /// <summary>Whether a value is a URL with a user and password or token in it.</summary>
    public static bool HasUrlCredentials(string value) => UrlCredentials().IsMatch(value);

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

    [GeneratedRegex(@"^(true|false|yes|no|on|off|none|null)$", RegexOptions.IgnoreCase)]
    private static partial Regex BooleanWord();

    [GeneratedRegex(@"(^|[._])(LIFETIME|TIMEOUT|TTL|LENGTH|SIZE|COUNT|EXPIRY|EXPIRATION|INTERVAL|RETRIES)$", RegexOptions.IgnoreCase)]
    private static partial Regex MeasureName();

    [GeneratedRegex(@"(^|[._])AUTH$", RegexOptions.IgnoreCase)]
    private static partial Regex AuthName();

    [GeneratedRegex(@"^[^/\s]+/(?<password>\S+)$")]
    private static partial Regex UserPasswordPair();

    [GeneratedRegex("PASS|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();
}

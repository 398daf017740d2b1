using System.Text.RegularExpressions;

namespace UpgradeOps.Hosting;

/// <summary>
/// Masks the deployment's secret values in text that leaves the engine (migration output, logs, reports, bundles):
/// every value of a variable whose name says it is secret, whatever its length, and every other .env value of six
/// characters or more (a shorter one, such as a port or a version, would mask ordinary words).
/// </summary>
public sealed partial class SecretRedactor
{
    public const string Mask = "***";
    private readonly string[] _secrets;

    public SecretRedactor(IEnumerable<KeyValuePair<string, string>> variables)
    {
        _secrets = variables
            .Where(v => v.Value.Length > 0 && (SecretName().IsMatch(v.Key) || v.Value.Length >= 6))
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

    [GeneratedRegex("PASS|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();
}

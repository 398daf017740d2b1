using System.Security.Cryptography;
using UpgradeOps.Versioning;

namespace UpgradeOps.Profiles;

/// <summary>The value a configuration rule writes, and whether it may be shown (a profile default) or not (given or generated).</summary>
public sealed record RuleValue(string? Value, bool Secret);

/// <summary>
/// What the profile's configuration rules mean, on both platforms: which rules a hop crosses, and which value a rule
/// writes. The Compose form names a .env variable (requiresVariable); the Helm form a dotted values key
/// (requiresValuesKey, optionally movedFrom an older key). The files are edited by ComposeConfiguration (.env) and
/// HelmConfiguration (values file).
/// </summary>
/// <summary>What a configuration rule edits: a .env variable (requiresVariable) or a dotted values key (requiresValuesKey).</summary>
public enum ConfigurationTarget { EnvFile, ValuesFile }

public static class ConfigurationRules
{
    /// <summary>
    /// The rules of one kind of setting a hop crosses: an appVersion rule when from &lt; appVersion ≤ to; a chartVersion rule
    /// when the chart moves from below it to it or above (both chart versions known).
    /// </summary>
    public static IReadOnlyList<ConfigurationRule> Applicable(ProductProfile profile, ConfigurationTarget target, ProductVersion from, ProductVersion to,
        string? fromChart = null, string? toChart = null) =>
        profile.ConfigurationRules.Where(r => (target == ConfigurationTarget.EnvFile ? r.RequiresVariable : r.RequiresValuesKey) is not null &&
                                              (Crosses(r.AppVersion, from, to) || Crosses(r.ChartVersion, fromChart, toChart))).ToList();

    /// <summary>The Helm rules (requiresValuesKey) tied to a chart version that a chart upgrade crosses: from below it to it or above.</summary>
    public static IReadOnlyList<ConfigurationRule> CrossedByChart(ProductProfile profile, ProductVersion fromChart, ProductVersion toChart) =>
        profile.ConfigurationRules.Where(r => r.RequiresValuesKey is not null && Crosses(r.ChartVersion, fromChart, toChart)).ToList();

    private static bool Crosses(string? since, string? from, string? to) =>
        ProductVersion.TryParse(from, out var f) && ProductVersion.TryParse(to, out var t) && Crosses(since, f!, t!);

    private static bool Crosses(string? since, ProductVersion from, ProductVersion to) =>
        since is not null && ProductVersion.TryParse(since, out var version) && version! > from && version! <= to;

    /// <summary>
    /// The value a rule writes: null when the setting is already set and no value was given (nothing to do); otherwise
    /// the given value (secret), the rule's default (shown), a generated secret, or no value (Missing: the user must give one).
    /// </summary>
    public static RuleValue? Decide(ConfigurationRule rule, string setting, bool alreadySet, IReadOnlyDictionary<string, string>? givenValues)
    {
        if (givenValues is not null && givenValues.TryGetValue(setting, out var given)) return new RuleValue(given, Secret: true);
        if (alreadySet) return null;
        if (rule.DefaultValue is not null) return new RuleValue(rule.DefaultValue, Secret: false);
        return rule.Generate ? new RuleValue(Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant(), Secret: true) : new RuleValue(null, Secret: false);
    }

    /// <summary>The error that stops an upgrade (or a conversion) before anything changes when a rule has no value.</summary>
    public static UpgradeOpsException MissingValues(IReadOnlyList<ConfigurationChange> missing, string to, string file, string how) =>
        new("ConfigurationValueRequired", ErrorKind.InvalidData, file,
            $"{to} requires {string.Join(", ", missing.Select(m => m.Setting))} ({string.Join(" ", missing.Select(m => m.Description))}). " +
            $"Nothing was changed. Give it with -ConfigurationValue @{{ '{missing[0].Setting}' = '...' }} (it is written to {how} and never shown), or set it in {file}, then run again.");
}

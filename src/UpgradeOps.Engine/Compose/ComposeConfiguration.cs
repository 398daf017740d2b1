using System.Text.RegularExpressions;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Compose;

/// <summary>
/// Configuration migrations of a Compose deployment: the profile's rules for the versions a hop crosses
/// (e.g. "2.0.0 requires APP_SIGNING_KEY") become edits of the .env file — a value from the rule, or a
/// generated secret — shown as a diff with every secret masked.
/// </summary>
public static partial class ComposeConfiguration
{
    public static IReadOnlyList<ConfigurationRule> Applicable(ProductProfile profile, ProductVersion from, ProductVersion to) =>
        ConfigurationRules.Applicable(profile, DeploymentPlatform.Compose, from, to);

    /// <summary>The .env edit and the changes for a hop; Missing changes have no value and block the upgrade.</summary>
    public static (FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes) Plan(ComposeFile file, ProductProfile profile, ProductVersion from, ProductVersion to,
        IReadOnlyDictionary<string, string>? givenValues = null)
    {
        var rules = Applicable(profile, from, to);
        var changes = new List<ConfigurationChange>();
        if (rules.Count == 0) return (null, changes);

        var (text, bom) = File.Exists(file.EnvFilePath) ? FileEdit.Read(file.EnvFilePath) : ("", false);
        var current = EnvFile.Parse(text);
        var edited = text;
        foreach (var rule in rules)
        {
            var name = rule.RequiresVariable!;
            var change = new ConfigurationChange { RuleId = rule.Id, Description = rule.Description, Setting = name, File = file.EnvFilePath, Action = "AlreadySet" };
            changes.Add(change);
            var decision = ConfigurationRules.Decide(rule, name, current.TryGetValue(name, out var existing) && existing.Length > 0, givenValues);
            if (decision is null) continue;
            var value = decision.Value;
            if (value is null)
            {
                change.Action = "Missing";
                continue;
            }
            var line = new Regex($@"^(?<lead>[ \t]*(?:export[ \t]+)?{Regex.Escape(name)}[ \t]*=).*$", RegexOptions.Multiline);
            edited = line.IsMatch(edited)
                ? line.Replace(edited, m => m.Groups["lead"].Value + value, 1)
                : edited + (edited.Length == 0 || edited.EndsWith('\n') ? "" : "\n") + $"{name}={value}\n";
            change.Action = "Added";
        }

        if (edited == text) return (null, changes);
        var edit = new FileEdit(file.EnvFilePath, text, edited, bom) { ShownVariables = Array.Empty<string>() };
        foreach (var change in changes.Where(c => c.Action == "Added")) change.Diff = edit.Diff;
        return (edit, changes);
    }

    /// <summary>The values the applicable rules require, read from .env, for the recreated containers' environment.</summary>
    public static IReadOnlyDictionary<string, string?> RequiredValues(ComposeFile file, ProductProfile profile, ProductVersion from, ProductVersion to)
    {
        var current = EnvFile.Read(file.EnvFilePath);
        return Applicable(profile, from, to)
            .Where(r => current.TryGetValue(r.RequiresVariable!, out var v) && v.Length > 0)
            .ToDictionary(r => r.RequiresVariable!, r => (string?)current[r.RequiresVariable!]);
    }
}

using System.Text.RegularExpressions;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Hosting;

namespace UpgradeOps.Compose;

/// <summary>
/// Configuration migrations of a Compose deployment: the profile's rules for the versions a hop crosses
/// (e.g. "2.0.0 requires APP_SIGNING_KEY") become edits of the .env file — a value from the rule, or a
/// generated secret — shown as a diff with every secret masked. The file keeps its line ends (an added line of a
/// CRLF file ends in CRLF) and its byte order mark; of a key set twice, the last assignment is the one compose
/// uses, so that is the one read and edited.
/// </summary>
public static partial class ComposeConfiguration
{
    public static IReadOnlyList<ConfigurationRule> Applicable(ProductProfile profile, ProductVersion from, ProductVersion to) =>
        ConfigurationRules.Applicable(profile, ConfigurationTarget.EnvFile, from, to);

    /// <summary>The .env edit and the changes for a hop; Missing changes have no value and block the upgrade.</summary>
    public static (FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes) Plan(ComposeFile file, ProductProfile profile, ProductVersion from, ProductVersion to,
        IReadOnlyDictionary<string, string>? givenValues = null)
    {
        var rules = Applicable(profile, from, to);
        var changes = new List<ConfigurationChange>();
        if (rules.Count == 0) return (null, changes);

        var (text, bom) = EnvFile.Open(file.EnvFilePath) ?? ("", false);
        var current = EnvFile.Parse(text);
        var newLine = text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        var edited = text;
        foreach (var rule in rules)
        {
            var name = rule.RequiresVariable!;
            var change = new ConfigurationChange { RuleId = rule.Id, Description = rule.Description, Setting = name, File = file.EnvFilePath, Action = ConfigurationAction.AlreadySet };
            changes.Add(change);
            var decision = ConfigurationRules.Decide(rule, name, current.TryGetValue(name, out var existing) && existing.Length > 0, givenValues);
            if (decision is null) continue;
            var value = decision.Value;
            if (value is null)
            {
                change.Action = ConfigurationAction.Missing;
                continue;
            }
            var written = EnvValue(name, value);
            var assignments = new Regex($@"^(?<lead>[ \t]*(?:export[ \t]+)?{Regex.Escape(name)}[ \t]*=)[^\r\n]*", RegexOptions.Multiline).Matches(edited);
            edited = assignments.Count > 0 && assignments[^1] is var last
                ? edited[..last.Index] + last.Groups["lead"].Value + written + edited[(last.Index + last.Length)..]
                : edited + (edited.Length == 0 || edited.EndsWith('\n') ? "" : newLine) + $"{name}={written}{newLine}";
            change.Action = ConfigurationAction.Added;
        }

        if (edited == text) return (null, changes);
        var edit = new FileEdit(file.EnvFilePath, text, edited, bom) { ShownVariables = Array.Empty<string>() };
        foreach (var change in changes.Where(c => c.Action == ConfigurationAction.Added)) change.Diff = edit.Diff;
        return (edit, changes);
    }

    /// <summary>
    /// A value as a .env line must hold it for compose to read it back unchanged: as it is when compose would not change it
    /// unquoted (no $ to expand, no # to cut, no spaces to trim, no leading quote, no backslash), else in single quotes,
    /// where compose changes nothing. A line break cannot be on one line, and a value that needs quoting but holds a single
    /// quote or ends in a backslash (which would escape the closing quote) has no form compose reads back: both are refused.
    /// </summary>
    internal static string EnvValue(string name, string value)
    {
        if (value.IndexOfAny(['\r', '\n', '\0']) >= 0)
            throw new UpgradeOpsException("ConfigurationValueInvalid", ErrorKind.InvalidArgument, name,
                $"The value for {name} holds a line break (or a NUL character), which a line of .env cannot hold. Give the value on one line.");
        if (PlainEnvValue().IsMatch(value)) return value;
        if (!value.Contains('\'') && !value.EndsWith('\\')) return $"'{value}'";
        throw new UpgradeOpsException("ConfigurationValueInvalid", ErrorKind.InvalidArgument, name,
            $"The value for {name} needs quoting in .env (it holds $, #, a space or a backslash) but holds a single quote or ends in a backslash, " +
            "so no .env line gives it back to compose unchanged. Give a value without them, or write it to .env by hand.");
    }

    [GeneratedRegex(@"^(?!['""])[^\s#$\\]*$")]
    private static partial Regex PlainEnvValue();

    /// <summary>The values the applicable rules require, read from .env, for the recreated containers' environment.</summary>
    public static IReadOnlyDictionary<string, string?> RequiredValues(ComposeFile file, ProductProfile profile, ProductVersion from, ProductVersion to)
    {
        var current = EnvFile.Read(file.EnvFilePath);
        return Applicable(profile, from, to)
            .Where(r => current.TryGetValue(r.RequiresVariable!, out var v) && v.Length > 0)
            .ToDictionary(r => r.RequiresVariable!, r => (string?)current[r.RequiresVariable!]);
    }
}

using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Hosting;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Configuration migrations of a Helm release: the profile's Helm rules (requiresValuesKey, movedFrom) for the app and
/// chart versions a hop crosses become text edits of the user's values file (<see cref="YamlValuesEditor"/>): a key
/// added with the rule's default, a given or generated value, or an older key moved to its new place. The diff masks
/// given and generated values and keys with secret names.
/// </summary>
public static class HelmConfiguration
{
    /// <summary>
    /// The values-file edit and the changes for a hop. <paramref name="isSetElsewhere"/> says whether a key is set where
    /// helm also reads it (other values files, the release's values reused by helm upgrade); Missing changes block.
    /// </summary>
    public static (FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes) Plan(string valuesFile, ProductProfile profile,
        ProductVersion from, ProductVersion to, string? fromChart, string? toChart,
        IReadOnlyDictionary<string, string>? givenValues = null, Func<string, string?>? isSetElsewhere = null)
    {
        var rules = ConfigurationRules.Applicable(profile, ConfigurationTarget.ValuesFile, from, to, fromChart, toChart);
        var changes = new List<ConfigurationChange>();
        if (rules.Count == 0) return (null, changes);

        var (text, bom) = LocalFile.Read(valuesFile, "The values file", "ValuesFileUnreadable") ?? ("", false);
        var edited = text;
        var secrets = new List<string>();
        foreach (var rule in rules)
        {
            var key = rule.RequiresValuesKey!;
            var change = new ConfigurationChange { RuleId = rule.Id, Description = rule.Description, Setting = key, File = valuesFile, Action = ConfigurationAction.AlreadySet };
            changes.Add(change);
            var alreadySet = YamlValuesEditor.IsSet(edited, key) || isSetElsewhere?.Invoke(key) is { Length: > 0 };
            if (!alreadySet && givenValues?.ContainsKey(key) != true && rule.MovedFrom is { } old)
            {
                if (YamlValuesEditor.IsSet(edited, old))
                {
                    edited = YamlValuesEditor.Move(edited, old, key);
                    (change.Action, change.MovedFrom) = (ConfigurationAction.Moved, old);
                    continue;
                }
                // Set only where this file cannot move it from (the release's values): its value is copied.
                if (isSetElsewhere?.Invoke(old) is { Length: > 0 } elsewhere)
                {
                    edited = YamlValuesEditor.Set(edited, key, elsewhere, quote: true);
                    secrets.Add(elsewhere);
                    (change.Action, change.MovedFrom) = (ConfigurationAction.Moved, old);
                    continue;
                }
            }
            var decision = ConfigurationRules.Decide(rule, key, alreadySet, givenValues);
            if (decision is null) continue;
            if (decision.Value is null)
            {
                change.Action = ConfigurationAction.Missing;
                continue;
            }
            if (decision.Secret) secrets.Add(decision.Value);
            edited = YamlValuesEditor.Set(edited, key, decision.Value, quote: decision.Secret);
            change.Action = ConfigurationAction.Added;
        }

        if (edited == text) return (null, changes);
        var edit = new FileEdit(valuesFile, text, edited, bom) { SecretValues = secrets };
        foreach (var change in changes.Where(c => c.Action is ConfigurationAction.Added or ConfigurationAction.Moved)) change.Diff = edit.Diff;
        return (edit, changes);
    }

    /// <summary>
    /// The values files the user gave (-ValuesFile), checked before anything asks the cluster: each must exist, be a file
    /// and be YAML with no key twice in a map (helm would read one of the two, YamlDotNet refuses the file). Their errors
    /// name the file, and the line and column where YAML says.
    /// </summary>
    public static void CheckValuesFiles(IEnumerable<string> valuesFiles)
    {
        foreach (var path in valuesFiles) ReadValuesFile(path);
    }

    /// <summary>The text of a values file the user gave, checked as <see cref="CheckValuesFiles"/> says.</summary>
    internal static string ReadValuesFile(string path)
    {
        var text = LocalFile.Read(path, "The values file", "ValuesFileUnreadable")?.Text
            ?? throw new UpgradeOpsException("ValuesFileNotFound", ErrorKind.ObjectNotFound, path,
                $"The values file '{LocalFile.Shown(path)}' does not exist. Give the path of the values file you pass to helm upgrade -f (an empty file to start one), then run it again.");
        try
        {
            SafeYaml.Load(text);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new UpgradeOpsException("ValuesFileUnreadable", ErrorKind.InvalidData, path,
                SafeYaml.Describe(path, text, ex) + (ex.Message.StartsWith("Duplicate key", StringComparison.Ordinal)
                    ? ": the key is set twice in the same map, and helm would use only one of them. Keep the one you mean, then run it again."
                    : ". Fix the YAML, then run it again."), ex);
        }
        return text;
    }

    /// <summary>
    /// The version of a local chart: a folder's Chart.yaml, or the Chart.yaml at the top of a packaged chart (.tgz, as helm
    /// package writes it); null for a repository or OCI chart. helm installs a local chart as it is, ignoring --version.
    /// </summary>
    public static string? LocalChartVersion(string chart)
    {
        var file = Path.Combine(chart, "Chart.yaml");
        if (Directory.Exists(chart)) return File.Exists(file) ? YamlValuesEditor.GetScalar(File.ReadAllText(file), "version") : null;
        if (!File.Exists(chart) || !(chart.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase) || chart.EndsWith(".tar.gz", StringComparison.OrdinalIgnoreCase)))
            return null;
        try
        {
            using var gzip = new System.IO.Compression.GZipStream(File.OpenRead(chart), System.IO.Compression.CompressionMode.Decompress);
            using var tar = new System.Formats.Tar.TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
                if (entry.DataStream is { } data && entry.Name.Split('/') is [{ Length: > 0 }, "Chart.yaml"])
                    return YamlValuesEditor.GetScalar(new StreamReader(data).ReadToEnd(), "version");
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
        {
            // Not a chart archive: helm says so itself when it loads it.
        }
        return null;
    }

    /// <summary>A function that says whether any of the values files sets a key (its value), for keys set outside the edited file.</summary>
    public static Func<string, string?> ValuesLookup(IEnumerable<string> valuesFiles, Func<string, string?>? fallback = null)
    {
        var texts = valuesFiles.Select(f => LocalFile.Read(f, "The values file", "ValuesFileUnreadable")?.Text).OfType<string>().ToList();
        return key => texts.Select(t => YamlValuesEditor.IsSet(t, key) ? YamlValuesEditor.GetScalar(t, key) ?? "(set)" : null).LastOrDefault(v => v is not null)
                      ?? fallback?.Invoke(key);
    }
}

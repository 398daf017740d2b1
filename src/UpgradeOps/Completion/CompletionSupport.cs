using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Runtime.CompilerServices;
using UpgradeOps.Profiles;
using UpgradeOps.ReleaseNotes;

namespace UpgradeOps.Commands.Completion;

/// <summary>
/// What the completers share: reading the fake-bound parameters PowerShell passes them, resolving paths against the
/// session's current location, and caches keyed by file and time stamp so that pressing Tab twice reads nothing twice.
/// Nothing here talks to Docker or the network: completion must be fast and must never throw.
/// </summary>
internal static class CompletionSupport
{
    private static readonly ConcurrentDictionary<string, (DateTime Stamp, IReadOnlyList<string> Values)> Cache = new(StringComparer.Ordinal);

    /// <summary>The value of a bound parameter, unwrapped from PSObject; null when it is not bound.</summary>
    public static object? Bound(IDictionary? fakeBoundParameters, string name)
    {
        if (fakeBoundParameters is null || !fakeBoundParameters.Contains(name)) return null;
        var value = fakeBoundParameters[name];
        return value is PSObject { BaseObject: not PSCustomObject } wrapped ? wrapped.BaseObject : value;
    }

    /// <summary>A string property of a bound object (works for engine objects, PSObjects and deserialized ones).</summary>
    public static string? Property(object? value, string name)
    {
        if (value is null) return null;
        if (value is IEnumerable and not string) value = ((IEnumerable)value).Cast<object?>().FirstOrDefault();
        if (value is null) return null;
        return PSObject.AsPSObject(value).Properties[name]?.Value?.ToString();
    }

    /// <summary>The bound value as strings (a string, an array of strings, or objects).</summary>
    public static IEnumerable<string> Strings(object? value) => value switch
    {
        null => Array.Empty<string>(),
        string text => new[] { text },
        IEnumerable many => many.Cast<object?>().Where(v => v is not null).Select(v => PSObject.AsPSObject(v!).BaseObject.ToString()!),
        _ => new[] { value.ToString()! },
    };

    /// <summary>The file system location of the session that is completing (the process directory if there is none).</summary>
    public static string CurrentDirectory()
    {
        try
        {
            // Completers run on the pipeline thread of the session that is completing: a nested pipeline there sees
            // that session's location (Set-Location does not change the process directory).
            using var shell = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
            var location = shell.AddCommand("Microsoft.PowerShell.Management\\Get-Location").AddParameter("PSProvider", "FileSystem")
                .Invoke<PathInfo>().FirstOrDefault()?.ProviderPath;
            if (!string.IsNullOrEmpty(location)) return location!;
        }
        catch (Exception)
        {
            // a runspace that is busy or gone: fall back to the process directory
        }
        return Environment.CurrentDirectory;
    }

    /// <summary>A path as typed (~ and relative paths included) made absolute against the session's location.</summary>
    public static string FullPath(string path)
    {
        path = Unquote(path);
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "");
        return Path.GetFullPath(Path.Combine(CurrentDirectory(), path));
    }

    public static string Unquote(string text)
    {
        text = text.Trim();
        if (text.Length > 0 && (text[0] == '\'' || text[0] == '"')) text = text[1..];
        if (text.Length > 0 && (text[^1] == '\'' || text[^1] == '"')) text = text[..^1];
        return text;
    }

    /// <summary>Quotes a completion that PowerShell would otherwise split or expand.</summary>
    public static string Quote(string text) =>
        text.IndexOfAny([' ', '\t', '$', '`', '\'', '"', '(', ')', '{', '}', ';', ',', '&', '@', '#', '|', '<', '>']) >= 0
            ? "'" + text.Replace("'", "''") + "'"
            : text;

    /// <summary>A profile as a built-in name stays as it is; a path is made absolute, as the cmdlets do.</summary>
    public static string ResolveProfile(string nameOrPath) =>
        nameOrPath.IndexOfAny(['/', '\\']) >= 0 || nameOrPath.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || nameOrPath.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase)
            ? FullPath(nameOrPath)
            : nameOrPath;

    /// <summary>The profile the command will use: -Profile, else the -Deployment's (or -UpgradePath's deployment's), else infrahub.</summary>
    public static string ProfileOf(IDictionary? fakeBoundParameters)
    {
        var path = Bound(fakeBoundParameters, "UpgradePath");
        var pathDeployment = path is null ? null : PSObject.AsPSObject(path).Properties["Deployment"]?.Value;
        var profile = Bound(fakeBoundParameters, "Profile") as string
            ?? Property(Bound(fakeBoundParameters, "Deployment"), "Profile")
            ?? Property(pathDeployment, "Profile");
        return string.IsNullOrWhiteSpace(profile) ? "infrahub" : profile!;
    }

    /// <summary>Reads a value list once per file version (built-in profiles once per session).</summary>
    public static IReadOnlyList<string> Cached(string kind, string pathOrName, Func<IReadOnlyList<string>> read)
    {
        var stamp = File.Exists(pathOrName) ? File.GetLastWriteTimeUtc(pathOrName) : DateTime.MinValue;
        var key = kind + "|" + pathOrName;
        if (Cache.TryGetValue(key, out var hit) && hit.Stamp == stamp) return hit.Values;
        var values = read();
        Cache[key] = (stamp, values);
        return values;
    }

    // The methods below touch engine types: they are compiled only when called (after the engine's load context is
    // in place), and their callers catch whatever loading or parsing throws.

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IReadOnlyList<string> CatalogVersions(string profile) =>
        Cached("catalog", profile, () => ProfileLoader.Load(profile).Catalog.ToList());

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IReadOnlyList<string> DataStoreNames(string profile) =>
        Cached("datastores", profile, () => ProfileLoader.Load(profile).DataStores.Select(d => d.Name).ToList());

    /// <summary>Versions a local release-notes file has notes for. URLs are never fetched while completing.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IReadOnlyList<string> ReleaseNoteVersions(string path)
    {
        if (!File.Exists(path)) return Array.Empty<string>();
        var info = new FileInfo(path);
        if (info.Length > 16 * 1024 * 1024) return Array.Empty<string>(); // not a changelog worth parsing on Tab
        return Cached("releasenotes", path, () =>
            ReleaseNoteParser.Parse(File.ReadAllText(path), ReleaseNoteFormat.Auto, path).Versions.Select(v => v.ToString()).ToList());
    }

    /// <summary>Runs a completer: completion must never throw, so anything that fails completes nothing.</summary>
    public static IEnumerable<CompletionResult> Safely(Func<IEnumerable<CompletionResult>> complete)
    {
        try
        {
            return complete().ToList();
        }
        catch (Exception)
        {
            return Array.Empty<CompletionResult>();
        }
    }

    /// <summary>The candidates whose name starts with what is typed, quoted where needed, in the given order.</summary>
    public static IEnumerable<CompletionResult> Matching(string? wordToComplete, IEnumerable<(string Name, string ToolTip)> candidates)
    {
        var typed = Unquote(wordToComplete ?? "");
        return candidates.Where(c => c.Name.Length > 0 && c.Name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
            .Select(c => Result(Quote(c.Name), c.Name, c.ToolTip));
    }

    public static CompletionResult Result(string completion, string listItem, string toolTip) =>
        new(completion, listItem, CompletionResultType.ParameterValue, string.IsNullOrEmpty(toolTip) ? listItem : toolTip);
}

using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Runtime.CompilerServices;
using UpgradeOps.Versioning;

namespace UpgradeOps.Commands.Completion;

/// <summary>
/// Completes product versions (-To, -From, -ExpectedVersion, -AvailableVersion) from what the command itself would know:
/// the profile's catalog (the bound -Profile, or the bound -Deployment's profile, else infrahub), the bound
/// -AvailableVersion values and a local release-notes file (-ReleaseNotePath, or -Path of Get-UpgradeReleaseNote).
/// Newest first; for -To, only versions newer than the known current version (when any are).
/// </summary>
public sealed class VersionCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSupport.Safely(() => Complete(commandName, parameterName, wordToComplete ?? "", fakeBoundParameters));

    private static IEnumerable<CompletionResult> Complete(string commandName, string parameterName, string word, IDictionary? bound)
    {
        var candidates = new List<(string Version, string Source)>();

        void Add(IEnumerable<string> versions, string source)
        {
            foreach (var version in versions) candidates.Add((version, source));
        }

        var profile = CompletionSupport.ProfileOf(bound);
        try { Add(CompletionSupport.CatalogVersions(CompletionSupport.ResolveProfile(profile)), $"catalog of profile {profile}"); }
        catch (Exception) { /* an unloadable profile contributes nothing */ }

        Add(CompletionSupport.Strings(CompletionSupport.Bound(bound, "AvailableVersion")), "-AvailableVersion");

        var notes = CompletionSupport.Bound(bound, "ReleaseNotePath") as string
            ?? (string.Equals(commandName, "Get-UpgradeReleaseNote", StringComparison.OrdinalIgnoreCase) ? CompletionSupport.Bound(bound, "Path") as string : null);
        if (!string.IsNullOrWhiteSpace(notes))
        {
            try { Add(CompletionSupport.ReleaseNoteVersions(CompletionSupport.FullPath(notes!)), $"release notes {Path.GetFileName(notes)}"); }
            catch (Exception) { /* unreadable notes contribute nothing */ }
        }

        // The version to upgrade from, for -To: -From, or the deployment's version.
        var current = string.Equals(parameterName, "To", StringComparison.OrdinalIgnoreCase)
            ? CompletionSupport.Bound(bound, "From") as string ?? CompletionSupport.Property(CompletionSupport.Bound(bound, "Deployment"), "Version")
            : null;

        var typed = CompletionSupport.Unquote(word);
        return Order(candidates, current)
            .Where(c => c.Version.StartsWith(typed, StringComparison.OrdinalIgnoreCase)
                || (typed.StartsWith('v') && c.Version.StartsWith(typed[1..], StringComparison.OrdinalIgnoreCase)))
            .Select(c => CompletionSupport.Result(c.Version, c.Version, $"{c.Version} (from the {c.Source})"))
            .ToList();
    }

    /// <summary>Distinct versions, newest first; with a current version, those above it (unless none are).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IEnumerable<(string Version, string Source)> Order(List<(string Version, string Source)> candidates, string? current)
    {
        var parsed = new List<(ProductVersion Parsed, string Version, string Source)>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (version, source) in candidates)
        {
            if (!ProductVersion.TryParse(version, out var v) || v is null) continue;
            if (seen.Add(v.ToString())) parsed.Add((v, v.ToString(), source));
        }
        parsed.Sort((a, b) => b.Parsed.CompareTo(a.Parsed));
        if (current is not null && ProductVersion.TryParse(current, out var from) && from is not null)
        {
            var newer = parsed.Where(p => p.Parsed > from).ToList();
            if (newer.Count > 0) parsed = newer;
        }
        return parsed.Select(p => (p.Version, p.Source));
    }
}

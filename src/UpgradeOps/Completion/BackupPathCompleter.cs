using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Runtime.CompilerServices;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;

namespace UpgradeOps.Commands.Completion;

/// <summary>
/// Completes the -Path of one backup (Test-DeploymentBackup, Restore-DeploymentBackup): the backups in the folder typed
/// so far (the current location when nothing is typed), newest first, read by the engine's BackupCatalog from their
/// manifests, with deployment, version and date as the tooltip; then the other folders, to walk down to a backup folder.
/// Only manifest.json files are read: no checksums, no Docker.
/// </summary>
public sealed class BackupPathCompleter : IArgumentCompleter
{
    private const int MaximumFolders = 200;

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSupport.Safely(() => Complete(wordToComplete ?? "", fakeBoundParameters));

    private static IEnumerable<CompletionResult> Complete(string word, IDictionary? bound)
    {
        var typed = CompletionSupport.Unquote(word);
        var cut = typed.LastIndexOfAny(['/', '\\']);
        var typedFolder = cut >= 0 ? typed[..(cut + 1)] : "";   // as the user typed it, kept in the completion
        var prefix = cut >= 0 ? typed[(cut + 1)..] : typed;
        var folder = CompletionSupport.FullPath(typedFolder.Length == 0 ? "." : typedFolder);
        if (!Directory.Exists(folder)) return Array.Empty<CompletionResult>();

        var deploymentName = CompletionSupport.Property(CompletionSupport.Bound(bound, "Deployment"), "Name");
        var results = new List<CompletionResult>();
        var backupFolders = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, toolTip) in Backups(folder, deploymentName))
        {
            if (!name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) continue;
            backupFolders.Add(name);
            results.Add(CompletionSupport.Result(CompletionSupport.Quote(typedFolder + name), name, toolTip));
        }

        foreach (var directory in Directory.EnumerateDirectories(folder).Take(MaximumFolders).Select(Path.GetFileName).OfType<string>()
                     .Where(n => !n.StartsWith('.') && !backupFolders.Contains(n) && n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                     .Order(StringComparer.OrdinalIgnoreCase))
        {
            results.Add(new CompletionResult(CompletionSupport.Quote(typedFolder + directory), directory,
                CompletionResultType.ProviderContainer, Path.Combine(folder, directory)));
        }
        return results;
    }

    /// <summary>The backups in <paramref name="folder"/>, newest first, those of the bound deployment before others.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IEnumerable<(string Name, string ToolTip)> Backups(string folder, string? deploymentName)
    {
        if (File.Exists(Path.Combine(folder, BackupManifest.FileName))) return Array.Empty<(string, string)>(); // already inside one
        var backups = BackupCatalog.List(folder, null, EngineContext.Silent());
        return backups
            .OrderByDescending(b => deploymentName is not null && string.Equals(b.DeploymentName, deploymentName, StringComparison.OrdinalIgnoreCase))
            .ThenByDescending(b => b.CreatedAt)
            .Select(b => (Path.GetFileName(Path.TrimEndingDirectorySeparator(b.Path)),
                $"{b.DeploymentName} {b.Version}, {b.CreatedAt:yyyy-MM-dd HH:mm} ({b.Components.Count} components{(b.Encrypted ? ", encrypted" : "")})"))
            .ToList();
    }
}

using Microsoft.Extensions.Logging;

using UpgradeOps.Backups;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// A Volume data store on Kubernetes, archived with the pod's own tar through the exec API (no local binaries, no
/// copy to the node): <c>tar -C PATH -cf - .</c> streams into the backup file, and a restore empties PATH and streams
/// the archive back into <c>tar -C PATH -xf -</c>. The archive is a plain tar, verified like a Compose volume's.
/// </summary>
internal static class PodVolumeArchive
{
    public static IReadOnlyList<string> CreateCommand(string path) => ["tar", "-C", path, "-cf", "-", "."];

    /// <summary>Creates PATH if needed, removes everything in it (never PATH itself), then extracts stdin into it.</summary>
    public static IReadOnlyList<string> ExtractCommand(string path) =>
        ["sh", "-c", "mkdir -p \"$1\" && find \"$1\" -mindepth 1 -maxdepth 1 -exec rm -rf {} + && tar -C \"$1\" -xf -", "sh", path];

    /// <summary>Archives PATH; a PATH that does not exist yet (an application creates it on first use) is archived empty, with a warning.</summary>
    public static async Task CaptureAsync(IContainerExec exec, string store, string path, Stream target, ILogger log, CancellationToken ct)
    {
        if ((await exec.RunAsync(["test", "-d", path], ct).ConfigureAwait(false)).ExitCode != 0)
        {
            log.LogWarning("{Path} does not exist in {Pod} (data store {Store}): it is backed up empty. If the data lives elsewhere, correct the profile's 'path'.",
                path, exec.Description, store);
            await exec.RunAsync(["mkdir", "-p", path], ct).ConfigureAwait(false);
        }
        var result = await exec.RunAsync(CreateCommand(path), ct, target).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new UpgradeOpsException("VolumeBackupFailed", ErrorKind.ResourceUnavailable, store,
                $"tar of {path} in {exec.Description} failed (exit {result.ExitCode}): {Trim(result.StandardError)} " +
                "Check that the path exists in that pod and that the container has tar; the partial backup was removed.");
    }

    public static async Task RestoreAsync(IContainerExec exec, string store, string path, Stream archive, CancellationToken ct)
    {
        var result = await exec.RunAsync(ExtractCommand(path), ct, standardInput: archive).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new UpgradeOpsException("VolumeRestoreFailed", ErrorKind.ResourceUnavailable, store,
                $"Restoring {path} in {exec.Description} failed (exit {result.ExitCode}): {Trim(result.StandardError)} " +
                "The path may be partly restored: check that the container may write it and has sh, find and tar, then run Restore-DeploymentBackup again.");
    }

    private static string Trim(string text) => text.Length > 500 ? text[..500] + "…" : text.Trim();
}

using Microsoft.Extensions.Logging;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;

namespace UpgradeOps.Backups;

/// <summary>Lists the backups in a folder, newest first. Unfinished (.partial) folders are never listed.</summary>
public static class BackupCatalog
{
    public static IReadOnlyList<DeploymentBackup> List(string path, string? deploymentName, EngineContext context)
    {
        var log = context.CreateLogger(nameof(BackupCatalog));
        var root = Path.GetFullPath(path);
        if (!Directory.Exists(root))
            throw new UpgradeOpsException("BackupPathNotFound", ErrorKind.ObjectNotFound, path,
                $"The backup folder '{LocalFile.Shown(root)}' does not exist. Give the -Path that New-DeploymentBackup wrote to.");

        // A folder that is itself a backup is listed on its own.
        var folders = File.Exists(Path.Combine(root, BackupManifest.FileName)) ? new[] { root } : Directory.GetDirectories(root);
        var backups = new List<DeploymentBackup>();
        foreach (var folder in folders.Where(f => !Path.GetFileName(f).StartsWith('.')))
        {
            try
            {
                var backup = BackupManifest.Read(folder).Backup;
                if (deploymentName is null || backup.DeploymentName.Equals(deploymentName, StringComparison.OrdinalIgnoreCase))
                    backups.Add(backup);
            }
            catch (BackupFormatException ex)
            {
                log.LogWarning("{Folder} is not a usable backup ({ErrorId}): {Message}", LocalFile.Shown(folder), ex.ErrorId, ex.Message);
            }
        }
        return backups.OrderByDescending(b => b.CreatedAt).ToList();
    }

    /// <summary>
    /// The backup in a folder, with the manifest's problems as ErrorIds. Given the passphrase, the manifest is proven with
    /// it too: a wrong key, a manifest whose MAC does not match, or an -EncryptionKey for a backup that says it is not
    /// encrypted are refused here, before anything reads the backup's files.
    /// </summary>
    public static DeploymentBackup Open(string folder, byte[]? passphrase = null)
    {
        RequireFolder(folder);
        BackupManifest manifest;
        try
        {
            manifest = BackupManifest.Read(Path.GetFullPath(folder));
        }
        catch (BackupFormatException ex)
        {
            throw new UpgradeOpsException(ex.ErrorId, ex.Kind, folder, ex.Message);
        }
        if (passphrase is not null && AuthenticityProblem(manifest.Authenticate(passphrase)) is { } problem)
            throw new UpgradeOpsException(problem.ErrorId, problem.Kind, folder, problem.Message);
        return manifest.Backup;
    }

    /// <summary>A backup path that is not a folder: BackupPathNotFound, saying what to give instead.</summary>
    public static void RequireFolder(string path)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (ArgumentException)
        {
            // Empty (a backup object without its Path) or holding a NUL: no folder can have that name.
            throw new UpgradeOpsException("BackupPathNotFound", ErrorKind.ObjectNotFound, path,
                $"'{LocalFile.Shown(path)}' is not the path of a folder. Give the backup's folder, the one holding {BackupManifest.FileName} (Get-DeploymentBackup lists them).");
        }
        if (Directory.Exists(full)) return;
        throw new UpgradeOpsException("BackupPathNotFound", ErrorKind.ObjectNotFound, path, File.Exists(full)
            ? $"'{LocalFile.Shown(full)}' is a file, not a backup folder. Give the backup's folder, the one holding {BackupManifest.FileName} (Get-DeploymentBackup lists them)."
            : $"The backup folder '{LocalFile.Shown(full)}' does not exist. Give the folder of a backup: Get-DeploymentBackup -Path <the folder New-DeploymentBackup wrote to> lists them.");
    }

    /// <summary>Why the key does not let a backup be used, as its ErrorId, kind and message; null when it does.</summary>
    internal static BackupFormatException? AuthenticityProblem(ManifestAuthenticity authenticity) => authenticity switch
    {
        ManifestAuthenticity.WrongKey => new("BackupWrongKey",
            "The encryption key is not the one this backup was made with. Give the key used for New-DeploymentBackup.", ErrorKind.SecurityError),
        ManifestAuthenticity.Forged => new("BackupManifestTampered",
            "The manifest's MAC does not match the encryption key: the manifest was changed after the backup was made, by someone who could " +
            "recompute its integrity hash but not its MAC. Do not trust this backup; take a new one or use another.", ErrorKind.SecurityError),
        ManifestAuthenticity.NotEncrypted => new("BackupNotEncrypted",
            "An -EncryptionKey was given, but the manifest says this backup is not encrypted, so nothing proves the manifest. If the backup was made " +
            "with -EncryptionKey, its manifest was replaced: take a new backup or use another. If it was not: run it again without -EncryptionKey.", ErrorKind.InvalidArgument),
        _ => null,
    };
}

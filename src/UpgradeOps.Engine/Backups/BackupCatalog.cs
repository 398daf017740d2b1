using Microsoft.Extensions.Logging;
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
                $"The backup folder '{root}' does not exist. Give the -Path that New-DeploymentBackup wrote to.");

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
                log.LogWarning("{Folder} is not a usable backup ({ErrorId}): {Message}", folder, ex.ErrorId, ex.Message);
            }
        }
        return backups.OrderByDescending(b => b.CreatedAt).ToList();
    }

    /// <summary>The backup in a folder, with the manifest's problems as ErrorIds.</summary>
    public static DeploymentBackup Open(string folder)
    {
        try
        {
            return BackupManifest.Read(Path.GetFullPath(folder)).Backup;
        }
        catch (BackupFormatException ex)
        {
            throw new UpgradeOpsException(ex.ErrorId, ErrorKind.InvalidData, folder, ex.Message);
        }
    }
}

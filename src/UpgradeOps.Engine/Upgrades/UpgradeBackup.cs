using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Platforms;

namespace UpgradeOps.Upgrades;

/// <summary>The backup an upgrade starts from, on every platform: required unless -SkipBackup, verified, of this deployment at the starting version.</summary>
public static class UpgradeBackup
{
    public static UpgradeOpsException BackupRequired(Deployment deployment) =>
        new("BackupRequired", ErrorKind.InvalidOperation, deployment.Name,
            $"No backup was given. Take and verify one first: $b = $d | New-DeploymentBackup -Path /backups; $b | Test-DeploymentBackup -Deployment $d; " +
            "then Invoke-Upgrade -Backup $b (or -SkipBackup if you accept an upgrade that cannot be rolled back with its data).");

    /// <summary>The verified backup an upgrade requires (null with SkipBackup): of this deployment, at the starting version.</summary>
    public static async Task<DeploymentBackup?> CheckAsync(UpgradeRequest request, EngineContext context)
    {
        if (request.SkipBackup) return null;
        if (request.BackupPath is null) throw BackupRequired(request.Deployment);
        var verification = await BackupVerifier.VerifyAsync(new BackupVerificationRequest
        {
            BackupPath = request.BackupPath, Passphrase = request.Passphrase, Deployment = request.Deployment,
            DataStores = DeploymentPlatforms.Open(request.Deployment).OpenDataStoresAsync,
        }, context).ConfigureAwait(false);
        if (!verification.Passed)
            throw new UpgradeOpsException("BackupNotVerified", ErrorKind.InvalidData, request.BackupPath,
                $"The backup fails verification ({verification.FailureErrorId}: {verification.Checks.First(c => c.Status == CheckStatus.Failed).Detail}). Take a new one with New-DeploymentBackup.");
        var backup = verification.Backup!;
        if (backup.DeploymentName != request.Deployment.Name || backup.Version != request.Path.From)
            throw new UpgradeOpsException("BackupDoesNotMatch", ErrorKind.InvalidData, request.BackupPath,
                $"The backup is of '{backup.DeploymentName}' at {backup.Version}, not of '{request.Deployment.Name}' at {request.Path.From}: it could not roll this upgrade back. Take a new one.");
        return backup;
    }
}

using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;

namespace UpgradeOps.Backups;

/// <summary>What a restore verifies before it changes anything: the backup, the key, the deployment and where its data stores run.</summary>
public sealed class VerifiedRestore
{
    public required string BackupPath { get; init; }
    public required Deployment Deployment { get; init; }
    public byte[]? Passphrase { get; init; }
    public bool Force { get; init; }
    public required Func<CancellationToken, Task<IDataStoreHost>> DataStores { get; init; }
}

/// <summary>
/// The data part of a restore, the same on every platform: the backup verified first, then each dump restored into a
/// staging database beside the live one (its SHA-256 proven as it streams) and swapped in.
/// </summary>
public static class DataRestore
{
    /// <summary>
    /// The backup to restore, verified first (dumps are hashed while they stream into their staging databases, not read
    /// twice): refused when it fails verification, is encrypted without the right key, or was taken at another version,
    /// unless Force.
    /// </summary>
    public static async Task<DeploymentBackup> VerifiedBackupAsync(VerifiedRestore request, EngineContext context)
    {
        var verification = await BackupVerifier.VerifyAsync(new BackupVerificationRequest
        {
            BackupPath = request.BackupPath, Passphrase = request.Passphrase, Deployment = request.Deployment, DataStores = request.DataStores, DumpsCheckedWhileRestoring = true,
        }, context).ConfigureAwait(false);
        BackupVerifier.RefuseUntrusted(verification, request.BackupPath, "Nothing was restored.");
        if (verification.Checks.Any(c => c.ErrorId == "BackupWrongKey") || (request.Passphrase is null && verification.Backup?.Encrypted == true))
            throw new UpgradeOpsException("BackupWrongKey", ErrorKind.SecurityError, request.BackupPath,
                "The backup is encrypted and the right -EncryptionKey was not given: nothing was restored. Run again with -EncryptionKey, the key the backup was made with (New-DeploymentBackup -EncryptionKey).");
        if (!verification.Passed && !request.Force)
        {
            var failed = verification.Checks.First(c => c.Status == CheckStatus.Failed);
            throw new UpgradeOpsException(failed.ErrorId ?? "BackupVerificationFailed", ErrorKind.InvalidData, request.BackupPath,
                $"The backup failed verification ({failed.Name}: {failed.Detail}). Nothing was restored. Use another backup, or -Force to restore it anyway.");
        }
        var backup = verification.Backup ?? BackupCatalog.Open(request.BackupPath, request.Passphrase);
        if (backup.Version != request.Deployment.Version && !request.Force)
            throw new UpgradeOpsException("BackupVersionMismatch", ErrorKind.InvalidOperation, request.BackupPath,
                $"The backup was taken at version {backup.Version} and the deployment runs {request.Deployment.Version}: restoring data under other images " +
                "would leave the services unable to start. Use Invoke-Rollback, which also returns the containers to the backup's images, or -Force.");

        return backup;
    }

    /// <summary>One dump restored into a staging database, then put in the live one's place (the replaced one dropped).</summary>
    public static async Task RestoreDatabaseAsync(IDataStoreHost source, string folder, BackupComponent component, byte[]? passphrase, CancellationToken ct)
    {
        var staged = await StageDatabaseAsync(source, folder, component, passphrase, ct).ConfigureAwait(false);
        if (await staged.Target.ReplaceDatabaseAsync(staged.Target.Database, staged.Name, ct).ConfigureAwait(false) is { } replaced)
            await staged.Target.TryDropDatabaseAsync(replaced, null).ConfigureAwait(false);
    }

    /// <summary>The profile's data store a backup component restores into, or BackupComponentUnknown.</summary>
    internal static Profiles.DataStoreDefinition StoreFor(Profiles.ProductProfile profile, BackupComponent component) =>
        profile.DataStores.FirstOrDefault(s => s.Name == component.Name)
            ?? throw new UpgradeOpsException("BackupComponentUnknown", ErrorKind.InvalidData, component.Name,
                $"The deployment's profile has no data store '{component.Name}' to restore {component.File} into. Use the profile the backup was made with (-Profile).");

    /// <summary>
    /// Restores a dump into a new database beside the live one, hashing the file as it streams; a dump whose checksum
    /// differs from the manifest's is dropped again and the live database was never touched.
    /// </summary>
    public static async Task<StagedDatabase> StageDatabaseAsync(IDataStoreHost source, string folder, BackupComponent component, byte[]? passphrase,
        CancellationToken ct)
    {
        var store = StoreFor(source.Profile, component);
        var target = await source.PostgresAsync(store, ct).ConfigureAwait(false);
        var staged = new StagedDatabase(target, $"upgradeops_restore_{Guid.NewGuid():N}"[..35]);
        try
        {
            await target.CreateDatabaseAsync(staged.Name, ct).ConfigureAwait(false);
            await using var file = BackupFiles.OpenRead(BackupVerifier.ComponentPath(folder, component));
            await using var hashing = new HashingStream(file);
            Exception? restoreFailure = null;
            try
            {
                // Disposing the decryption stream must not dispose the hashing stream under it, whose hash is read below.
                await using var decrypted = passphrase is null ? null : BackupEncryption.Decrypt(hashing, passphrase);
                await target.RestoreAsync(decrypted ?? hashing, staged.Name, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is UpgradeOpsException or BackupFormatException)
            {
                restoreFailure = ex;
            }
            // A damaged file usually makes pg_restore fail too: the checksum names the real cause.
            hashing.ReadToEnd();
            if (hashing.HashHex() != component.Sha256)
                throw new UpgradeOpsException("BackupChecksumMismatch", ErrorKind.InvalidData, folder,
                    $"{component.File}'s SHA-256 is {hashing.HashHex()}, the manifest recorded {component.Sha256}: the file was changed or damaged. " +
                    "The live database was not touched; restore another backup.", restoreFailure);
            if (restoreFailure is not null) ExceptionDispatchInfo.Throw(restoreFailure);
            return staged;
        }
        catch
        {
            await staged.Target.TryDropDatabaseAsync(staged.Name, null).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A Neo4j dump (or Enterprise backup artifact) loaded over the live database, hashing the file as it streams. Neo4j
    /// Community holds one user database, so there is no staging database beside it: the whole file was already hashed by the
    /// verification a restore starts with (<see cref="VerifiedBackupAsync"/>), and a checksum that differs now means the file
    /// changed during the restore.
    /// </summary>
    /// <param name="opened">Told the target before the load starts, so a caller can ask it afterwards, also after a failure, whether the server was stopped.</param>
    public static async Task LoadNeo4jAsync(IDataStoreHost source, string folder, BackupComponent component, byte[]? passphrase, ILogger log, CancellationToken ct,
        Action<Neo4jTarget>? opened = null)
    {
        var store = source.Profile.DataStores.FirstOrDefault(s => s.Name == component.Name && s.Kind == Profiles.DataStoreKind.Neo4j)
            ?? throw new UpgradeOpsException("BackupComponentUnknown", ErrorKind.InvalidData, component.Name,
                $"The deployment's profile has no Neo4j data store '{component.Name}' to load {component.File} into. Use the profile the backup was made with (-Profile).");
        var target = await source.Neo4jAsync(store, log, ct).ConfigureAwait(false);
        opened?.Invoke(target);
        await using var file = BackupFiles.OpenRead(BackupVerifier.ComponentPath(folder, component));
        await using var hashing = new HashingStream(file);
        await using (var decrypted = passphrase is null ? null : BackupEncryption.Decrypt(hashing, passphrase))
            await target.LoadAsync(decrypted ?? hashing, component.Neo4jEdition, ct).ConfigureAwait(false);
        hashing.ReadToEnd();
        if (hashing.HashHex() != component.Sha256)
            throw new UpgradeOpsException("BackupChecksumMismatch", ErrorKind.InvalidData, folder,
                $"{component.File}'s SHA-256 is {hashing.HashHex()}, the manifest recorded {component.Sha256}: the file changed while it was loaded. " +
                $"Database '{target.Database}' holds what was read; restore the backup again from a copy nothing writes to.");
    }

    /// <summary>A dump restored into a database of its own, waiting to replace the live one.</summary>
    public sealed class StagedDatabase(PostgresTarget target, string name)
    {
        public PostgresTarget Target { get; } = target;
        public string Name { get; } = name;
        public bool Replaced { get; set; }
        /// <summary>The name the live database was given when this one took its place.</summary>
        public string? ReplacedName { get; set; }
    }
}

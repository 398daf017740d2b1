using System.Formats.Tar;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;

namespace UpgradeOps.Backups;

/// <summary>What Test-DeploymentBackup asks.</summary>
public sealed class BackupVerificationRequest
{
    public required string BackupPath { get; init; }
    public byte[]? Passphrase { get; init; }
    /// <summary>Restore each database dump into a scratch database and compare row counts.</summary>
    public bool RestoreTest { get; init; }
    /// <summary>The deployment whose database server reads the dumps (pg_restore runs in its container).</summary>
    public Deployment? Deployment { get; init; }
    /// <summary>Opens where <see cref="Deployment"/>'s data stores run (its platform's); without it the dumps' contents are not read.</summary>
    public Func<CancellationToken, Task<IDataStoreHost>>? DataStores { get; init; }
    /// <summary>
    /// The caller (a restore) streams every dump through pg_restore and proves its SHA-256 as it goes: check only
    /// that the dumps are present and of their recorded size here, so a 1 GB dump is not read twice.
    /// </summary>
    internal bool DumpsCheckedWhileRestoring { get; init; }
}

/// <summary>
/// Proves a backup: manifest schema and integrity, every component present, complete and matching its
/// SHA-256, archives readable, each dump's table of contents readable by the target server's pg_restore,
/// and — with RestoreTest — each dump restored into a scratch database whose row counts match those
/// recorded at dump time (the scratch database is always dropped).
/// </summary>
public static class BackupVerifier
{
    public static async Task<BackupVerification> VerifyAsync(BackupVerificationRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(BackupVerifier));
        BackupCatalog.RequireFolder(request.BackupPath);
        var folder = Path.GetFullPath(request.BackupPath);
        var verification = new BackupVerification { BackupId = Path.GetFileName(folder), Path = folder, RestoreTested = request.RestoreTest };
        using var activity = context.StartActivity($"Verifying backup {verification.BackupId}");

        var manifestCheck = Start("Manifest");
        BackupManifest manifest;
        try
        {
            manifest = BackupManifest.Read(folder);
        }
        catch (BackupFormatException ex)
        {
            verification.Checks.Add(manifestCheck.Fail(ex.ErrorId, ex.Message));
            return verification;
        }
        verification.Backup = manifest.Backup;
        verification.BackupId = manifest.Backup.Id;
        verification.Checks.Add(manifestCheck.Pass($"schema {manifest.SchemaVersion}, {manifest.Backup.Components.Count} components, integrity hash matches"));

        var canDecrypt = !manifest.Backup.Encrypted;
        if (manifest.Backup.Encrypted && request.Passphrase is null)
        {
            verification.Checks.Add(Start("EncryptionKey").Warn("The backup is encrypted and no -EncryptionKey was given: checksums are verified, contents are not decrypted."));
            verification.Checks.Add(Start(AuthenticityCheck).Warn("Without -EncryptionKey the manifest's authenticity could not be proven: its integrity hash " +
                "only shows accidental changes, since anyone can recompute it. Give -EncryptionKey to prove the manifest with its MAC."));
        }
        else if (request.Passphrase is not null)
        {
            var keyCheck = Start("EncryptionKey");
            var authenticity = manifest.Authenticate(request.Passphrase);
            if (BackupCatalog.AuthenticityProblem(authenticity) is { } problem)
            {
                // The MAC is its own check, so a restore can tell a forged manifest from a wrong key.
                var check = authenticity == ManifestAuthenticity.Forged ? Start(AuthenticityCheck) : keyCheck;
                verification.Checks.Add(check.Fail(problem.ErrorId, problem.Message));
                // Nothing else a manifest that cannot be trusted names is worth reading.
                if (authenticity != ManifestAuthenticity.WrongKey) return verification;
            }
            else
            {
                verification.Checks.Add(keyCheck.Pass("The key matches."));
                verification.Checks.Add(authenticity == ManifestAuthenticity.Authentic
                    ? Start(AuthenticityCheck).Pass("The manifest's MAC matches the key: the manifest is as the backup wrote it.")
                    : Start(AuthenticityCheck).Warn($"The manifest has no MAC: it says it was written by UpgradeOps " +
                        $"{(manifest.Backup.ToolVersions.TryGetValue("UpgradeOps", out var writer) ? LocalFile.Shown(writer) : "unknown")}, before manifests carried one " +
                        "(or its MAC was removed), so its authenticity could not be proven: only its integrity hash vouches for it, and anyone can recompute that. " +
                        "Take a new backup to have a manifest the key proves."));
                canDecrypt = true;
            }
        }

        var intact = new List<BackupComponent>();
        foreach (var component in manifest.Backup.Components)
        {
            activity.Report($"Checking {component.File}", -1);
            var check = Start($"Component {component.Name} ({component.File})");
            string path;
            try
            {
                path = ComponentPath(folder, component);
            }
            catch (BackupFormatException ex)
            {
                verification.Checks.Add(check.Fail(ex.ErrorId, ex.Message));
                continue;
            }
            if (!File.Exists(path))
            {
                verification.Checks.Add(check.Fail("BackupComponentMissing", $"{component.File} is missing from the backup folder."));
                continue;
            }
            var size = new FileInfo(path).Length;
            if (size != component.SizeBytes)
            {
                verification.Checks.Add(size < component.SizeBytes
                    ? check.Fail("BackupTruncated", $"{component.File} has {size:N0} of its {component.SizeBytes:N0} bytes: it was cut short.")
                    : check.Fail("BackupCorrupted", $"{component.File} has {size:N0} bytes, {component.SizeBytes:N0} were written."));
                continue;
            }
            if (request.DumpsCheckedWhileRestoring && component.Kind == BackupComponentKind.PostgresDump)
            {
                verification.Checks.Add(check.Pass($"{component.SizeBytes:N0} bytes; the SHA-256 is proven while it restores"));
                continue;
            }
            string hash;
            try
            {
                hash = await HashingStream.HashFileAsync(path, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                verification.Checks.Add(check.Fail("BackupComponentUnreadable",
                    $"{component.File} cannot be read ({LocalFile.Shown(ex.Message)}). Check the backup folder's permissions and disk, then run it again."));
                continue;
            }
            if (hash != component.Sha256)
            {
                verification.Checks.Add(check.Fail("BackupChecksumMismatch", $"{component.File}'s SHA-256 is {hash}, the manifest recorded {component.Sha256}: the file was changed or damaged."));
                continue;
            }
            verification.Checks.Add(check.Pass($"{component.SizeBytes:N0} bytes, SHA-256 matches"));
            intact.Add(component);
        }

        if (!canDecrypt) return verification;

        foreach (var component in intact.Where(c => c.Kind == BackupComponentKind.Volume))
            verification.Checks.Add(await CheckArchiveAsync(folder, component, request.Passphrase, ct).ConfigureAwait(false));

        var dumps = intact.Where(c => c.Kind == BackupComponentKind.PostgresDump).ToList();
        // A restore loads each Neo4j dump itself: reading it here too would stream it into the container twice.
        var graphs = request.DumpsCheckedWhileRestoring ? new List<BackupComponent>() : intact.Where(c => c.Kind == BackupComponentKind.Neo4jDump).ToList();
        if (dumps.Count == 0 && graphs.Count == 0) return verification;
        if (request.Deployment is null || request.DataStores is null)
        {
            foreach (var dump in dumps)
                verification.Checks.Add(Start($"Dump {dump.Name}").Skip("Give -Deployment to read the dump's table of contents with the target server's pg_restore."));
            foreach (var graph in graphs)
                verification.Checks.Add(Start($"Dump {graph.Name}").Skip("Give -Deployment to read the dump's header with the target's neo4j-admin database load --info."));
            return verification;
        }

        using var source = await request.DataStores(ct).ConfigureAwait(false);
        foreach (var graph in graphs)
        {
            var store = source.Profile.DataStores.FirstOrDefault(s => s.Name == graph.Name && s.Kind == Profiles.DataStoreKind.Neo4j);
            if (store is null)
            {
                verification.Checks.Add(Start($"Dump {graph.Name}").Skip($"The profile of '{request.Deployment.Name}' has no Neo4j data store '{graph.Name}'."));
                continue;
            }
            var neo4j = await source.Neo4jAsync(store, log, ct).ConfigureAwait(false);
            verification.Checks.Add(await CheckGraphDumpAsync(folder, graph, neo4j, request.Passphrase, ct).ConfigureAwait(false));
            if (request.RestoreTest)
            {
                activity.Report($"Loading {graph.Name} into a scratch Neo4j container", -1);
                verification.Checks.Add(await GraphRestoreTestAsync(folder, graph, neo4j, source, store, request.Passphrase, ct).ConfigureAwait(false));
            }
        }
        foreach (var dump in dumps)
        {
            var store = source.Profile.DataStores.FirstOrDefault(s => s.Name == dump.Name);
            if (store is null)
            {
                verification.Checks.Add(Start($"Dump {dump.Name}").Skip($"The profile of '{request.Deployment.Name}' has no data store '{dump.Name}'."));
                continue;
            }
            var target = await source.PostgresAsync(store, ct).ConfigureAwait(false);
            verification.Checks.Add(await CheckDumpAsync(folder, dump, target, request.Passphrase, ct).ConfigureAwait(false));
            if (request.RestoreTest)
            {
                activity.Report($"Restoring {dump.Name} into a scratch database", -1);
                verification.Checks.Add(await RestoreTestAsync(folder, dump, target, request.Passphrase, log, ct).ConfigureAwait(false));
            }
        }
        return verification;
    }

    /// <summary>Opens a component file for reading its content, decrypting it when the backup is encrypted.</summary>
    internal static Stream OpenContent(string folder, BackupComponent component, byte[]? passphrase)
    {
        var file = BackupFiles.OpenRead(ComponentPath(folder, component));
        return passphrase is null ? file : BackupEncryption.Decrypt(file, passphrase);
    }

    /// <summary>A component's file, refused (BackupPathOutsideBackup) unless it lies inside the backup folder.</summary>
    internal static string ComponentPath(string folder, BackupComponent component) =>
        BackupFiles.ContainedPath(folder, component.File, $"The file of component '{LocalFile.Shown(component.Name)}'");

    /// <summary>
    /// Refuses, whatever -Force says, a backup whose verification found that it cannot be trusted: a file outside the
    /// backup folder, a manifest the key proves was changed, a key for a backup that says it is not encrypted.
    /// <paramref name="nothingDone"/> says what was not done ("Nothing was restored.").
    /// </summary>
    internal static void RefuseUntrusted(BackupVerification verification, string backupPath, string nothingDone)
    {
        var failed = verification.Checks.FirstOrDefault(c => c.Status == CheckStatus.Failed &&
            (c.ErrorId == "BackupPathOutsideBackup" || c.ErrorId == "BackupNotEncrypted" && c.Name == "EncryptionKey" || c.Name == AuthenticityCheck));
        if (failed is null) return;
        var kind = failed.ErrorId == "BackupNotEncrypted" ? ErrorKind.InvalidArgument : ErrorKind.SecurityError;
        throw new UpgradeOpsException(failed.ErrorId!, kind, backupPath, $"{failed.Detail} {nothingDone} -Force does not override this.");
    }

    private const string AuthenticityCheck = "ManifestAuthenticity";

    private static async Task<CheckResult> CheckArchiveAsync(string folder, BackupComponent component, byte[]? passphrase, CancellationToken ct)
    {
        var check = Start($"Archive {component.Name}");
        try
        {
            await using var content = OpenContent(folder, component, passphrase);
            var reader = new TarReader(content);
            var entries = 0;
            while (await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is not null) entries++;
            return check.Pass($"{entries} entries");
        }
        catch (Exception ex) when (ex is InvalidDataException or BackupFormatException or EndOfStreamException or FormatException)
        {
            return check.Fail(ex is BackupFormatException f ? f.ErrorId : "BackupArchiveUnreadable", $"{component.File} is not a readable archive: {ex.Message}");
        }
    }

    private static async Task<CheckResult> CheckDumpAsync(string folder, BackupComponent dump, PostgresTarget target, byte[]? passphrase, CancellationToken ct)
    {
        var check = Start($"Dump {dump.Name}");
        var serverMajor = await target.ServerMajorVersionAsync(ct).ConfigureAwait(false);
        try
        {
            await using var content = OpenContent(folder, dump, passphrase);
            var toc = await target.ListAsync(content, ct).ConfigureAwait(false);
            var entries = toc.Split('\n').Count(l => l.Length > 0 && !l.StartsWith(';'));
            if (dump.DumpMajorVersion > serverMajor)
                return check.Warn($"The dump was made by pg_dump {dump.DumpMajorVersion}, newer than the target server ({serverMajor}): that server's pg_restore cannot read it. Restore onto PostgreSQL {dump.DumpMajorVersion} or later.");
            return check.Pass($"pg_restore --list read {entries} entries (server {serverMajor}, dump made by pg_dump {dump.DumpMajorVersion})");
        }
        catch (BackupFormatException ex)
        {
            return check.Fail(ex.ErrorId, ex.Message);
        }
        catch (UpgradeOpsException ex)
        {
            return check.Fail("BackupDumpUnreadable", ex.Message);
        }
    }

    /// <summary>
    /// The target's neo4j-admin database load --info reads the dump's header (files, bytes, format) and loads nothing. A server
    /// that holds its store lock against it is a Warning: the SHA-256 already proved the file is as written.
    /// </summary>
    private static async Task<CheckResult> CheckGraphDumpAsync(string folder, BackupComponent dump, Neo4jTarget target, byte[]? passphrase, CancellationToken ct)
    {
        var check = Start($"Dump {dump.Name}");
        try
        {
            await using var content = OpenContent(folder, dump, passphrase);
            var info = await target.InfoAsync(content, ct).ConfigureAwait(false);
            return check.Pass($"neo4j-admin database load --info read it ({dump.Neo4jEdition?.ToString() ?? "unknown edition"}): {LocalFile.Shown(info)}");
        }
        catch (BackupFormatException ex)
        {
            return check.Fail(ex.ErrorId, ex.Message);
        }
        catch (UpgradeOpsException ex) when (ex.ErrorId == "Neo4jDatabaseRunning")
        {
            return check.Warn($"The target's neo4j-admin could not read the dump's header while its server runs: {ex.Message}");
        }
        catch (UpgradeOpsException ex)
        {
            return check.Fail("BackupDumpUnreadable", ex.Message);
        }
    }

    /// <summary>
    /// A Neo4j dump loaded into a scratch container (Compose) or pod (Kubernetes) of the database's image, its server never
    /// started, and checked there with neo4j-admin database check; the live database is not touched, the scratch is removed.
    /// Skipped where the platform cannot start one.
    /// </summary>
    private static async Task<CheckResult> GraphRestoreTestAsync(string folder, BackupComponent dump, Neo4jTarget target, IDataStoreHost source,
        Profiles.DataStoreDefinition store, byte[]? passphrase, CancellationToken ct)
    {
        var check = Start($"RestoreTest {dump.Name}");
        try
        {
            await using var scratch = await source.Neo4jScratchAsync(store, ct).ConfigureAwait(false);
            if (scratch is null)
                return check.Skip("This platform cannot start a scratch Neo4j container yet: the dump's header was read by the target's neo4j-admin and its SHA-256 matches.");
            await using var content = OpenContent(folder, dump, passphrase);
            var report = await target.RestoreTestAsync(content, scratch.Exec, ct).ConfigureAwait(false);
            return check.Pass($"Loaded into {scratch.Description}; neo4j-admin database check passed: {LocalFile.Shown(report)}");
        }
        catch (Exception ex) when (ex is UpgradeOpsException or BackupFormatException or Docker.DotNet.DockerApiException)
        {
            return ex switch
            {
                UpgradeOpsException known => check.Fail(known.ErrorId, known.Message),
                BackupFormatException format => check.Fail(format.ErrorId, format.Message),
                _ => check.Fail("Neo4jScratchFailed",
                    $"The scratch container for the restore test could not be started or removed: {ex.Message} Check the Docker Engine " +
                    "and remove what is left (docker ps -a and docker volume ls, each with --filter label=org.upgradeops.purpose=neo4j-restore-test), then run it again."),
            };
        }
    }

    private static async Task<CheckResult> RestoreTestAsync(string folder, BackupComponent dump, PostgresTarget target, byte[]? passphrase, ILogger log, CancellationToken ct)
    {
        var check = Start($"RestoreTest {dump.Name}");
        var scratch = $"upgradeops_verify_{Guid.NewGuid():N}"[..34];
        try
        {
            await target.CreateDatabaseAsync(scratch, ct).ConfigureAwait(false);
            await using (var content = OpenContent(folder, dump, passphrase))
                await target.RestoreAsync(content, scratch, ct).ConfigureAwait(false);
            var counts = await target.RowCountsAsync(scratch, ct).ConfigureAwait(false);
            var expected = dump.RowCounts ?? new Dictionary<string, long>();
            var differences = expected.Where(e => !counts.TryGetValue(e.Key, out var n) || n != e.Value)
                .Select(e => $"{e.Key}: {e.Value} recorded, {(counts.TryGetValue(e.Key, out var n) ? n : 0)} restored").ToList();
            return differences.Count == 0
                ? check.Pass($"restored into a scratch database: {counts.Count} tables, {counts.Values.Sum():N0} rows, all counts equal to those at dump time")
                : check.Fail("BackupRestoreTestFailed", "Row counts differ after the restore: " + string.Join("; ", differences));
        }
        catch (Exception ex) when (ex is UpgradeOpsException or BackupFormatException)
        {
            return check.Fail(ex is BackupFormatException f ? f.ErrorId : "BackupRestoreTestFailed", $"The dump did not restore into a scratch database: {ex.Message}");
        }
        finally
        {
            await target.TryDropDatabaseAsync(scratch, log).ConfigureAwait(false);
        }
    }

    private static CheckTimer Start(string name) => CheckTimer.Start(name);
}

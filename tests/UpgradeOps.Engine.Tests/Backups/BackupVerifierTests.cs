using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// Test-DeploymentBackup's verdicts on a backup folder of real files, no Docker Engine: each kind of damage to a component
/// (missing, cut short, grown, changed, outside the folder), a manifest that cannot be read, an archive that cannot be read,
/// an encrypted backup without its key, dumps without a deployment to read them, and which failures refuse a restore outright.
/// </summary>
public sealed class BackupVerifierTests : IDisposable
{
    private const string Compose = "services:\n  app: {image: \"app:1.7.5\"}\n";
    private static readonly byte[] Dump = Encoding.ASCII.GetBytes("PGDMP fake custom-format dump");
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"verifier-{Guid.NewGuid():N}");
    private readonly string _folder;
    private readonly byte[] _archive;

    public BackupVerifierTests()
    {
        _folder = Path.Combine(_root, "prod-20261126-120000-1.7.5");
        Directory.CreateDirectory(Path.Combine(_folder, "config"));
        _archive = Tar(("storage/a.txt", "first"), ("storage/b.txt", "second"));
        File.WriteAllBytes(Path.Combine(_folder, "database.dump"), Dump);
        File.WriteAllBytes(Path.Combine(_folder, "storage.tar"), _archive);
        File.WriteAllText(Path.Combine(_folder, "config", "docker-compose.yml"), Compose);
    }

    public void Dispose() => Directory.Delete(_root, true);

    private static byte[] Tar(params (string Name, string Content)[] entries)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, leaveOpen: true))
            foreach (var (name, content) in entries)
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
        return buffer.ToArray();
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    private BackupManifest Manifest(bool encrypted = false) => new()
    {
        Encryption = encrypted ? EncryptionInfo() : null,
        Backup = new DeploymentBackup
        {
            Id = "prod-20261126-120000-1.7.5", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = "prod", Version = "1.7.5", Encrypted = encrypted,
            Components =
            {
                new BackupComponent { Name = "database", Kind = BackupComponentKind.PostgresDump, File = "database.dump", SizeBytes = Dump.Length, Sha256 = Sha256(Dump) },
                new BackupComponent { Name = "storage", Kind = BackupComponentKind.Volume, File = "storage.tar", SizeBytes = _archive.Length, Sha256 = Sha256(_archive) },
                new BackupComponent
                {
                    Name = "config", Kind = BackupComponentKind.ConfigFile, File = "config/docker-compose.yml", SizeBytes = Compose.Length,
                    Sha256 = Sha256(Encoding.UTF8.GetBytes(Compose)), Source = "/srv/prod/docker-compose.yml",
                },
            },
            ToolVersions = { ["UpgradeOps"] = "0.9.0" },
        },
    };

    private static BackupEncryptionInfo EncryptionInfo()
    {
        var salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        return new BackupEncryptionInfo { KeyCheckSalt = salt, KeyCheck = BackupManifestKey.KeyCheck(Encoding.UTF8.GetBytes("correct horse battery staple"), salt) };
    }

    private void Write(BackupManifest manifest) => File.WriteAllText(Path.Combine(_folder, BackupManifest.FileName), manifest.ToJson());

    private Task<BackupVerification> VerifyAsync(byte[]? passphrase = null, bool dumpsCheckedWhileRestoring = false) =>
        BackupVerifier.VerifyAsync(new BackupVerificationRequest
        {
            BackupPath = _folder, Passphrase = passphrase, DumpsCheckedWhileRestoring = dumpsCheckedWhileRestoring,
        }, EngineContext.Silent());

    private static CheckResult Check(BackupVerification verification, string name) => verification.Checks.Single(c => c.Name == name);

    [Fact]
    public async Task An_intact_backup_passes_each_component_by_size_and_SHA_256_and_its_archive_by_its_entries()
    {
        Write(Manifest());
        var verification = await VerifyAsync();
        Assert.True(verification.Passed);
        Assert.Equal("prod-20261126-120000-1.7.5", verification.BackupId);
        Assert.Equal(
        [
            ("Manifest", CheckStatus.Passed), ("Component database (database.dump)", CheckStatus.Passed), ("Component storage (storage.tar)", CheckStatus.Passed),
            ("Component config (config/docker-compose.yml)", CheckStatus.Passed), ("Archive storage", CheckStatus.Passed), ("Dump database", CheckStatus.Skipped),
        ], verification.Checks.Select(c => (c.Name, c.Status)));
        Assert.Equal("2 entries", Check(verification, "Archive storage").Detail);
    }

    [Fact]
    public async Task A_dump_is_read_only_with_a_deployment_whose_server_reads_it_and_without_one_it_is_skipped_not_failed()
    {
        Write(Manifest());
        var dump = Check(await VerifyAsync(), "Dump database");
        Assert.Equal(CheckStatus.Skipped, dump.Status);
        Assert.Contains("-Deployment", dump.Detail);
    }

    [Fact]
    public async Task A_missing_component_fails_as_missing_and_the_others_are_still_checked()
    {
        Write(Manifest());
        File.Delete(Path.Combine(_folder, "database.dump"));
        var verification = await VerifyAsync();
        Assert.False(verification.Passed);
        Assert.Equal("BackupComponentMissing", Check(verification, "Component database (database.dump)").ErrorId);
        Assert.Equal(CheckStatus.Passed, Check(verification, "Component config (config/docker-compose.yml)").Status);
        // Only intact dumps go on to be read.
        Assert.DoesNotContain(verification.Checks, c => c.Name == "Dump database");
    }

    [Fact]
    public async Task A_component_shorter_than_recorded_was_cut_short()
    {
        Write(Manifest());
        File.WriteAllBytes(Path.Combine(_folder, "database.dump"), Dump[..10]);
        var check = Check(await VerifyAsync(), "Component database (database.dump)");
        Assert.Equal(("BackupTruncated", CheckStatus.Failed), (check.ErrorId, check.Status));
    }

    [Fact]
    public async Task A_component_longer_than_recorded_is_corrupted()
    {
        Write(Manifest());
        File.WriteAllBytes(Path.Combine(_folder, "database.dump"), [.. Dump, .. "more"u8.ToArray()]);
        Assert.Equal("BackupCorrupted", Check(await VerifyAsync(), "Component database (database.dump)").ErrorId);
    }

    [Fact]
    public async Task A_component_of_the_right_size_with_other_bytes_fails_its_checksum()
    {
        Write(Manifest());
        var changed = Compose.Replace("1.7.5", "1.7.6");
        File.WriteAllText(Path.Combine(_folder, "config", "docker-compose.yml"), changed);
        var check = Check(await VerifyAsync(), "Component config (config/docker-compose.yml)");
        Assert.Equal("BackupChecksumMismatch", check.ErrorId);
        Assert.Contains(Sha256(Encoding.UTF8.GetBytes(changed)), check.Detail);
    }

    [Fact]
    public async Task A_restore_checks_only_a_dumps_size_here_since_it_proves_the_SHA_256_as_the_dump_streams()
    {
        Write(Manifest());
        var damaged = (byte[])Dump.Clone();
        damaged[^1] ^= 0xFF;
        File.WriteAllBytes(Path.Combine(_folder, "database.dump"), damaged);
        Assert.Equal(CheckStatus.Passed, Check(await VerifyAsync(dumpsCheckedWhileRestoring: true), "Component database (database.dump)").Status);
        Assert.Equal("BackupChecksumMismatch", Check(await VerifyAsync(), "Component database (database.dump)").ErrorId);
    }

    [Fact]
    public async Task A_volume_archive_that_tar_cannot_read_fails_although_its_checksum_matches()
    {
        var garbage = Enumerable.Repeat((byte)'x', 1024).ToArray();
        File.WriteAllBytes(Path.Combine(_folder, "storage.tar"), garbage);
        var manifest = Manifest();
        manifest.Backup.Components[1].SizeBytes = garbage.Length;
        manifest.Backup.Components[1].Sha256 = Sha256(garbage);
        Write(manifest);
        var verification = await VerifyAsync();
        Assert.Equal(CheckStatus.Passed, Check(verification, "Component storage (storage.tar)").Status);
        Assert.Equal(("BackupArchiveUnreadable", CheckStatus.Failed), (Check(verification, "Archive storage").ErrorId, Check(verification, "Archive storage").Status));
        Assert.False(verification.Passed);
    }

    [Fact]
    public async Task A_file_the_manifest_does_not_name_is_not_looked_at()
    {
        Write(Manifest());
        File.WriteAllText(Path.Combine(_folder, "left-over.tmp"), "anything");
        Assert.True((await VerifyAsync()).Passed);
    }

    [Fact]
    public async Task A_component_outside_the_backup_folder_fails_and_refuses_a_restore_even_with_Force()
    {
        File.WriteAllBytes(Path.Combine(_root, "outside.dump"), Dump);
        var manifest = Manifest();
        manifest.Backup.Components[0].File = "../outside.dump";
        Write(manifest);
        var verification = await VerifyAsync();
        // The manifest is refused as a whole when it names one: nothing it names is read.
        var check = Assert.Single(verification.Checks);
        Assert.Equal(("Manifest", "BackupPathOutsideBackup"), (check.Name, check.ErrorId));
        var error = Assert.Throws<UpgradeOpsException>(() => BackupVerifier.RefuseUntrusted(verification, _folder, "Nothing was restored."));
        Assert.Equal(("BackupPathOutsideBackup", ErrorKind.SecurityError), (error.ErrorId, error.Kind));
        Assert.EndsWith("Nothing was restored. -Force does not override this.", error.Message);
    }

    [Fact]
    public async Task Damage_that_Force_may_override_is_not_refused_outright()
    {
        Write(Manifest());
        File.Delete(Path.Combine(_folder, "storage.tar"));
        var verification = await VerifyAsync();
        Assert.False(verification.Passed);
        BackupVerifier.RefuseUntrusted(verification, _folder, "Nothing was restored.");
    }

    [Fact]
    public async Task A_missing_manifest_is_the_only_check_and_fails()
    {
        var verification = await VerifyAsync();
        var check = Assert.Single(verification.Checks);
        Assert.Equal(("Manifest", CheckStatus.Failed), (check.Name, check.Status));
        Assert.Null(verification.Backup);
    }

    [Fact]
    public async Task A_manifest_changed_after_it_was_written_fails_its_integrity_and_nothing_else_is_read()
    {
        Write(Manifest());
        var path = Path.Combine(_folder, BackupManifest.FileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace("1.7.5", "1.7.4"));
        var check = Assert.Single((await VerifyAsync()).Checks);
        Assert.Equal(("Manifest", CheckStatus.Failed), (check.Name, check.Status));
        Assert.NotNull(check.ErrorId);
    }

    [Fact]
    public async Task An_encrypted_backup_without_its_key_has_its_checksums_verified_and_its_contents_left_unread_with_warnings()
    {
        Write(Manifest(encrypted: true));
        var verification = await VerifyAsync();
        Assert.True(verification.Passed);
        Assert.Equal(CheckStatus.Warning, Check(verification, "EncryptionKey").Status);
        Assert.Equal(CheckStatus.Warning, Check(verification, "ManifestAuthenticity").Status);
        Assert.Equal(3, verification.Checks.Count(c => c.Name.StartsWith("Component ", StringComparison.Ordinal) && c.Status == CheckStatus.Passed));
        Assert.DoesNotContain(verification.Checks, c => c.Name.StartsWith("Archive ", StringComparison.Ordinal) || c.Name.StartsWith("Dump ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_key_for_a_backup_that_is_not_encrypted_refuses_a_restore_as_a_wrong_argument()
    {
        Write(Manifest());
        var verification = await VerifyAsync(Encoding.UTF8.GetBytes("a key"));
        var key = Check(verification, "EncryptionKey");
        Assert.Equal(("BackupNotEncrypted", CheckStatus.Failed), (key.ErrorId, key.Status));
        var error = Assert.Throws<UpgradeOpsException>(() => BackupVerifier.RefuseUntrusted(verification, _folder, "Nothing was restored."));
        Assert.Equal(("BackupNotEncrypted", ErrorKind.InvalidArgument), (error.ErrorId, error.Kind));
    }

    [Fact]
    public async Task A_backup_path_that_is_not_a_folder_is_not_found()
    {
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => BackupVerifier.VerifyAsync(
            new BackupVerificationRequest { BackupPath = Path.Combine(_root, "nothing-here") }, EngineContext.Silent()));
        Assert.Equal("BackupPathNotFound", error.ErrorId);
    }
}

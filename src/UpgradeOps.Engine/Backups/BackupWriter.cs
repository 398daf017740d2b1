using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

using UpgradeOps.Compose;

using UpgradeOps.Platforms;

namespace UpgradeOps.Backups;

/// <summary>
/// Writes one backup, whatever the platform: a hidden partial folder owner-only, each component file hashed (and
/// encrypted) as it is written, then the manifest, and only then the rename into place. A failure removes the partial
/// folder, so a backup either exists complete with its manifest or not at all. A process killed meanwhile (kill -9) cannot
/// remove it: the partial folder holds a lock file (<see cref="LockFileName"/>) its writer keeps locked, so the next backup
/// into the same folder tells an abandoned partial folder (its lock free) from one being written, and removes it.
/// </summary>
internal sealed class BackupWriter
{
    private readonly string _partial;
    private readonly byte[]? _passphrase;
    private readonly BackupEncryptionInfo? _encryption;
    private readonly ILogger _log;
    private FileStream? _lock;

    /// <summary>The file in a partial folder its writer keeps open and locked (FileShare.None) until it completes or aborts.</summary>
    internal const string LockFileName = ".writing";

    private BackupWriter(DeploymentBackup backup, string partial, byte[]? passphrase, BackupEncryptionInfo? encryption, ILogger log)
    {
        Backup = backup;
        _partial = partial;
        _passphrase = passphrase;
        _encryption = encryption;
        _log = log;
    }

    public DeploymentBackup Backup { get; }

    /// <summary>Creates the partial folder (and its config/ folder) of a new backup of <paramref name="deployment"/>.</summary>
    public static BackupWriter Create(BackupRequest request, Deployment deployment, string location, ILogger log)
    {
        var created = DateTimeOffset.UtcNow;
        var id = $"{deployment.Name}-{created:yyyyMMdd-HHmmss}-{deployment.Version ?? "unknown"}";
        var root = Path.GetFullPath(request.Path);
        var final = Path.Combine(root, id);
        try
        {
            Directory.CreateDirectory(root);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UpgradeOpsException("BackupPathNotWritable", ErrorKind.PermissionDenied, request.Path,
                $"The backup folder '{root}' cannot be created: {ex.Message} Give a folder you can write to.", ex);
        }
        RemoveAbandoned(root, log);
        if (Directory.Exists(final))
            throw new UpgradeOpsException("BackupExists", ErrorKind.ResourceBusy, final, $"A backup '{final}' already exists. Wait a second and try again.");

        BackupEncryptionInfo? encryption = null;
        if (request.Passphrase is not null)
        {
            var salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            encryption = new BackupEncryptionInfo { KeyCheckSalt = salt, KeyCheck = BackupManifestKey.KeyCheck(request.Passphrase, salt) };
        }
        var backup = new DeploymentBackup
        {
            Id = id, Path = final, CreatedAt = created, DeploymentName = deployment.Name, Version = deployment.Version,
            Platform = deployment.Platform, Profile = deployment.Profile, Location = location, Encrypted = request.Passphrase is not null,
        };
        var partial = Path.Combine(root, $".{id}.partial");
        var writer = new BackupWriter(backup, partial, request.Passphrase, encryption, log);
        try
        {
            BackupFiles.CreatePrivateDirectory(partial);
            writer._lock = new FileStream(Path.Combine(partial, LockFileName), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            BackupFiles.CreatePrivateDirectory(Path.Combine(partial, "config"));
        }
        catch
        {
            writer.Abort();
            throw;
        }
        return writer;
    }

    /// <summary>Writes one component file through <paramref name="write"/>, hashing (and encrypting) what it writes.</summary>
    public async Task<BackupComponent> WriteAsync(BackupComponent component, Func<Stream, Task> write, CancellationToken ct)
    {
        var path = Path.Combine(_partial, component.File);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using var file = BackupFiles.CreatePrivateFile(path);
            await using var hashing = new HashingStream(file);
            await using (var target = _passphrase is null ? (Stream)new NonClosingStream(hashing) : BackupEncryption.Encrypt(hashing, _passphrase))
                await write(target).ConfigureAwait(false);
            await hashing.FlushAsync(ct).ConfigureAwait(false);
            component.SizeBytes = hashing.BytesWritten;
            component.Sha256 = hashing.HashHex();
            return component;
        }
        catch (IOException ex) when (ex is not EndOfStreamException)
        {
            throw new UpgradeOpsException("BackupWriteFailed", ErrorKind.PermissionDenied, path,
                $"Writing {path} failed: {ex.Message} Check the free space and permissions of the backup folder; the partial backup was removed.", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new UpgradeOpsException("BackupWriteFailed", ErrorKind.PermissionDenied, path,
                $"Writing {path} was refused: {ex.Message} Give a backup folder you can write to; the partial backup was removed.", ex);
        }
    }

    /// <summary>Writes the manifest and renames the folder into place (a failure removes the partial folder).</summary>
    public async Task CompleteAsync(TimeSpan duration, CancellationToken ct)
    {
        try
        {
            Backup.ToolVersions["UpgradeOps"] = BackupManifest.UpgradeOpsVersion;
            Backup.Duration = duration;
            var manifest = new BackupManifest { Backup = Backup, Encryption = _encryption };
            var manifestPath = Path.Combine(_partial, BackupManifest.FileName);
            await File.WriteAllTextAsync(manifestPath, manifest.ToJson(_passphrase), ct).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(manifestPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            ReleaseLock();
            Directory.Move(_partial, Backup.Path);
            _log.LogInformation("Backup {Id}: {Count} components, {Bytes} bytes in {Seconds:N1} s", Backup.Id, Backup.Components.Count, Backup.SizeBytes, duration.TotalSeconds);
        }
        catch
        {
            Abort();
            throw;
        }
    }

    /// <summary>Removes the partial folder (a failure is a warning: the folder is named for what it is).</summary>
    public void Abort()
    {
        try
        {
            _lock?.Dispose();
            if (Directory.Exists(_partial)) Directory.Delete(_partial, recursive: true);
        }
        catch (Exception ex)
        {
            _log.LogWarning("The partial backup {Folder} could not be removed: {Message}. Remove it by hand.", _partial, ex.Message);
        }
    }

    /// <summary>The lock file closed and removed, so it is not part of the backup.</summary>
    private void ReleaseLock()
    {
        _lock?.Dispose();
        _lock = null;
        File.Delete(Path.Combine(_partial, LockFileName));
    }

    /// <summary>
    /// Removes the partial folders in <paramref name="root"/> whose writer is gone (killed before it completed or cleaned up):
    /// their lock file can be taken. One being written (its lock held, by this process or another) is left alone, and so is
    /// one without a lock file (a moment old, or left by an earlier UpgradeOps, which made none).
    /// </summary>
    internal static void RemoveAbandoned(string root, ILogger log)
    {
        IEnumerable<string> folders;
        try
        {
            folders = Directory.EnumerateDirectories(root, ".*.partial").ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (var folder in folders)
        {
            var lockPath = Path.Combine(folder, LockFileName);
            try
            {
                // Held by a running backup: refused (an advisory lock on Linux and macOS, a sharing violation on Windows).
                using (new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            try
            {
                Directory.Delete(folder, recursive: true);
                log.LogWarning("Removed {Folder}: the unfinished folder of a backup whose process ended before it completed (killed, or its machine stopped).", folder);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                log.LogWarning("The unfinished folder {Folder} of an interrupted backup could not be removed: {Message}. Remove it by hand.", folder, ex.Message);
            }
        }
    }

    /// <summary>Lets a component writer dispose its target without closing the hashing stream under it.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

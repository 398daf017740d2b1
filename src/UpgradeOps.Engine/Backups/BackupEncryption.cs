namespace UpgradeOps.Backups;

/// <summary>
/// Encrypts and decrypts backup files, as streams, with a passphrase. New files are OpenPGP (RFC 4880 symmetric
/// encryption: AES-256, integrity-protected, iterated and salted S2K), so a disaster-recovery copy opens with
/// <c>gpg --decrypt</c> where UpgradeOps is not at hand (<see cref="OpenPgpBackupFile"/>). Files written before that, in
/// UpgradeOps' own chunked AES-256-GCM format, still decrypt: the reader tells the two apart by the file's first bytes
/// (<see cref="ChunkedAesGcmFile"/>), whatever the manifest says.
/// </summary>
public static class BackupEncryption
{
    /// <summary>The manifest's name for how this UpgradeOps encrypts (BackupEncryptionInfo.Algorithm).</summary>
    public const string Algorithm = "OpenPGP-AES256";

    /// <summary>The manifest's name for how this UpgradeOps derives a file's key (BackupEncryptionInfo.KeyDerivation).</summary>
    public const string KeyDerivation = "S2K-SHA256-iterated";

    /// <summary>The OpenPGP partial body length new files are written in (what a manifest records as ChunkSize).</summary>
    internal const int ChunkSize = 1 << 20;

    /// <summary>A stream that encrypts what is written to it into <paramref name="output"/>; dispose it to finish (it leaves <paramref name="output"/> open).</summary>
    public static Stream Encrypt(Stream output, ReadOnlySpan<byte> passphrase) => OpenPgpBackupFile.Encrypt(output, passphrase);

    /// <summary>
    /// A stream that reads and authenticates <paramref name="input"/> (left open when it is disposed). The key is derived
    /// here, so a refused, wrong or cut file fails now, as <see cref="BackupFormatException"/>; damage further in fails
    /// when it is read.
    /// </summary>
    public static Stream Decrypt(Stream input, ReadOnlySpan<byte> passphrase)
    {
        var source = new RewindableReadStream(input);
        Span<byte> start = stackalloc byte[ChunkedAesGcmFile.Magic.Length];
        var read = source.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        source.Rewind();
        if (start[..read].SequenceEqual(ChunkedAesGcmFile.Magic))
        {
            source.StopRecording();
            return ChunkedAesGcmFile.Decrypt(source, passphrase);
        }
        return OpenPgpBackupFile.Decrypt(source, passphrase);
    }
}

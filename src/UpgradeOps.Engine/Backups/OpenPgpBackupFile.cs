using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Security;

namespace UpgradeOps.Backups;

/// <summary>
/// Backup files as OpenPGP messages encrypted with a passphrase (RFC 4880, kept by RFC 9580): a Symmetric-Key Encrypted
/// Session Key packet (version 4, iterated and salted S2K with SHA-256 at the format's highest count, the S2K output
/// being the AES-256 key), then a Symmetrically Encrypted Integrity Protected Data packet (version 1, with its
/// modification detection code) holding one binary literal data packet, both in 1 MB partial body lengths, so a dump of
/// any size streams through. <c>gpg --decrypt</c> reads it; BouncyCastle writes and reads the packets.
/// <para>
/// Reading accepts what this writes and what <c>gpg --symmetric --cipher-algo AES256</c> writes (its compression
/// included), and refuses, before deriving a key, any weaker choice a file could make for its reader: an S2K that is not
/// iterated and salted, a digest other than SHA-256 or SHA-512, a count outside bounds, a cipher other than AES-256, data
/// without integrity protection, a session key encrypted to a public key or to several passphrases.
/// </para>
/// </summary>
internal static class OpenPgpBackupFile
{
    /// <summary>The S2K count byte written: 0xFF, 65,011,712 bytes hashed, the most the format encodes (gpg's own choice on a fast machine).</summary>
    private const int S2kCountCode = 0xFF;
    internal const long MaximumS2kCount = 65_011_712;
    /// <summary>The least count read: 1,048,576 bytes hashed, far below what gpg calibrates (about 100 ms) on any current machine.</summary>
    internal const long MinimumS2kCount = 1_048_576;

    public static Stream Encrypt(Stream output, ReadOnlySpan<byte> passphrase)
    {
        var rawPassphrase = passphrase.ToArray();
        try
        {
            var generator = new PgpEncryptedDataGenerator(SymmetricKeyAlgorithmTag.Aes256, withIntegrityPacket: true, new SecureRandom());
            generator.AddMethodRaw(rawPassphrase, HashAlgorithmTag.Sha256, S2kCountCode);
            // Closing BouncyCastle's streams finishes their packets and leaves the stream under them open.
            var encrypted = generator.Open(output, new byte[BackupEncryption.ChunkSize]);
            var literal = new PgpLiteralDataGenerator().Open(encrypted, PgpLiteralData.Binary, "", DateTime.UtcNow, new byte[BackupEncryption.ChunkSize]);
            return new EncryptingStream(literal, encrypted, output);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(rawPassphrase);
        }
    }

    public static Stream Decrypt(RewindableReadStream source, ReadOnlySpan<byte> passphrase)
    {
        CheckParameters(source);
        source.Rewind();
        source.StopRecording();

        var rawPassphrase = passphrase.ToArray();
        try
        {
            var objects = new PgpObjectFactory(source);
            PgpObject first;
            do first = objects.NextPgpObject();
            while (first is PgpMarker or PgpPadding);
            var encrypted = (PgpPbeEncryptedData)((PgpEncryptedDataList)first)[0];
            Stream clear;
            try
            {
                clear = encrypted.GetDataStreamRaw(rawPassphrase);
            }
            catch (PgpDataValidationException)
            {
                throw new BackupFormatException("BackupDecryptionFailed",
                    "The file does not decrypt with this key (its check bytes do not match): the key is wrong, or the file was altered. Give the passphrase the backup was made with.");
            }
            return new DecryptingStream(source, encrypted, OpenLiteralData(clear));
        }
        catch (Exception ex) when (ex is not (BackupFormatException or OperationCanceledException or OutOfMemoryException))
        {
            throw Failure(source);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(rawPassphrase);
        }
    }

    /// <summary>The content of the one literal data packet inside, through a compressed data packet when gpg compressed it.</summary>
    private static Stream OpenLiteralData(Stream clear)
    {
        var content = new PgpObjectFactory(clear).NextPgpObject();
        if (content is PgpCompressedData compressed) content = new PgpObjectFactory(compressed.GetDataStream()).NextPgpObject();
        return content is PgpLiteralData literal
            ? literal.GetDataStream()
            : throw new BackupFormatException("BackupCorrupted",
                $"The encrypted file holds {(content is null ? "nothing" : content.GetType().Name)} where one plain file (an OpenPGP literal data packet) was expected: " +
                "it is not a backup file (a signed file, say). Use another backup.");
    }

    /// <summary>
    /// Reads the key packet and the head of the data packet and refuses whatever this reader would not write: all of it
    /// before the key is derived, so a file cannot make the reader spend time, or settle for less, on its say-so.
    /// </summary>
    private static void CheckParameters(RewindableReadStream source)
    {
        var packets = new BcpgInputStream(source);
        try
        {
            var tag = packets.SkipMarkerPackets();
            if (tag == PacketTag.PublicKeyEncryptedSession)
                throw Refused("its session key is encrypted to a public key; UpgradeOps decrypts files encrypted with a passphrase only");
            if (tag != PacketTag.SymmetricKeyEncryptedSessionKey)
                throw NotEncrypted(source);
            if (packets.ReadPacket() is not SymmetricKeyEncSessionPacket key) throw NotEncrypted(source);
            if (key.Version != SymmetricKeyEncSessionPacket.Version4)
                throw Refused($"its session key packet is version {key.Version}; UpgradeOps reads version 4 (RFC 4880, what gpg --symmetric writes)");
            var s2k = key.S2k;
            if (s2k.Type != S2k.SaltedAndIterated)
                throw Refused($"its key derivation (S2K type {s2k.Type}) is not iterated and salted: a passphrase would be hashed once, unsalted or unstretched");
            if (s2k.HashAlgorithm is not (HashAlgorithmTag.Sha256 or HashAlgorithmTag.Sha512))
                throw Refused($"its key derivation hashes with {s2k.HashAlgorithm}; UpgradeOps accepts SHA256 and SHA512");
            if (s2k.IterationCount is < MinimumS2kCount or > MaximumS2kCount)
                throw Refused(string.Create(CultureInfo.InvariantCulture,
                    $"its key derivation hashes {s2k.IterationCount:N0} bytes; UpgradeOps accepts {MinimumS2kCount:N0} to {MaximumS2kCount:N0}"));
            if (key.EncAlgorithm != SymmetricKeyAlgorithmTag.Aes256)
                throw Refused($"it is encrypted with {key.EncAlgorithm}; UpgradeOps accepts AES-256 only");
            // An encrypted session key names its own cipher, which only the key could reveal: gpg writes none for one passphrase.
            if (key.GetSecKeyData() is { Length: > 0 })
                throw Refused("its session key is itself encrypted (a file for several passphrases or keys); UpgradeOps reads files encrypted with one passphrase");

            tag = packets.NextPacketTag();
            if (tag is PacketTag.SymmetricKeyEncryptedSessionKey or PacketTag.PublicKeyEncryptedSession)
                throw Refused("it is encrypted for several passphrases or keys; UpgradeOps reads files encrypted with one passphrase");
            if (tag == PacketTag.SymmetricKeyEncrypted)
                throw Refused("its data has no integrity protection (a Symmetrically Encrypted Data packet, without MDC): a change to it would go unnoticed");
            if (tag == PacketTag.AeadEncData)
                throw Refused("its data is in an AEAD Encrypted Data packet (LibrePGP, gpg 2.3 and later by default); UpgradeOps reads Symmetrically Encrypted Integrity Protected Data version 1 (gpg --rfc4880 writes it)");
            if (tag != PacketTag.SymmetricEncryptedIntegrityProtected)
                throw source.ReachedEnd ? Truncated() : NotEncrypted(source);
            if (packets.ReadPacket() is not SymmetricEncIntegrityPacket data) throw NotEncrypted(source);
            if (data.Version != SymmetricEncIntegrityPacket.Version1)
                throw Refused($"its data is in an integrity-protected packet of version {data.Version}; UpgradeOps reads version 1 (RFC 4880, what gpg --symmetric writes)");
        }
        catch (Exception ex) when (ex is not (BackupFormatException or OperationCanceledException or OutOfMemoryException))
        {
            throw Failure(source);
        }
    }

    private static BackupFormatException Refused(string why) =>
        new("BackupEncryptionParametersRefused",
            $"The encrypted file asks for an unsafe or absurd key derivation or encryption: {why}. It was not written by UpgradeOps, or was damaged: " +
            "use another backup (UpgradeOps writes AES-256, integrity-protected, with an iterated and salted SHA-256 S2K).");

    private static BackupFormatException NotEncrypted(RewindableReadStream source) =>
        source.ReachedEnd
            ? Truncated()
            : new("BackupNotEncrypted",
                "The file is neither an OpenPGP file encrypted with a passphrase nor an UpgradeOps encrypted backup file. Give a component file of an encrypted backup.");

    private static BackupFormatException Truncated() =>
        new("BackupTruncated", "The encrypted file ends before its end: it was cut short. Use another backup, or a complete copy of this one.");

    /// <summary>
    /// What a failure while reading means: the source's own failure (a disk error) is thrown as it was; an end that came
    /// too soon is a truncated file; anything else that fails to parse or authenticate is a wrong key or an altered file.
    /// </summary>
    private static Exception Failure(RewindableReadStream source)
    {
        if (source.SourceFailure is { } own) ExceptionDispatchInfo.Throw(own);
        if (source.ReachedEnd) return Truncated();
        return new BackupFormatException("BackupDecryptionFailed",
            "The encrypted file failed its integrity check: the key is wrong, or the file was altered. Give the passphrase the backup was made with, or use another backup.");
    }

    private sealed class EncryptingStream(Stream literal, Stream encrypted, Stream output) : SequentialWriteStream
    {
        private bool _finished;

        public override void Write(ReadOnlySpan<byte> buffer) => literal.Write(buffer);

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_finished)
            {
                _finished = true;
                // The literal packet's last length, then the MDC packet and the data packet's last length.
                literal.Dispose();
                encrypted.Dispose();
                output.Flush();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// The literal data as it is decrypted; its end checks the modification detection code, so a reader that reads to
    /// the end learns of any change (the data before the end is not yet proven, as with gpg: a restore stages it apart).
    /// </summary>
    private sealed class DecryptingStream(RewindableReadStream source, PgpEncryptedData encrypted, Stream content) : SequentialReadStream
    {
        private bool _verified;

        public override int Read(Span<byte> buffer)
        {
            if (_verified || buffer.Length == 0) return 0;
            try
            {
                var read = content.Read(buffer);
                if (read > 0) return read;
                // Verify reads what is left (a compressor's end, the MDC packet) and compares.
                if (!encrypted.Verify()) throw Failure(source);
                _verified = true;
                return 0;
            }
            catch (Exception ex) when (ex is not (BackupFormatException or OperationCanceledException or OutOfMemoryException))
            {
                throw Failure(source);
            }
        }
    }
}

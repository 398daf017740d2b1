using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace UpgradeOps.Backups;

/// <summary>
/// Reads the files UpgradeOps encrypted before it wrote OpenPGP: streamed AES-256-GCM in authenticated chunks. File
/// layout: a header (magic "UOPSAES1", salt, PBKDF2-SHA256 iterations, nonce prefix), then chunks of
/// [length][ciphertext][tag]. Each chunk's nonce is the prefix plus its index, and its associated data binds the header,
/// the index and whether it is the last chunk, so reordered, cut short or altered files fail to decrypt. Nothing writes
/// this format any more; the tests keep a writer to prove old backups still read.
/// </summary>
internal static class ChunkedAesGcmFile
{
    internal static readonly byte[] Magic = "UOPSAES1"u8.ToArray();
    internal const int ChunkSize = 1 << 20;
    internal const int HeaderSize = 8 + 16 + 4 + 4;
    private const int TagSize = 16;
    /// <summary>What UpgradeOps wrote; the bounds a file's count must lie within.</summary>
    private const int Iterations = 310_000;
    private const int MinimumIterations = 100_000;
    private const int MaximumIterations = 10_000_000;

    /// <summary>A stream that reads and authenticates <paramref name="input"/>, chunk by chunk (the key is derived now).</summary>
    public static Stream Decrypt(Stream input, ReadOnlySpan<byte> passphrase)
    {
        var header = new byte[HeaderSize];
        if (input.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) < HeaderSize)
            throw new BackupFormatException("BackupTruncated", "The encrypted file ends inside its header: it was cut short.");
        if (!header.AsSpan(0, 8).SequenceEqual(Magic))
            throw new BackupFormatException("BackupNotEncrypted", "The file is not an UpgradeOps encrypted backup file.");
        // Checked before deriving: the count comes from the file, and a huge one would hold the reader for hours.
        var iterations = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(24));
        if (iterations is < MinimumIterations or > MaximumIterations)
            throw new BackupFormatException("BackupEncryptionParametersRefused", string.Create(CultureInfo.InvariantCulture,
                $"The encrypted file asks for an unsafe or absurd key derivation: PBKDF2 with {iterations:N0} iterations " +
                $"(UpgradeOps reads {MinimumIterations:N0} to {MaximumIterations:N0}; it wrote {Iterations:N0}). The file was damaged or not written by UpgradeOps: use another backup."));
        return new DecryptingStream(input, DeriveKey(passphrase, header.AsSpan(8, 16), iterations), header);
    }

    private static byte[] DeriveKey(ReadOnlySpan<byte> passphrase, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(passphrase, salt, iterations, HashAlgorithmName.SHA256, 32);

    private static void Nonce(Span<byte> nonce, ReadOnlySpan<byte> header, long index)
    {
        header.Slice(28, 4).CopyTo(nonce);
        BinaryPrimitives.WriteInt64LittleEndian(nonce[4..], index);
    }

    private static byte[] AssociatedData(byte[] header, long index, bool last)
    {
        var data = new byte[HeaderSize + 9];
        header.CopyTo(data, 0);
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(HeaderSize), index);
        data[^1] = last ? (byte)1 : (byte)0;
        return data;
    }

    private sealed class DecryptingStream(Stream input, byte[] key, byte[] header) : SequentialReadStream
    {
        private readonly AesGcm _aes = new(key, TagSize);
        private byte[] _plain = Array.Empty<byte>();
        private int _position;
        private long _index;
        private bool _sawLast;
        /// <summary>The length of the chunk to read next, read ahead: no next chunk is what marks a chunk as the last.</summary>
        private int? _nextLength;
        private bool _started;

        public override int Read(Span<byte> buffer)
        {
            while (_position == _plain.Length)
            {
                if (_sawLast) return 0;
                ReadChunk();
            }
            var take = Math.Min(buffer.Length, _plain.Length - _position);
            _plain.AsSpan(_position, take).CopyTo(buffer);
            _position += take;
            return take;
        }

        /// <summary>The next chunk's length; null at the end of the file (the stream may not know its length: a restore hashes as it reads).</summary>
        private int? ReadLength()
        {
            Span<byte> lengthBytes = stackalloc byte[4];
            var read = input.ReadAtLeast(lengthBytes, 4, throwOnEndOfStream: false);
            if (read == 0) return null;
            if (read < 4)
                throw new BackupFormatException("BackupTruncated", "The encrypted file ends inside a chunk: it was cut short.");
            var length = BinaryPrimitives.ReadInt32LittleEndian(lengthBytes);
            if (length is < 0 or > ChunkSize)
                throw new BackupFormatException("BackupCorrupted", "An encrypted chunk has an impossible length: the file is damaged.");
            return length;
        }

        private void ReadChunk()
        {
            var length = _started ? _nextLength : ReadLength();
            _started = true;
            if (length is null)
                throw new BackupFormatException("BackupTruncated", "The encrypted file ends before its last chunk: it was cut short.");
            var cipher = new byte[length.Value];
            var tag = new byte[TagSize];
            if (input.ReadAtLeast(cipher, cipher.Length, false) < cipher.Length || input.ReadAtLeast(tag, TagSize, false) < TagSize)
                throw new BackupFormatException("BackupTruncated", "The encrypted file ends inside a chunk: it was cut short.");
            _nextLength = ReadLength();
            var isLast = _nextLength is null;

            var plain = new byte[cipher.Length];
            if (!TryDecrypt(cipher, tag, plain, isLast))
            {
                // A chunk that authenticates as not the last is whole: the chunks after it are missing.
                if (isLast && TryDecrypt(cipher, tag, plain, last: false))
                    throw new BackupFormatException("BackupTruncated", "The encrypted file ends after a whole chunk that is not its last: it was cut short.");
                throw new BackupFormatException("BackupDecryptionFailed",
                    "A chunk failed authentication: the key is wrong, or the file was altered or cut short.");
            }
            _plain = plain;
            _position = 0;
            _index++;
            _sawLast = isLast;
        }

        private bool TryDecrypt(byte[] cipher, byte[] tag, byte[] plain, bool last)
        {
            Span<byte> nonce = stackalloc byte[12];
            Nonce(nonce, header, _index);
            try
            {
                _aes.Decrypt(nonce, cipher, tag, plain, AssociatedData(header, _index, last));
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _aes.Dispose();
                CryptographicOperations.ZeroMemory(key);
            }
            base.Dispose(disposing);
        }
    }
}

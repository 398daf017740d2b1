using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace UpgradeOps.Backups;

/// <summary>
/// Streamed AES-256-GCM in authenticated chunks. File layout: a header (magic, salt, iterations, nonce
/// prefix), then chunks of [length][ciphertext][tag]. Each chunk's nonce is the prefix plus its index, and
/// its associated data binds the header, the index and whether it is the last chunk, so reordered, cut
/// short or altered files fail to decrypt. The key is derived from the passphrase with PBKDF2-SHA256 and a
/// per-file salt; neither passphrase nor key is ever written.
/// </summary>
public static class BackupEncryption
{
    internal const int ChunkSize = 1 << 20;
    private const int Iterations = 310_000;
    private const int MinimumIterations = 100_000;
    private const int MaximumIterations = 10_000_000;
    private static readonly byte[] Magic = "UOPSAES1"u8.ToArray();
    internal const int HeaderSize = 8 + 16 + 4 + 4;
    private const int TagSize = 16;

    /// <summary>A stream that encrypts what is written to it into <paramref name="output"/>; dispose it to finish.</summary>
    public static Stream Encrypt(Stream output, ReadOnlySpan<byte> passphrase)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var noncePrefix = RandomNumberGenerator.GetBytes(4);
        var header = new byte[HeaderSize];
        Magic.CopyTo(header, 0);
        salt.CopyTo(header, 8);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), Iterations);
        noncePrefix.CopyTo(header, 28);
        output.Write(header);
        return new EncryptingStream(output, DeriveKey(passphrase, salt, Iterations), header);
    }

    /// <summary>A stream that reads and authenticates <paramref name="input"/>, chunk by chunk.</summary>
    public static Stream Decrypt(Stream input, ReadOnlySpan<byte> passphrase)
    {
        var header = new byte[HeaderSize];
        input.ReadExactly(header);
        if (!header.AsSpan(0, 8).SequenceEqual(Magic))
            throw new BackupFormatException("BackupNotEncrypted", "The file is not an UpgradeOps encrypted backup file.");
        // Checked before deriving: the count comes from the file, and a huge one would hold the reader for hours.
        var iterations = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(24));
        if (iterations is < MinimumIterations or > MaximumIterations)
            throw new BackupFormatException("BackupEncryptionParametersRefused", string.Create(CultureInfo.InvariantCulture,
                $"The encrypted file asks for an unsafe or absurd key derivation: PBKDF2 with {iterations:N0} iterations " +
                $"(UpgradeOps reads {MinimumIterations:N0} to {MaximumIterations:N0}; it writes {Iterations:N0}). The file was damaged or not written by UpgradeOps: use another backup."));
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

    private sealed class EncryptingStream(Stream output, byte[] key, byte[] header) : Stream
    {
        private readonly AesGcm _aes = new(key, TagSize);
        private readonly byte[] _plain = new byte[ChunkSize];
        private int _filled;
        private long _index;
        private bool _finished;

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (buffer.Length > 0)
            {
                var take = Math.Min(buffer.Length, ChunkSize - _filled);
                buffer[..take].CopyTo(_plain.AsSpan(_filled));
                _filled += take;
                buffer = buffer[take..];
                // A full chunk is written only once more data arrives, so the last chunk can be marked as last.
                if (_filled == ChunkSize && buffer.Length > 0) WriteChunk(last: false);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        private void WriteChunk(bool last)
        {
            Span<byte> nonce = stackalloc byte[12];
            Nonce(nonce, header, _index);
            var cipher = new byte[_filled];
            var tag = new byte[TagSize];
            _aes.Encrypt(nonce, _plain.AsSpan(0, _filled), cipher, tag, AssociatedData(header, _index, last));
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(length, _filled);
            output.Write(length);
            output.Write(cipher);
            output.Write(tag);
            _index++;
            _filled = 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_finished)
            {
                _finished = true;
                WriteChunk(last: true);
                output.Flush();
                _aes.Dispose();
                CryptographicOperations.ZeroMemory(key);
            }
            base.Dispose(disposing);
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private sealed class DecryptingStream(Stream input, byte[] key, byte[] header) : Stream
    {
        private readonly AesGcm _aes = new(key, TagSize);
        private byte[] _plain = Array.Empty<byte>();
        private int _position;
        private long _index;
        private bool _sawLast;
        /// <summary>The length of the chunk to read next, read ahead: no next chunk is what marks a chunk as the last.</summary>
        private int? _nextLength;
        private bool _started;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

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

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

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

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

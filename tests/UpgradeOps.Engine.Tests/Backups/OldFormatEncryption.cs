using System.Buffers.Binary;
using System.Security.Cryptography;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// The writer of UpgradeOps' first encrypted format ("UOPSAES1": a header, then chunks of AES-256-GCM whose associated
/// data binds the header, the index and whether the chunk is the last; key from PBKDF2-SHA256), as the engine had it
/// before it wrote OpenPGP. Kept here only to prove that backups already on disk still decrypt; the bench compiles it too.
/// It shares no code with the engine's reader (ChunkedAesGcmFile) on purpose: a fixture that borrowed the reader's nonce
/// or associated data would not notice a reader that changed them.
/// </summary>
public static class OldFormatEncryption
{
    public const int ChunkSize = 1 << 20;
    public const int HeaderSize = 8 + 16 + 4 + 4;
    public const int Iterations = 310_000;
    private const int TagSize = 16;
    private static readonly byte[] Magic = "UOPSAES1"u8.ToArray();

    /// <summary>A stream that encrypts what is written to it into <paramref name="output"/>; dispose it to finish.</summary>
    public static Stream Encrypt(Stream output, ReadOnlySpan<byte> passphrase, int iterations = Iterations)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var noncePrefix = RandomNumberGenerator.GetBytes(4);
        var header = new byte[HeaderSize];
        Magic.CopyTo(header, 0);
        salt.CopyTo(header, 8);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), iterations);
        noncePrefix.CopyTo(header, 28);
        output.Write(header);
        return new EncryptingStream(output, Rfc2898DeriveBytes.Pbkdf2(passphrase, salt, iterations, HashAlgorithmName.SHA256, 32), header);
    }

    /// <summary>The whole of <paramref name="plain"/>, encrypted in the old format.</summary>
    public static byte[] Encrypt(byte[] plain, byte[] passphrase, int iterations = Iterations)
    {
        var output = new MemoryStream();
        using (var encrypting = Encrypt(output, passphrase, iterations)) encrypting.Write(plain);
        return output.ToArray();
    }

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
}

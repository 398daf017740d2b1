namespace UpgradeOps.Backups;

/// <summary>
/// Lets the decryption read a file's first bytes twice on a stream that cannot seek (a restore reads through the hashing
/// stream): what is read while recording is kept, and <see cref="Rewind"/> serves it again before reading on. It also
/// says whether the source ended (a failure there means the file was cut short) and which failure was the source's own
/// (a disk error is not a wrong key), and never closes the source, whose owner still reads from it.
/// </summary>
internal sealed class RewindableReadStream(Stream source) : SequentialReadStream
{
    /// <summary>More than any header this reads twice (an OpenPGP key packet is under a hundred bytes).</summary>
    private const int RecordLimit = 1 << 16;

    private readonly MemoryStream _recorded = new();
    private bool _recording = true;
    private int _position;

    /// <summary>The source returned no more bytes.</summary>
    public bool ReachedEnd { get; private set; }

    /// <summary>What the source itself threw, when it did.</summary>
    public Exception? SourceFailure { get; private set; }

    /// <summary>Serves again what was read so far (it keeps recording until <see cref="StopRecording"/>).</summary>
    public void Rewind() => _position = 0;

    public void StopRecording() => _recording = false;

    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length == 0) return 0;
        if (_position < _recorded.Length)
        {
            var replayed = Math.Min(buffer.Length, (int)_recorded.Length - _position);
            _recorded.GetBuffer().AsSpan(_position, replayed).CopyTo(buffer);
            _position += replayed;
            return replayed;
        }
        if (!_recording && _recorded.Length > 0)
        {
            _recorded.SetLength(0);
            _position = 0;
        }

        int read;
        try
        {
            read = source.Read(buffer);
        }
        catch (Exception ex)
        {
            SourceFailure = ex;
            throw;
        }
        if (read == 0) ReachedEnd = true;
        if (_recording)
        {
            if (_recorded.Length + read > RecordLimit)
                throw new BackupFormatException("BackupCorrupted", "The encrypted file's header is larger than 64 KB: the file is damaged or not a backup file. Use another backup.");
            _recorded.Write(buffer[..read]);
            _position += read;
        }
        return read;
    }
}

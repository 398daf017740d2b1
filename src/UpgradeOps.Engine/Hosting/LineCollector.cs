namespace UpgradeOps.Hosting;

/// <summary>
/// A write-only stream that splits what it receives into lines, hands each to <c>onLine</c> (progress, logging) and tells a
/// waiter when a line it wants arrives.
/// </summary>
internal sealed class LineCollector(Action<string>? onLine = null) : Stream
{
    private readonly object _gate = new();
    private readonly List<string> _lines = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = new();
    private readonly System.Text.StringBuilder _partial = new();
    // Keeps a character whose UTF-8 bytes arrive in two writes (exec frames split anywhere) whole.
    private readonly DecodedText _decoder = new(limit: 0);

    public IReadOnlyList<string> Lines { get { lock (_gate) return _lines.ToList(); } }

    /// <summary>Everything received: the lines, and a last one without its newline.</summary>
    public string Text
    {
        get
        {
            lock (_gate)
                return string.Concat(_lines.Select(l => l + "\n")) + (_partial.Length > 0 ? _partial + "\n" : "");
        }
    }

    public Task<string> WaitForAsync(Func<string, bool> match)
    {
        lock (_gate)
        {
            if (_lines.FirstOrDefault(match) is { } line) return Task.FromResult(line);
            var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, found));
            return found.Task;
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            _partial.Append(_decoder.Decode(buffer));
            EmitLines();
        }
    }

    /// <summary>The output ended: a last line without its newline is a line too.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _partial.Append(_decoder.Decode(ReadOnlySpan<byte>.Empty, last: true));
            EmitLines();
            if (_partial.Length > 0) Emit(_partial.ToString().TrimEnd('\r'));
            _partial.Clear();
        }
    }

    private void EmitLines()
    {
        int newline;
        while ((newline = _partial.ToString().IndexOf('\n')) >= 0)
        {
            var line = _partial.ToString(0, newline).TrimEnd('\r');
            _partial.Remove(0, newline + 1);
            Emit(line);
        }
    }

    private void Emit(string line)
    {
        _lines.Add(line);
        onLine?.Invoke(line);
        foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
        {
            _waiters.Remove(waiter);
            waiter.Found.TrySetResult(line);
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

    public override void Flush() { }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => 0;
    public override long Position { get => 0; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

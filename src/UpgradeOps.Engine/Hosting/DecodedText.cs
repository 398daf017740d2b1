using System.Text;

namespace UpgradeOps.Hosting;

/// <summary>
/// Text whose UTF-8 bytes arrive in pieces cut anywhere (exec frames, log chunks, WebSocket messages): one stateful decoder
/// keeps a character whose bytes fall in two pieces whole, where decoding each piece alone made replacement characters.
/// It stops growing at its limit (an error stream that never ends must not fill the memory).
/// </summary>
internal sealed class DecodedText(int limit = int.MaxValue)
{
    private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
    private readonly StringBuilder _text = new();
    private bool _completed;

    public int Length => _text.Length;

    /// <summary>Decodes one piece; the bytes of a character it ends inside are held back until the next piece completes it.</summary>
    public string Decode(ReadOnlySpan<byte> bytes, bool last = false)
    {
        var chars = new char[_decoder.GetCharCount(bytes, last)];
        var count = _decoder.GetChars(bytes, chars, last);
        return new string(chars, 0, count);
    }

    /// <summary>Appends a piece, up to the limit.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        var text = Decode(bytes);
        if (_text.Length < limit) _text.Append(text);
    }

    /// <summary>Appends text that was never bytes (a status message).</summary>
    public void Append(string text) => _text.Append(text);

    /// <summary>Everything received; bytes of a character that never completed become one replacement character.</summary>
    public override string ToString()
    {
        if (!_completed)
        {
            _completed = true;
            var rest = Decode(ReadOnlySpan<byte>.Empty, last: true);
            if (_text.Length < limit) _text.Append(rest);
        }
        return _text.ToString();
    }
}

using System.Text;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;

namespace UpgradeOps.Tests.Hosting;

/// <summary>
/// Exec output arrives in frames cut anywhere, also inside a character: every reader of it (Docker exec's stderr, pod exec's
/// stderr, a port-forward's error channel, a migration's log lines) decodes through one stateful decoder.
/// </summary>
public class DecodedTextTests
{
    private const string Text = "migration: schéma → 2.0 ✓ 😀 done";
    private static readonly byte[] Bytes = Encoding.UTF8.GetBytes(Text);

    public static IEnumerable<object[]> Cuts() => Enumerable.Range(1, Bytes.Length - 1).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Cuts))]
    public void A_character_cut_between_two_frames_is_decoded_whole(int cut)
    {
        var text = new DecodedText();
        text.Append(Bytes.AsSpan(0, cut));
        text.Append(Bytes.AsSpan(cut));
        Assert.Equal(Text, text.ToString());
    }

    [Fact]
    public void Every_byte_in_a_frame_of_its_own_still_decodes()
    {
        var text = new DecodedText();
        foreach (var b in Bytes) text.Append(new[] { b });
        Assert.Equal(Text, text.ToString());
    }

    [Fact]
    public void It_stops_growing_at_its_limit()
    {
        var text = new DecodedText(limit: 10);
        for (var i = 0; i < 100; i++) text.Append("0123456789\n"u8);
        Assert.InRange(text.ToString().Length, 10, 21);
    }

    [Fact]
    public void A_character_that_never_completes_is_one_replacement_character()
    {
        var text = new DecodedText();
        text.Append(Bytes.AsSpan(0, Text.IndexOf('→') > 0 ? Encoding.UTF8.GetByteCount(Text[..Text.IndexOf('→')]) + 1 : 1));
        Assert.EndsWith("\uFFFD", text.ToString());
    }

    [Theory]
    [MemberData(nameof(Cuts))]
    public void A_pod_exec_stderr_frame_pair_decodes_whole(int cut)
    {
        // Two WebSocket messages on the stderr channel, as PodExec reads them.
        var frames = new PodExecFrames();
        var stderr = new DecodedText();
        foreach (var message in new[] { PodExecFrames.Message(PodExecFrames.StdErr, Bytes.AsSpan(0, cut)), PodExecFrames.Message(PodExecFrames.StdErr, Bytes.AsSpan(cut)) })
        {
            var (channel, payload) = frames.Accept(message, message.Length, endOfMessage: true);
            Assert.Equal(PodExecFrames.StdErr, channel);
            stderr.Append(payload);
        }
        Assert.Equal(Text, stderr.ToString());
    }

    [Theory]
    [MemberData(nameof(Cuts))]
    public void Migration_log_lines_cut_anywhere_come_out_whole_and_in_order(int cut)
    {
        var log = Encoding.UTF8.GetBytes("first → line\r\n" + Text + "\nlast without newline ✓");
        var seen = new List<string>();
        var lines = new LineCollector(seen.Add);
        var at = Math.Min(cut, log.Length - 1);
        lines.Write(log, 0, at);
        lines.Write(log, at, log.Length - at);
        lines.Complete();
        Assert.Equal(new[] { "first → line", Text, "last without newline ✓" }, seen);
    }
}

using UpgradeOps.ReleaseNotes;

namespace UpgradeOps.Engine.Tests.ReleaseNotes;

/// <summary>Release-note files that cannot be release notes: too large, empty, binary.</summary>
public class ReleaseNoteInputTests
{
    private static string TempFile(byte[] content)
    {
        var path = Path.Combine(Path.GetTempPath(), $"notes-{Guid.NewGuid():N}.md");
        File.WriteAllBytes(path, content);
        return path;
    }

    private static async Task<UpgradeOpsException> LoadFails(string path)
    {
        try
        {
            return await Assert.ThrowsAsync<UpgradeOpsException>(() => ReleaseNoteSource.LoadAsync(path, ReleaseNoteFormat.Auto, null, CancellationToken.None));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_file_over_the_limit_is_refused_before_it_is_read()
    {
        var path = Path.Combine(Path.GetTempPath(), $"notes-{Guid.NewGuid():N}.md");
        using (var stream = File.Create(path)) stream.SetLength(ReleaseNoteSource.MaximumBytes + 1);
        var error = await LoadFails(path);
        Assert.Equal("ReleaseNotesTooLarge", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Equal(path, error.Target);
    }

    [Fact]
    public async Task A_download_over_the_limit_is_refused()
    {
        using var http = new HttpClient(new BigResponse(ReleaseNoteSource.MaximumBytes + 1));
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            ReleaseNoteSource.LoadAsync("https://example.com/CHANGELOG.md", ReleaseNoteFormat.Auto, http, CancellationToken.None));
        Assert.Equal("ReleaseNotesTooLarge", error.ErrorId);
    }

    [Theory]
    [InlineData(new byte[0], "is empty")]
    [InlineData(new byte[] { 0x0A, 0x20, 0x09, 0x0A }, "is empty")]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x00, 0x00, 0x0D }, "binary")]
    [InlineData(new byte[] { 0x5B, 0x00, 0x01, 0x5D }, "binary")]
    public async Task An_empty_or_binary_file_is_InvalidReleaseNotes(byte[] content, string expected)
    {
        var path = TempFile(content);
        var error = await LoadFails(path);
        Assert.Equal("InvalidReleaseNotes", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Contains(expected, error.Message);
    }

    private sealed class BigResponse(long length) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new StreamContent(new ZeroStream(length)) });
    }

    /// <summary>A stream of spaces of a given length with no length of its own, as a chunked download is.</summary>
    private sealed class ZeroStream(long length) : Stream
    {
        private long _left = length;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, _left);
            Array.Fill(buffer, (byte)' ', offset, n);
            _left -= n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

using System.Net;
using UpgradeOps.ReleaseNotes;

namespace UpgradeOps.Engine.Tests.ReleaseNotes;

public class ReleaseNoteSourceTests
{
    [Fact]
    public async Task Loads_a_local_changelog()
    {
        var path = ReleaseNoteFixtures.PathOf("keep-a-changelog.md");

        var document = await ReleaseNoteSource.LoadAsync(path, ReleaseNoteFormat.Auto, null, CancellationToken.None);

        Assert.Equal(4, document.Releases.Count);
        Assert.Equal(path, document.Source);
    }

    [Fact]
    public async Task Missing_file_is_reported_with_its_full_path()
    {
        var path = ReleaseNoteFixtures.PathOf("does-not-exist.md");

        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            ReleaseNoteSource.LoadAsync(path, ReleaseNoteFormat.Auto, null, CancellationToken.None));

        Assert.Equal("ReleaseNotesNotFound", error.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, error.Kind);
        Assert.Equal(path, error.Target);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public async Task Downloads_github_releases_json_from_a_url()
    {
        var handler = new StubHandler(HttpStatusCode.OK, ReleaseNoteFixtures.Read("github-releases.json"));
        using var http = new HttpClient(handler);

        var document = await ReleaseNoteSource.LoadAsync(
            "https://api.github.com/repos/example/lanternd/releases", ReleaseNoteFormat.Auto, http, CancellationToken.None);

        Assert.Equal(3, document.Releases.Count);
        Assert.Equal("https://api.github.com/repos/example/lanternd/releases", document.Source);
        Assert.Equal("?per_page=100", handler.LastRequest!.RequestUri!.Query);
        Assert.NotEmpty(handler.LastRequest.Headers.UserAgent);
    }

    [Fact]
    public async Task Http_error_is_reported_as_unavailable_with_the_url()
    {
        using var http = new HttpClient(new StubHandler(HttpStatusCode.NotFound, "{\"message\":\"Not Found\"}"));
        const string url = "https://example.invalid/lanternd/CHANGELOG.md";

        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            ReleaseNoteSource.LoadAsync(url, ReleaseNoteFormat.Auto, http, CancellationToken.None));

        Assert.Equal("ReleaseNotesUnavailable", error.ErrorId);
        Assert.Equal(ErrorKind.ConnectionError, error.Kind);
        Assert.Contains(url, error.Message);
        Assert.Contains("404", error.Message);
        Assert.Contains("-Path", error.Message);
    }

    [Fact]
    public async Task Connection_failure_is_reported_as_unavailable()
    {
        using var http = new HttpClient(new StubHandler(new HttpRequestException("No such host is known.")));

        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            ReleaseNoteSource.LoadAsync("https://example.invalid/CHANGELOG.md", ReleaseNoteFormat.Auto, http, CancellationToken.None));

        Assert.Equal("ReleaseNotesUnavailable", error.ErrorId);
        Assert.IsType<HttpRequestException>(error.InnerException);
    }

    /// <summary>Answers every request with a fixed response, or fails it, without touching the network.</summary>
    private sealed class StubHandler : HttpMessageHandler
    {
        private readonly HttpStatusCode _status;
        private readonly string _body = string.Empty;
        private readonly Exception? _failure;

        public StubHandler(HttpStatusCode status, string body)
        {
            _status = status;
            _body = body;
        }

        public StubHandler(Exception failure) => _failure = failure;

        public HttpRequestMessage? LastRequest { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            LastRequest = request;
            if (_failure is not null) throw _failure;
            return Task.FromResult(new HttpResponseMessage(_status) { Content = new StringContent(_body) });
        }
    }
}

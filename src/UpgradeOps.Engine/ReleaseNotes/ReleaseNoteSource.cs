using System.Net.Http.Headers;

namespace UpgradeOps.ReleaseNotes;

/// <summary>Loads release notes from a local file or an http(s) URL; the network is used only for a URL.</summary>
public static class ReleaseNoteSource
{
    public const string NotFoundErrorId = "ReleaseNotesNotFound";
    public const string UnreadableErrorId = "ReleaseNotesUnreadable";
    public const string UnavailableErrorId = "ReleaseNotesUnavailable";

    private static readonly Lazy<HttpClient> SharedHttp = new(() => new HttpClient { Timeout = TimeSpan.FromSeconds(60) });

    private static readonly ProductInfoHeaderValue UserAgent =
        new("UpgradeOps", typeof(ReleaseNoteSource).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    /// <summary>
    /// Reads and parses the release notes at <paramref name="pathOrUri"/>: a file path (or file:// URI),
    /// or an http(s) URL such as a raw CHANGELOG.md or https://api.github.com/repos/OWNER/REPO/releases.
    /// </summary>
    public static async Task<ReleaseNoteDocument> LoadAsync(string pathOrUri, ReleaseNoteFormat format, HttpClient? http, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(pathOrUri))
            throw new UpgradeOpsException(NotFoundErrorId, ErrorKind.ObjectNotFound, pathOrUri,
                "No release notes were given: pass the path of the product's CHANGELOG.md, or its URL.");

        if (Uri.TryCreate(pathOrUri, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            var downloaded = await DownloadAsync(WithFullReleasePage(uri), http ?? SharedHttp.Value, ct).ConfigureAwait(false);
            return ReleaseNoteParser.Parse(downloaded, format, pathOrUri);
        }

        var path = FullPath(uri is { IsFile: true } ? uri.LocalPath : pathOrUri);
        var text = await ReadFileAsync(path, ct).ConfigureAwait(false);
        return ReleaseNoteParser.Parse(text, format, path);
    }

    private static string FullPath(string path)
    {
        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UpgradeOpsException(NotFoundErrorId, ErrorKind.ObjectNotFound, path,
                $"'{path}' is not a valid file path ({ex.Message}). Give the path of the product's CHANGELOG.md, or an http(s) URL.", ex);
        }
    }

    private static async Task<string> ReadFileAsync(string path, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            var hint = Directory.Exists(path)
                ? "It is a folder: give the CHANGELOG.md file inside it."
                : "Check the path, or download the product's CHANGELOG.md (or its GitHub releases JSON) and give that file.";
            throw new UpgradeOpsException(NotFoundErrorId, ErrorKind.ObjectNotFound, path,
                $"Release notes file '{path}' was not found. {hint}");
        }

        try
        {
            return await File.ReadAllTextAsync(path, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var kind = ex is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.ResourceUnavailable;
            throw new UpgradeOpsException(UnreadableErrorId, kind, path,
                $"Release notes file '{path}' could not be read ({ex.Message}). Check that it is readable by the current user and not locked, then retry.", ex);
        }
    }

    private static async Task<string> DownloadAsync(Uri uri, HttpClient http, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        // GitHub's API refuses requests without a User-Agent; leave a caller's own choice alone.
        if (http.DefaultRequestHeaders.UserAgent.Count == 0) request.Headers.UserAgent.Add(UserAgent);
        if (IsGitHubApi(uri)) request.Headers.Accept.ParseAdd("application/vnd.github+json");

        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw Unavailable(uri, $"the server answered {(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd(), null);
            return await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw Unavailable(uri, ex.Message, ex);
        }
        catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw Unavailable(uri, "the request timed out", ex);
        }
    }

    /// <summary>GitHub lists 30 releases per page by default; ask for its maximum so older versions are covered.</summary>
    private static Uri WithFullReleasePage(Uri uri)
    {
        if (!IsGitHubApi(uri) || !uri.AbsolutePath.TrimEnd('/').EndsWith("/releases", StringComparison.Ordinal)
            || uri.Query.Contains("per_page=", StringComparison.OrdinalIgnoreCase))
            return uri;

        var query = uri.Query.Length > 1 ? uri.Query[1..] + "&per_page=100" : "per_page=100";
        return new UriBuilder(uri) { Query = query }.Uri;
    }

    private static bool IsGitHubApi(Uri uri) => uri.Host.Equals("api.github.com", StringComparison.OrdinalIgnoreCase);

    private static UpgradeOpsException Unavailable(Uri uri, string reason, Exception? inner) =>
        new(UnavailableErrorId, ErrorKind.ConnectionError, uri.ToString(),
            $"Could not download release notes from '{uri}': {reason}. Check the URL and this machine's network or proxy access, "
            + "or download the file elsewhere and pass the downloaded copy with -Path.", inner);
}

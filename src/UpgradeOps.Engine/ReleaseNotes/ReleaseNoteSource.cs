using System.Net.Http.Headers;
using System.Text;
using UpgradeOps.Hosting;

namespace UpgradeOps.ReleaseNotes;

/// <summary>Loads release notes from a local file or an http(s) URL; the network is used only for a URL.</summary>
public static class ReleaseNoteSource
{
    public const string NotFoundErrorId = "ReleaseNotesNotFound";
    public const string UnreadableErrorId = "ReleaseNotesUnreadable";
    public const string UnavailableErrorId = "ReleaseNotesUnavailable";
    public const string TooLargeErrorId = "ReleaseNotesTooLarge";

    /// <summary>
    /// The largest release notes read (8 MiB). A product's CHANGELOG.md or a page of 100 GitHub releases is well under a
    /// megabyte, and the Markdown parser takes about a second per few megabytes: a bigger file is not release notes and
    /// would hold the command for minutes.
    /// </summary>
    public const long MaximumBytes = 8L * 1024 * 1024;

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
                $"'{UserText.Shown(path)}' is not a valid file path ({ex.Message}). Give the path of the product's CHANGELOG.md, or an http(s) URL.", ex);
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
                $"Release notes file '{UserText.Shown(path)}' was not found. {hint}");
        }

        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaximumBytes) throw TooLarge(path, $"Release notes file '{UserText.Shown(path)}' is {Megabytes(length)}");
            return await File.ReadAllTextAsync(path, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var kind = ex is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.ResourceUnavailable;
            throw new UpgradeOpsException(UnreadableErrorId, kind, path,
                $"Release notes file '{UserText.Shown(path)}' could not be read ({ex.Message}). Check that it is readable by the current user and not locked, then retry.", ex);
        }
    }

    private static UpgradeOpsException TooLarge(object target, string what) =>
        new(TooLargeErrorId, ErrorKind.InvalidData, target,
            $"{what}; release notes larger than {Megabytes(MaximumBytes)} are not read (a product's CHANGELOG.md, or a page of its GitHub releases, " +
            "is well under a megabyte). Give the product's own CHANGELOG.md or its GitHub releases JSON, or cut the file down to the versions you upgrade across.");

    private static string Megabytes(long bytes) => $"{bytes / (1024.0 * 1024):0.#} MB";

    /// <summary>The body as text, refused once it passes <see cref="MaximumBytes"/> (a chunked response has no length to check first).</summary>
    private static async Task<string> ReadLimitedAsync(HttpContent content, Uri uri, CancellationToken ct)
    {
        if (content.Headers.ContentLength is > MaximumBytes and var declared)
            throw TooLarge(uri.ToString(), $"The release notes at '{uri}' are {Megabytes(declared)}");
        await using var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaximumBytes)
                throw TooLarge(uri.ToString(), $"The release notes at '{uri}' are over {Megabytes(MaximumBytes)}");
            buffer.Write(chunk, 0, read);
        }
        var encoding = content.Headers.ContentType?.CharSet is { Length: > 0 } charset ? EncodingOf(charset) : null;
        return (encoding ?? Encoding.UTF8).GetString(buffer.GetBuffer(), 0, (int)buffer.Length).TrimStart('\uFEFF');
    }

    private static Encoding? EncodingOf(string charset)
    {
        try
        {
            return Encoding.GetEncoding(charset.Trim('"'));
        }
        catch (ArgumentException)
        {
            return null;
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
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw Unavailable(uri, $"the server answered {(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd(), null);
            return await ReadLimitedAsync(response.Content, uri, ct).ConfigureAwait(false);
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

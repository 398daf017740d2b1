namespace UpgradeOps.Commands;

/// <summary>
/// Parameters that are wrong whatever the deployment, refused before any engine or cluster is contacted (a negative
/// timeout would otherwise fail at once, deep inside an upgrade, or never be noticed).
/// </summary>
internal static class ParameterChecks
{
    /// <summary>A timeout or an age must be longer than zero; InvalidDuration with the value as the target.</summary>
    public static void Positive(string parameter, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
            throw new UpgradeOpsException("InvalidDuration", ErrorKind.InvalidArgument, value,
                $"-{parameter} {value} is not a positive duration. Give one longer than zero, such as 00:30:00 (30 minutes) or 1.00:00:00 (a day).");
    }

    /// <summary>
    /// -ApiEndpoint is an absolute http or https URL with no user name or password in it; ApiEndpointInvalid with the value
    /// as the target, its user:password masked (it was taken apart only when first used: an upgrade had changed the
    /// release's values by then).
    /// </summary>
    public static void ApiEndpoint(string? endpoint)
    {
        if (endpoint is null) return;
        var shown = WithoutCredentials(endpoint);
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new UpgradeOpsException("ApiEndpointInvalid", ErrorKind.InvalidArgument, shown,
                $"-ApiEndpoint '{shown}' is not an http or https URL. Give the API's base URL as a browser opens it, such as https://infrahub.example.com or http://127.0.0.1:8000.");
        // An accepted URL shows in every check's detail, the progress and the reports.
        if (uri.UserInfo.Length > 0)
            throw new UpgradeOpsException("ApiEndpointInvalid", ErrorKind.InvalidArgument, shown,
                $"-ApiEndpoint '{shown}' carries a user name or password, which would show in every result that names the URL. " +
                $"Give the URL without them, such as {uri.Scheme}://{uri.Authority}{uri.AbsolutePath.TrimEnd('/')}.");
    }

    /// <summary>The text with whatever sits between "://" and "@" (a URL's user:password) replaced by ***, parsable or not.</summary>
    internal static string WithoutCredentials(string text) =>
        System.Text.RegularExpressions.Regex.Replace(text, "(?<=://)[^/?#]*@", "***@");

    /// <summary>A maintenance window ends after it starts; InvalidWindow with the window as the target.</summary>
    public static void Window(DateTimeOffset[]? window)
    {
        if (window is [var start, var end] && end <= start)
            throw new UpgradeOpsException("InvalidWindow", ErrorKind.InvalidArgument, window,
                $"-Window ends ({end:u}) {(end == start ? "when" : "before")} it starts ({start:u}). Give the start first, then a later end: -Window <start>,<end>.");
    }
}

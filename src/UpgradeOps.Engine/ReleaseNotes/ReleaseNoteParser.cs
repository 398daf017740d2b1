using System.Globalization;
using System.Text.Json;
using Markdig;
using Markdig.Syntax;
using UpgradeOps.Hosting;
using UpgradeOps.Versioning;

namespace UpgradeOps.ReleaseNotes;

/// <summary>Reads release notes from a CHANGELOG.md or from GitHub's releases JSON.</summary>
public static class ReleaseNoteParser
{
    public const string InvalidReleaseNotesErrorId = "InvalidReleaseNotes";

    // Plain CommonMark: changelogs need no extensions, and fewer extensions mean fewer surprises.
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().Build();

    /// <summary>Parses <paramref name="text"/>; <see cref="ReleaseNoteFormat.Auto"/> reads JSON when the text starts with '[' or '{'.</summary>
    public static ReleaseNoteDocument Parse(string text, ReleaseNoteFormat format, string? source)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
            throw InvalidReleaseNotes(source, $"{Describe(source, capitalize: true)} is empty. Give the product's CHANGELOG.md, or its GitHub releases JSON.");
        // Text has no NUL; a binary file read as text is full of them (and would otherwise be "no release headings").
        if (text.Contains('\0'))
            throw InvalidReleaseNotes(source, $"{Describe(source, capitalize: true)} holds binary data (NUL bytes), not text. " +
                "Give the product's CHANGELOG.md (Markdown), or its GitHub releases JSON.");
        return format switch
        {
            ReleaseNoteFormat.Changelog => ParseChangelog(text, source),
            ReleaseNoteFormat.GitHubReleases => ParseGitHubReleases(text, source),
            _ => LooksLikeJson(text) ? ParseGitHubReleases(text, source) : ParseChangelog(text, source),
        };
    }

    /// <summary>
    /// Parses a Keep a Changelog or towncrier CHANGELOG.md. Every level-2 heading with a version
    /// ("## [1.7.6] - 2025-03-01", "## 1.7.6 (2025-03-01)", "## v1.7.6", linked or not) starts a release;
    /// level-2 headings without one ("## [Unreleased]") and everything under them are skipped.
    /// Headings of level 3 and deeper are sections; see <see cref="ReleaseBodyReader"/> for entries.
    /// </summary>
    public static ReleaseNoteDocument ParseChangelog(string markdown, string? source)
    {
        ArgumentNullException.ThrowIfNull(markdown);
        var document = Markdown.Parse(markdown, Pipeline);
        var releases = new List<ReleaseEntry>();

        ProductVersion? version = null;
        DateTime? date = null;
        var body = new List<Block>();

        void CloseRelease()
        {
            if (version is not null) releases.Add(NewRelease(version, date, prerelease: false, body, source));
            version = null;
            body = [];
        }

        foreach (var block in document)
        {
            if (block is HeadingBlock { Level: <= 2 } heading)
            {
                CloseRelease();
                ReleaseNoteRules.TryReadVersion(MarkdownPlainText.RenderInlines(heading.Inline), out version, out date);
            }
            else if (version is not null)
            {
                body.Add(block);
            }
        }

        CloseRelease();

        if (releases.Count == 0)
            throw InvalidReleaseNotes(source,
                $"No release headings such as '## [1.2.3] - 2024-01-31' or '## 1.2.3 (2024-01-31)' were found in {Describe(source)}. "
                + "Give the project's CHANGELOG.md in Keep a Changelog or towncrier format (for a web page, use the raw file URL), "
                + "or the GitHub releases API URL (https://api.github.com/repos/OWNER/REPO/releases).");

        return new ReleaseNoteDocument(releases, source);
    }

    /// <summary>
    /// Parses the JSON of GitHub's "list releases" API (an array; a single release object is accepted too).
    /// Drafts are skipped; the version comes from tag_name, or from name when the tag has none.
    /// Every heading inside a release body is a section, whatever its level.
    /// </summary>
    public static ReleaseNoteDocument ParseGitHubReleases(string json, string? source)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument parsed;
        try
        {
            parsed = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw InvalidReleaseNotes(source,
                $"The release notes in {Describe(source)} are not valid JSON ({ex.Message}). "
                + "Expected the array returned by GitHub's releases API (https://api.github.com/repos/OWNER/REPO/releases); "
                + "if this is a CHANGELOG.md, read it as a changelog instead.", ex);
        }

        using (parsed)
        {
            var root = parsed.RootElement;
            var items = root.ValueKind switch
            {
                JsonValueKind.Array => root.EnumerateArray().ToList(),
                JsonValueKind.Object => [root],
                _ => null,
            };
            if (items is null || items.Any(item => item.ValueKind != JsonValueKind.Object))
                throw InvalidReleaseNotes(source, NotAReleaseList(source));

            var releases = items
                .Where(item => !IsTrue(item, "draft"))
                .Select(item => ReadGitHubRelease(item, source))
                .OfType<ReleaseEntry>()
                .ToList();

            if (releases.Count == 0)
                throw InvalidReleaseNotes(source,
                    $"{Describe(source, capitalize: true)} holds no published release with a version tag such as v1.2.3 (drafts are skipped). "
                    + NotAReleaseList(source));

            return new ReleaseNoteDocument(releases, source);
        }
    }

    /// <summary>
    /// The category of an entry: the section heading gives a default ("Fixed" → Fix, "Removed" → BreakingChange),
    /// the entry's text can raise it ("BREAKING CHANGE:", migrations, settings, CVEs), and the most important wins:
    /// BreakingChange, Security, DatabaseMigration, ConfigurationChange, Deprecation, KnownIssue, then the section's own.
    /// </summary>
    public static ReleaseNoteCategory Classify(string? section, string text) =>
        ReleaseNoteRules.Classify(ReleaseNoteRules.CategoryOfSection(section, text ?? string.Empty), text ?? string.Empty);

    private static ReleaseEntry? ReadGitHubRelease(JsonElement release, string? source)
    {
        if (!ReleaseNoteRules.TryReadVersion(StringOf(release, "tag_name"), out var version, out _)
            && !ReleaseNoteRules.TryReadVersion(StringOf(release, "name"), out version, out _))
            return null;

        DateTime? date = DateTimeOffset.TryParse(StringOf(release, "published_at"), CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal, out var published) ? published.UtcDateTime : null;
        var body = Markdown.Parse(StringOf(release, "body") ?? string.Empty, Pipeline);

        return NewRelease(version!, date, IsTrue(release, "prerelease"), body, source);
    }

    private static ReleaseEntry NewRelease(ProductVersion version, DateTime? date, bool prerelease, IEnumerable<Block> body, string? source) =>
        new()
        {
            Version = version,
            Date = date,
            IsPrerelease = prerelease || version.IsPrerelease,
            Notes = ReleaseBodyReader.Read(body, version, date, source),
        };

    private static bool LooksLikeJson(string text)
    {
        var trimmed = text.AsSpan().TrimStart();
        return trimmed.StartsWith("[") || trimmed.StartsWith("{");
    }

    private static string? StringOf(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool IsTrue(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.True;

    private static string NotAReleaseList(string? source) =>
        $"Expected {Describe(source)} to be the JSON array of release objects (tag_name, published_at, body) "
        + "returned by https://api.github.com/repos/OWNER/REPO/releases.";

    private static string Describe(string? source, bool capitalize = false) =>
        source is not null ? $"'{UserText.Shown(source)}'" : capitalize ? "The given text" : "the given text";

    private static UpgradeOpsException InvalidReleaseNotes(string? source, string message, Exception? inner = null) =>
        new(InvalidReleaseNotesErrorId, ErrorKind.InvalidData, source, message, inner);
}

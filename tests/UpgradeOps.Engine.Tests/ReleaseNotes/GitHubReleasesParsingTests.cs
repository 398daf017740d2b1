using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;

namespace UpgradeOps.Engine.Tests.ReleaseNotes;

public class GitHubReleasesParsingTests
{
    private static ReleaseNoteDocument Releases() =>
        ReleaseNoteParser.ParseGitHubReleases(ReleaseNoteFixtures.Read("github-releases.json"), "github-releases.json");

    [Fact]
    public void Skips_drafts_and_keeps_prereleases_with_their_version()
    {
        var document = Releases();

        Assert.Equal(["2.1.0-rc.1", "2.0.0", "1.9.1"], document.Versions.Select(v => v.ToString()));
        var candidate = document.Releases[0];
        Assert.True(candidate.Version.IsPrerelease);
        Assert.True(candidate.IsPrerelease);
        Assert.False(document.Releases[1].IsPrerelease);
        Assert.Equal(new DateTime(2025, 2, 20, 9, 30, 0, DateTimeKind.Utc), candidate.Date);
    }

    [Fact]
    public void Body_headings_are_sections_at_any_level()
    {
        var notes = Releases().Releases[1].Notes;

        Assert.Equal(
            [
                "() Other: Please read the breaking changes before upgrading.",
                "(Breaking changes) BreakingChange: Drop the v1 lamp API (#280)",
                "(Bug fixes) Fix: Fix the colour picker (#284)",
                "(Bug fixes) ConfigurationChange: The LANTERN_PORT environment variable is now required (#286)",
            ],
            notes.Select(n => $"({n.Section}) {n.Category}: {n.Title}"));
        Assert.Equal(["#280"], notes[1].References);
    }

    [Fact]
    public void Generated_contributor_and_full_changelog_lines_are_not_notes()
    {
        var notes = Releases().Releases.SelectMany(r => r.Notes).ToList();

        Assert.DoesNotContain(notes, n => n.Text.Contains("first contribution") || n.Text.StartsWith("Full Changelog"));
    }

    [Fact]
    public void Pull_request_urls_become_references()
    {
        var note = Releases().Releases[0].Notes.Single();

        Assert.Equal("What's Changed", note.Section);
        Assert.Equal(["#301"], note.References);
    }

    [Fact]
    public void Release_without_body_has_no_notes()
    {
        var release = Releases().Releases[2];

        Assert.Equal(ProductVersion.Parse("1.9.1"), release.Version);
        Assert.Empty(release.Notes);
    }

    [Fact]
    public void Auto_format_detects_json()
    {
        var document = ReleaseNoteParser.Parse("  \n" + ReleaseNoteFixtures.Read("github-releases.json"), ReleaseNoteFormat.Auto, null);

        Assert.Equal(3, document.Releases.Count);
    }

    [Fact]
    public void Auto_format_reads_markdown_as_a_changelog()
    {
        var document = ReleaseNoteParser.Parse(ReleaseNoteFixtures.Read("towncrier.md"), ReleaseNoteFormat.Auto, null);

        Assert.Equal(3, document.Releases.Count);
    }

    [Theory]
    [InlineData("[ { \"tag_name\": \"v1.0.0\", ")]
    [InlineData("not json at all")]
    public void Invalid_json_is_reported_with_the_source(string json)
    {
        var error = Assert.Throws<UpgradeOpsException>(() =>
            ReleaseNoteParser.Parse(json, ReleaseNoteFormat.GitHubReleases, "https://api.example.invalid/releases"));

        Assert.Equal("InvalidReleaseNotes", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Equal("https://api.example.invalid/releases", error.Target);
        Assert.Contains("https://api.example.invalid/releases", error.Message);
        Assert.Contains("releases API", error.Message);
    }

    [Theory]
    [InlineData("\"just a string\"")]
    [InlineData("[1, 2]")]
    [InlineData("[]")]
    [InlineData("[{\"tag_name\": \"nightly\", \"draft\": false}]")]
    public void Json_that_is_not_a_release_list_is_invalid(string json)
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ReleaseNoteParser.ParseGitHubReleases(json, "feed.json"));

        Assert.Equal("InvalidReleaseNotes", error.ErrorId);
        Assert.Contains("tag_name", error.Message);
    }
}

using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;

namespace UpgradeOps.Engine.Tests.ReleaseNotes;

public class ChangelogParsingTests
{
    private static ReleaseNoteDocument KeepAChangelog() =>
        ReleaseNoteParser.ParseChangelog(ReleaseNoteFixtures.Read("keep-a-changelog.md"), "keep-a-changelog.md");

    private static ReleaseNoteDocument Towncrier() =>
        ReleaseNoteParser.ParseChangelog(ReleaseNoteFixtures.Read("towncrier.md"), "towncrier.md");

    private static ReleaseEntry Release(ReleaseNoteDocument document, string version) =>
        document.Releases.Single(release => release.Version.Equals(ProductVersion.Parse(version)));

    [Fact]
    public void Reads_versions_newest_first_and_skips_unreleased()
    {
        var document = KeepAChangelog();

        Assert.Equal(["2.1.0", "2.0.0", "1.9.1", "1.9.0"], document.Versions.Select(v => v.ToString()));
        Assert.DoesNotContain(document.Releases.SelectMany(r => r.Notes), note => note.Text.Contains("Work in progress"));
        Assert.Equal("keep-a-changelog.md", document.Source);
    }

    [Fact]
    public void Reads_release_dates()
    {
        var document = KeepAChangelog();

        Assert.Equal(new DateTime(2025, 3, 1), Release(document, "2.1.0").Date);
        Assert.Equal(new DateTime(2024, 11, 20), Release(document, "1.9.0").Date);
    }

    [Fact]
    public void Each_top_level_list_item_is_one_entry_with_its_section()
    {
        var notes = Release(KeepAChangelog(), "2.1.0").Notes;

        Assert.Equal(5, notes.Count);
        Assert.Equal(["Added", "Added", "Fixed", "Fixed", "Security"], notes.Select(n => n.Section));
        Assert.Equal([ReleaseNoteCategory.Feature, ReleaseNoteCategory.Feature, ReleaseNoteCategory.Fix, ReleaseNoteCategory.Fix, ReleaseNoteCategory.Security],
            notes.Select(n => n.Category));
        Assert.All(notes, note =>
        {
            Assert.Equal("2.1.0", note.Version);
            Assert.Equal(new DateTime(2025, 3, 1), note.ReleaseDate);
            Assert.Equal("keep-a-changelog.md", note.Source);
        });
    }

    [Fact]
    public void Collects_hash_and_GH_references()
    {
        var notes = Release(KeepAChangelog(), "2.1.0").Notes;

        Assert.Equal(["#310"], notes[0].References);
        Assert.Empty(notes[1].References);
        Assert.Equal(["GH-305"], notes[2].References);
    }

    [Fact]
    public void Breaking_change_line_inside_a_fixed_entry_makes_it_breaking()
    {
        var note = Release(KeepAChangelog(), "1.9.1").Notes[0];

        Assert.Equal("Fixed", note.Section);
        Assert.Equal(ReleaseNoteCategory.BreakingChange, note.Category);
        Assert.Equal("Faster startup when many lamps are registered.", note.Title);
        Assert.Equal(
            "Faster startup when many lamps are registered.\n\n"
            + "BREAKING CHANGE: The lamp cache is rebuilt on first start and old cache files are deleted.\n"
            + "Plan for a longer first start. (#298)",
            note.Text);
        Assert.Equal(["#298"], note.References);
    }

    [Fact]
    public void Multi_paragraph_entry_keeps_its_ordered_steps_and_code()
    {
        var note = Release(KeepAChangelog(), "1.9.1").Notes[2];

        Assert.Equal("Repair the lamp index.", note.Title);
        Assert.Equal(
            "Repair the lamp index.\n\n"
            + "1. Stop the service.\n"
            + "2. Run the repair:\n\n"
            + "   lanternctl index repair --all\n"
            + "3. Start the service again.",
            note.Text);
    }

    [Fact]
    public void Nested_lists_are_kept_and_links_reduced_to_their_text()
    {
        var note = Release(KeepAChangelog(), "1.9.0").Notes[0];

        Assert.Equal("Support for Zigbee bridges with automatic discovery.", note.Title);
        Assert.Equal(
            "Support for Zigbee bridges with\nautomatic discovery.\n"
            + "- Bridges are found on the local network.\n"
            + "- Each bridge can be paused\n"
            + "  - per room, or\n"
            + "  - for the whole house.",
            note.Text);
        Assert.DoesNotContain("example.invalid", note.Text);
    }

    [Fact]
    public void Section_defaults_for_breaking_deprecated_removed_and_changed()
    {
        var notes = Release(KeepAChangelog(), "2.0.0").Notes;

        Assert.Equal(
            [ReleaseNoteCategory.BreakingChange, ReleaseNoteCategory.Deprecation, ReleaseNoteCategory.BreakingChange, ReleaseNoteCategory.Other],
            notes.Select(n => n.Category));
        Assert.Equal("The /v1/lamps endpoint is gone; use /v2/lamps.", notes[0].Title);
    }

    [Fact]
    public void Reads_towncrier_headings_with_links_parentheses_and_v_prefix()
    {
        var document = Towncrier();

        Assert.Equal(["3.2.1", "3.2.0", "3.1.0"], document.Versions.Select(v => v.ToString()));
        Assert.Equal(new DateTime(2024, 6, 5), Release(document, "3.2.1").Date);
        Assert.Equal(new DateTime(2024, 5, 20), Release(document, "3.2.0").Date);
        Assert.Null(Release(document, "3.1.0").Date);
        Assert.Equal(["#101"], Release(document, "3.2.1").Notes[0].References);
    }

    [Fact]
    public void Prose_before_the_first_section_is_one_entry_without_a_section()
    {
        var notes = Release(Towncrier(), "3.2.0").Notes;

        var preamble = notes[0];
        Assert.Null(preamble.Section);
        Assert.Equal("This release moves the cache to a separate service. Operators running their own deployment must add it:", preamble.Title);
        Assert.Contains("image: beacon-cache:3.2.0", preamble.Text);
        Assert.Equal(3, notes.Count);
    }

    [Fact]
    public void Keywords_in_the_text_override_the_section()
    {
        var document = Towncrier();

        Assert.Equal(ReleaseNoteCategory.Fix, Release(document, "3.2.1").Notes[0].Category);
        Assert.Equal(ReleaseNoteCategory.DatabaseMigration, Release(document, "3.2.1").Notes[1].Category);
        Assert.Equal(ReleaseNoteCategory.ConfigurationChange, Release(document, "3.2.0").Notes[1].Category);
        Assert.Equal(ReleaseNoteCategory.KnownIssue, Release(document, "3.2.0").Notes[2].Category);
        Assert.Equal(ReleaseNoteCategory.ConfigurationChange, Release(document, "3.1.0").Notes[0].Category);
    }

    [Fact]
    public void Changelog_without_release_headings_is_invalid()
    {
        var error = Assert.Throws<UpgradeOpsException>(() =>
            ReleaseNoteParser.ParseChangelog(ReleaseNoteFixtures.Read("no-releases.md"), "no-releases.md"));

        Assert.Equal("InvalidReleaseNotes", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Equal("no-releases.md", error.Target);
        Assert.Contains("## [1.2.3]", error.Message);
        Assert.Contains("no-releases.md", error.Message);
    }

    [Fact]
    public void Empty_text_is_invalid()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ReleaseNoteParser.ParseChangelog("", null));

        Assert.Equal("InvalidReleaseNotes", error.ErrorId);
    }

    [Fact]
    public void Heading_inside_a_code_block_is_not_a_release()
    {
        const string markdown = "## 1.0.1\n\n### Fixed\n\n- Example:\n\n  ```\n  ## 9.9.9\n  ```\n";

        var document = ReleaseNoteParser.ParseChangelog(markdown, null);

        Assert.Equal(["1.0.1"], document.Versions.Select(v => v.ToString()));
        Assert.Equal("Example:\n\n## 9.9.9", document.Releases[0].Notes[0].Text);
    }
}

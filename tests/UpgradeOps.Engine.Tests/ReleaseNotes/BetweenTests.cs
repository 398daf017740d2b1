using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;

using UpgradeOps.Planning;

namespace UpgradeOps.Engine.Tests.ReleaseNotes;

public class BetweenTests
{
    private static readonly ReleaseNoteDocument Document =
        ReleaseNoteParser.ParseChangelog(ReleaseNoteFixtures.Read("keep-a-changelog.md"), "keep-a-changelog.md");

    private static ProductVersion V(string text) => ProductVersion.Parse(text);

    [Fact]
    public void From_is_exclusive_and_to_is_inclusive_oldest_release_first()
    {
        var notes = Document.Between(V("1.9.0"), V("2.0.0"));

        Assert.Equal(["1.9.1", "1.9.1", "1.9.1", "2.0.0", "2.0.0", "2.0.0", "2.0.0"], notes.Select(n => n.Version));
        Assert.Equal("Faster startup when many lamps are registered.", notes[0].Title);
    }

    [Fact]
    public void Null_from_takes_everything_up_to_to()
    {
        var notes = Document.Between(null, V("1.9.1"));

        Assert.Equal(["1.9.0", "1.9.0", "1.9.0", "1.9.1", "1.9.1", "1.9.1"], notes.Select(n => n.Version));
    }

    [Fact]
    public void Versions_outside_the_document_bound_the_range()
    {
        Assert.Equal(5, Document.Between(V("2.0.0"), V("9.0.0")).Count);
        Assert.Empty(Document.Between(V("2.1.0"), V("2.1.0")));
        Assert.Empty(Document.Between(V("2.1.0"), V("2.0.0")));
    }

    [Fact]
    public void Category_filter_keeps_only_those_categories()
    {
        var notes = Document.Between(V("1.9.0"), V("2.1.0"), [ReleaseNoteCategory.BreakingChange, ReleaseNoteCategory.Security]);

        Assert.Equal(
            ["1.9.1 BreakingChange", "2.0.0 BreakingChange", "2.0.0 BreakingChange", "2.1.0 Security"],
            notes.Select(n => $"{n.Version} {n.Category}"));
    }

    [Fact]
    public void Empty_category_filter_keeps_everything()
    {
        Assert.Equal(Document.Between(null, V("2.1.0")).Count, Document.Between(null, V("2.1.0"), []).Count);
    }

    // Select: Get-UpgradeReleaseNote's -From/-To. A reversed range is an error, and an empty answer always says why.

    [Fact]
    public void A_reversed_range_is_refused_with_the_From_value_as_target()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => Document.Select("v2.1.0", "1.9.1"));
        Assert.Equal("ReleaseNoteRangeReversed", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("v2.1.0", error.Target);
        Assert.Contains("2.1.0 is newer than -To 1.9.1", error.Message);
        Assert.Contains("swap", error.Message);
    }

    [Fact]
    public void The_same_version_twice_is_empty_and_says_so()
    {
        var selection = Document.Select("2.0.0", "v2.0.0");
        Assert.Empty(selection.Notes);
        Assert.Contains("same version", Assert.Single(selection.Warnings));
    }

    [Fact]
    public void A_range_inside_the_document_has_no_warning()
    {
        var selection = Document.Select("1.9.0", "2.1.0");
        Assert.NotEmpty(selection.Notes);
        Assert.Empty(selection.Warnings);
    }

    [Theory]
    [InlineData("2.1.0", "3.0.0", "cover 1.9.0 to 2.1.0: none is newer than 2.1.0")]
    [InlineData("2.5.0", null, "cover 1.9.0 to 2.1.0: none is newer than 2.5.0")]
    [InlineData("1.0.0", "1.5.0", "cover 1.9.0 to 2.1.0: 1.0.0 → 1.5.0 ends before the oldest of them")]
    [InlineData(null, "1.5.0", "cover 1.9.0 to 2.1.0: up to 1.5.0 ends before the oldest of them")]
    public void A_range_outside_the_document_is_empty_and_names_what_it_covers(string? from, string? to, string expected)
    {
        var selection = Document.Select(from, to);
        Assert.Empty(selection.Notes);
        Assert.Contains(expected, Assert.Single(selection.Warnings));
    }

    [Fact]
    public void A_range_that_runs_past_the_newest_release_lists_what_there_is_and_warns()
    {
        var selection = Document.Select("2.0.0", "2.3.0");
        Assert.All(selection.Notes, n => Assert.Equal("2.1.0", n.Version));
        Assert.Contains("the versions after 2.1.0 up to 2.3.0 are not covered", Assert.Single(selection.Warnings));
    }

    [Fact]
    public void A_range_that_starts_before_the_oldest_release_warns()
    {
        var selection = Document.Select("1.5.0", "1.9.1");
        Assert.NotEmpty(selection.Notes);
        Assert.Contains("nothing in them is older than 1.9.0", Assert.Single(selection.Warnings));
    }

    [Fact]
    public void A_category_of_which_the_range_has_none_is_empty_without_a_warning()
    {
        var selection = Document.Select("1.9.0", "1.9.1", [ReleaseNoteCategory.KnownIssue]);
        Assert.Empty(selection.Notes);
        Assert.Empty(selection.Warnings);
        Assert.Contains("none of the categories KnownIssue", selection.Detail);
    }

    [Fact]
    public void Bad_versions_are_InvalidVersion()
    {
        Assert.Equal("InvalidVersion", Assert.Throws<InvalidVersionException>(() => Document.Select("latest", null)).ErrorId);
        Assert.Equal("InvalidVersion", Assert.Throws<InvalidVersionException>(() => Document.Select(null, "99999999999.0.0")).ErrorId);
    }

    [Fact]
    public void The_planner_warns_when_the_notes_do_not_cover_the_path()
    {
        var planner = new UpgradePathPlanner(UpgradeOps.Profiles.ProfileLoader.Load("infrahub"));
        var path = planner.Plan(V("2.1.0"), V("2.1.1"), new UpgradePlanOptions { ReleaseNotes = Document, KnownVersions = [V("2.1.1")] });
        Assert.True(path.IsSupported, path.Reason);
        Assert.Contains(path.Warnings, w => w.Contains("cover 1.9.0 to 2.1.0: none is newer than 2.1.0"));
    }
}

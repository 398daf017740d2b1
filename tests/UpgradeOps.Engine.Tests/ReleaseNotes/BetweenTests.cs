using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;

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
}

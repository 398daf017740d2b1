using UpgradeOps.Profiles;
using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;
using static UpgradeOps.ReleaseNoteCategory;

using UpgradeOps.Planning;

namespace UpgradeOps.Engine.Tests.ReleaseNotes;

/// <summary>
/// The real Infrahub CHANGELOG.md (shared/corpus/infrahub, beside the checkout; never copied into the project): the entries
/// an admin must not miss are classified so, and the hop whose notes hold a database migration is planned with one.
/// </summary>
public class InfrahubChangelogTests
{
    private static readonly Lazy<ReleaseNoteDocument> Document = new(() =>
        ReleaseNoteParser.ParseChangelog(File.ReadAllText(InfrahubCorpus.Changelog!), InfrahubCorpus.Changelog));

    private static ReleaseNote Entry(string version, string titleStart) =>
        Assert.Single(Document.Value.Releases.Single(r => r.Version.ToString() == version).Notes,
            n => n.Title.StartsWith(titleStart, StringComparison.Ordinal));

    [CorpusFact]
    public void A_removal_from_the_documentation_is_not_a_breaking_change() =>
        Assert.Equal(Other, Entry("0.16.0", "Removed isolated branch information from schema topic in the documentation").Category);

    [CorpusFact]
    public void A_removal_from_the_product_is_a_breaking_change() =>
        Assert.Equal(BreakingChange, Entry("0.16.3", "Removed infrahub.toml configuration file").Category);

    [CorpusFact]
    public void The_RabbitMQ_fix_that_asks_to_delete_the_queue_by_hand_must_be_read()
    {
        var entry = Entry("0.16.1", "Fixed incorrect consumer timeout for RabbitMQ queue");
        Assert.Equal("Fixed", entry.Section);
        Assert.Equal(BreakingChange, entry.Category);
    }

    [CorpusFact]
    public void A_BREAKING_CHANGE_line_inside_a_Fixed_entry_is_a_breaking_change() =>
        Assert.Equal(BreakingChange, Entry("0.16.2", "Updates internal logic to improve performance when generating a diff").Category);

    [CorpusFact]
    public void The_added_DB_migrations_are_a_database_migration() =>
        Assert.Equal(DatabaseMigration, Entry("0.16.0", "Added DB migrations for objects changed to Generic type").Category);

    [CorpusFact]
    public void Ordinary_fixes_stay_fixes()
    {
        Assert.Equal(Fix, Entry("0.16.1", "Fixes the tasks pagination in the proposed changes tab").Category);
        Assert.Equal(Fix, Entry("0.16.0", "Removed erroneous approval button on Diff view").Category);
    }

    [CorpusFact]
    public void The_hop_whose_notes_hold_a_database_migration_requires_migration()
    {
        var planner = new UpgradePathPlanner(ProfileLoader.Load("infrahub"));
        var options = new UpgradePlanOptions { ReleaseNotes = Document.Value };

        var minor = Assert.Single(planner.Plan(ProductVersion.Parse("0.15.3"), ProductVersion.Parse("0.16.3"), options).Steps);
        Assert.Equal(UpgradeKind.Minor, minor.Kind);
        Assert.True(minor.RequiresMigration);
        Assert.Contains("Added DB migrations", minor.MigrationNotes);

        var patch = Assert.Single(planner.Plan(ProductVersion.Parse("0.16.1"), ProductVersion.Parse("0.16.3"), options).Steps);
        Assert.False(patch.RequiresMigration);
    }

    [CorpusFact]
    public void A_range_past_the_changelog_says_which_versions_it_covers()
    {
        var warning = Assert.Single(Document.Value.CoverageWarnings(ProductVersion.Parse("0.16.3"), ProductVersion.Parse("1.0.0")));
        Assert.Contains("cover 0.15.3 to 0.16.3", warning);
    }
}

/// <summary>Where the shared corpus is: a folder shared/corpus beside the checkout or above it (a worktree sits one level deeper).</summary>
internal static class InfrahubCorpus
{
    public static string? Changelog { get; } = Find(Path.Combine("shared", "corpus", "infrahub", "CHANGELOG.md"));
    public static string? ComposeFile { get; } = Find(Path.Combine("shared", "corpus", "infrahub", "docker-compose.yml"));

    private static string? Find(string relative)
    {
        for (var dir = new DirectoryInfo(Kubernetes.KubeTestServer.RepositoryRoot).Parent; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>A fact that needs the real Infrahub CHANGELOG.md of the shared corpus, skipped with the reason when it is absent.</summary>
public sealed class CorpusFactAttribute : FactAttribute
{
    public CorpusFactAttribute()
    {
        if (InfrahubCorpus.Changelog is null)
            Skip = "The real Infrahub CHANGELOG.md (shared/corpus/infrahub/CHANGELOG.md beside the checkout, or above it) is not on this machine.";
    }
}

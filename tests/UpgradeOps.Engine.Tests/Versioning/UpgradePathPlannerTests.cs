using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Planning;

namespace UpgradeOps.Engine.Tests.Versioning;

public class UpgradePathPlannerTests
{
    private static readonly ProductProfile Infrahub = ProfileLoader.Load("infrahub");

    private static readonly string[] Releases =
        ["1.5.0", "1.5.2", "1.6.0", "1.6.2", "1.6.3", "1.7.0", "1.7.6", "1.8.0", "1.8.1", "2.0.0", "2.0.1", "2.1.0", "2.2.0-rc.1"];

    private static UpgradePath Plan(string from, string to, IEnumerable<string>? known = null, bool prerelease = false, long? dbBytes = null) =>
        new UpgradePathPlanner(Infrahub).Plan(ProductVersion.Parse(from), ProductVersion.Parse(to), new UpgradePlanOptions
        {
            KnownVersions = (known ?? Releases).Select(ProductVersion.Parse),
            AllowPrerelease = prerelease,
            DatabaseSizeBytes = dbBytes,
        });

    private static string Route(UpgradePath path) => path.Route;

    [Fact]
    public void Patch_upgrade_is_direct()
    {
        var path = Plan("1.7.0", "1.7.6");
        Assert.True(path.IsSupported);
        var step = Assert.Single(path.Steps);
        Assert.Equal(UpgradeKind.Patch, step.Kind);
        Assert.Equal(new MinuteRange(5, 10), step.EstimatedMinutes);
        Assert.False(step.RequiresMigration);
    }

    [Fact]
    public void Next_minor_is_direct()
    {
        var path = Plan("1.6.2", "1.7.6");
        Assert.Equal("1.6.2 → 1.7.6", Route(path));
        Assert.Equal(UpgradeKind.Minor, path.Steps[0].Kind);
        Assert.Equal(new MinuteRange(10, 30), path.EstimatedDowntime);
    }

    [Fact]
    public void Skipped_minor_goes_through_the_latest_patch_of_each_minor()
    {
        var path = Plan("1.5.2", "1.7.6");
        Assert.True(path.IsSupported);
        Assert.Equal("1.5.2 → 1.6.3 → 1.7.6", Route(path));
        Assert.All(path.Steps, s => Assert.Equal(UpgradeKind.Minor, s.Kind));
        Assert.Equal(new MinuteRange(20, 60), path.EstimatedDowntime);
        Assert.Contains("API unavailable", path.Impacts);
    }

    [Fact]
    public void Major_upgrade_is_its_own_hop_from_the_latest_minor()
    {
        var path = Plan("1.6.3", "2.1.0");
        Assert.True(path.IsSupported);
        Assert.Equal("1.6.3 → 1.7.6 → 1.8.1 → 2.0.1 → 2.1.0", Route(path));
        var major = Assert.Single(path.Steps, s => s.Kind == UpgradeKind.Major);
        Assert.Equal("1.8.1", major.From);
        Assert.Equal("2.0.1", major.To);
        Assert.True(major.RequiresMigration);
        Assert.False(string.IsNullOrWhiteSpace(major.MigrationNotes));
        Assert.Equal(new MinuteRange(30, 60), major.EstimatedMinutes);
    }

    [Fact]
    public void Major_to_the_first_minor_lands_on_the_target()
    {
        Assert.Equal("1.8.1 → 2.0.0", Route(Plan("1.8.1", "2.0.0")));
    }

    [Fact]
    public void Downgrade_is_refused_with_a_restore_advice()
    {
        var path = Plan("1.7.6", "1.7.0");
        Assert.False(path.IsSupported);
        Assert.Empty(path.Steps);
        Assert.Contains("restore", path.Reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Unknown_target_is_refused()
    {
        var path = Plan("1.7.0", "1.7.9");
        Assert.False(path.IsSupported);
        Assert.Contains("not a known release", path.Reason);
    }

    [Fact]
    public void Prerelease_needs_AllowPrerelease()
    {
        Assert.False(Plan("2.1.0", "2.2.0-rc.1").IsSupported);
        Assert.Contains("AllowPrerelease", Plan("2.1.0", "2.2.0-rc.1").Reason);
        Assert.True(Plan("2.1.0", "2.2.0-rc.1", prerelease: true).IsSupported);
    }

    [Fact]
    public void Same_version_needs_nothing()
    {
        var path = Plan("1.7.6", "1.7.6");
        Assert.True(path.IsSupported);
        Assert.Empty(path.Steps);
        Assert.Equal(new MinuteRange(0, 0), path.EstimatedDowntime);
    }

    [Fact]
    public void Without_a_release_list_a_skipped_minor_asks_for_one()
    {
        var path = Plan("1.5.2", "1.7.6", known: Array.Empty<string>());
        Assert.False(path.IsSupported);
        Assert.Contains("-AvailableVersion", path.Reason);
        Assert.Contains("1.6", path.Reason);
    }

    [Fact]
    public void Without_a_release_list_direct_upgrades_still_plan()
    {
        Assert.True(Plan("1.6.2", "1.7.6", known: Array.Empty<string>()).IsSupported);
        var major = Plan("1.8.1", "2.0.0", known: Array.Empty<string>());
        Assert.True(major.IsSupported);
        Assert.NotEmpty(major.Warnings);
    }

    [Fact]
    public void Estimates_grow_with_the_database()
    {
        var path = Plan("1.6.2", "1.7.6", dbBytes: 5L << 30);
        Assert.Equal(new MinuteRange(20, 40), path.Steps[0].EstimatedMinutes);
    }

    [Fact]
    public void Prereleases_in_the_catalog_are_not_used_as_hops()
    {
        var path = Plan("1.5.2", "1.7.6", known: ["1.5.2", "1.6.0", "1.6.4-rc.1", "1.7.6"]);
        Assert.Equal("1.5.2 → 1.6.0 → 1.7.6", Route(path));
    }

    [Fact]
    public void A_wider_minor_step_skips_rungs()
    {
        var profile = ProfileLoader.Parse(WiderStepProfile, "test.yml");
        var path = new UpgradePathPlanner(profile).Plan(ProductVersion.Parse("1.5.2"), ProductVersion.Parse("1.8.1"),
            new UpgradePlanOptions { KnownVersions = Releases.Select(ProductVersion.Parse) });
        Assert.Equal("1.5.2 → 1.7.6 → 1.8.1", path.Route);
    }

    private const string WiderStepProfile = """
        schemaVersion: 1
        name: wide
        services:
          - name: app
            role: Api
        versionPolicy:
          maxMinorStep: 2
        """;
}

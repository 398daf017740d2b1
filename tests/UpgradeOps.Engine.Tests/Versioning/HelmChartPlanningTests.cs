using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Planning;

namespace UpgradeOps.Engine.Tests.Versioning;

/// <summary>version.helmCharts: the profile's chart versions, and the chart version Test-UpgradePath gives each hop of a Helm release.</summary>
public class HelmChartPlanningTests
{
    // Charts of a made-up product: 2.0.0 is a chart major that needs a values key (the rule), 2.0.1 a chart fix of the same app.
    private const string ChartsProfile = """
        name: charted
        services:
          - name: web
            role: Api
            productImage: true
        version:
          helmValuesKey: image.tag
          helmCharts:
            - version: 1.0.0
              appVersion: 1.5.2
            - version: 1.1.0
              appVersion: 1.6.3
            - version: 1.2.0
              appVersion: 1.7.6
            - version: 2.0.0
              appVersion: 1.8.0
            - version: 2.0.1
              appVersion: 1.8.0
        configurationRules:
          - id: redis-host
            description: Chart 2.0.0 and later require the Redis host.
            chartVersion: 2.0.0
            requiresValuesKey: cache.host
            defaultValue: redis
        """;

    private static readonly string[] Releases = ["1.5.2", "1.6.0", "1.6.3", "1.7.0", "1.7.6", "1.8.0", "2.0.0"];

    private static ProductProfile Charted => ProfileLoader.Parse(ChartsProfile, "charted.yml");

    private static UpgradePath Plan(string from, string to, string? fromChart, string? toChart = null, ProductProfile? profile = null) =>
        new UpgradePathPlanner(profile ?? Charted).Plan(ProductVersion.Parse(from), ProductVersion.Parse(to), new UpgradePlanOptions
        {
            KnownVersions = Releases.Select(ProductVersion.Parse),
            PlanCharts = true,
            FromChartVersion = fromChart,
            ToChartVersion = toChart,
        });

    private static string Invalid(string charts, string valuesKey = "  helmValuesKey: image.tag\n") =>
        $"name: x\nservices:\n  - name: web\nversion:\n{valuesKey}  helmCharts:\n{charts}";

    [Fact]
    public void The_profile_lists_charts_with_the_app_version_each_ships()
    {
        var charts = Charted.Version.HelmCharts;
        Assert.Equal(5, charts.Count);
        Assert.Equal(("1.2.0", "1.7.6"), (charts[2].Version, charts[2].AppVersion));
        Assert.Null(charts[2].AppVersionRange);
    }

    [Fact]
    public void The_sandbox_chart_installs_every_sandbox_image_through_image_tag()
    {
        var sandbox = ProfileLoader.Load(Path.Combine(Kubernetes.KubeTestServer.RepositoryRoot, "tests/Sandbox/profile.yml"));
        var map = new HelmChartMap(sandbox);
        Assert.Equal("1.7.5", map.AppVersionOf(ProductVersion.Parse("0.3.0"))?.ToString());
        foreach (var app in new[] { "1.6.4", "1.7.5", "1.7.6", "1.7.7", "1.8.0", "2.0.0" })
            Assert.Equal("0.3.0", map.ChartFor(ProductVersion.Parse(app))?.ToString());
        Assert.Null(map.ChartFor(ProductVersion.Parse("2.0.1")));
        Assert.Null(map.ChartFor(ProductVersion.Parse("2.0.0-rc.1")));
    }

    [Fact]
    public void A_hop_installs_the_newest_chart_that_installs_its_app_version()
    {
        var map = new HelmChartMap(Charted);
        Assert.Equal("2.0.1", map.ChartFor(ProductVersion.Parse("1.8.0"))?.ToString());
        Assert.Equal("2.0.0", map.ChartFor(ProductVersion.Parse("1.8.0"), atMost: ProductVersion.Parse("2.0.0"))?.ToString());
        Assert.Null(map.ChartFor(ProductVersion.Parse("1.7.0")));
        Assert.Null(map.AppVersionOf(ProductVersion.Parse("3.0.0")));
    }

    [Theory]
    [InlineData(">=1.6.4 <=2.0.0", "1.6.4", "2.0.0", "2.0.1")]
    [InlineData(">=1.6.4, <2.0.0", "1.6.4", "1.9.9", "2.0.0")]
    [InlineData("1.7.x", "1.7.0", "1.7.9", "1.8.0")]
    [InlineData("^1.6.0", "1.6.0", "1.9.0", "2.0.0")]
    [InlineData("~1.7.0", "1.7.0", "1.7.6", "1.8.0")]
    [InlineData("1.6.4 - 2.0.0", "1.6.4", "2.0.0", "1.6.3")]
    [InlineData("1.6.x || 2.0.0", "1.6.0", "2.0.0", "1.7.0")]
    public void App_version_ranges_read_helm_s_range_syntax(string text, string first, string last, string outside)
    {
        Assert.True(VersionRange.TryParse(text, out var range), text);
        Assert.True(ProductVersion.Parse(first).Satisfies(range!));
        Assert.True(ProductVersion.Parse(last).Satisfies(range!));
        Assert.False(ProductVersion.Parse(outside).Satisfies(range!));
    }

    [Theory]
    [InlineData("    - appVersion: 1.0.0\n", "needs 'version'")]
    [InlineData("    - version: 4.1\n      appVersion: 1.0.0\n", "chart version '4.1' is not a semantic version")]
    [InlineData("    - version: 99999999999.0.0\n      appVersion: 1.0.0\n", "chart version '99999999999.0.0' is not a semantic version")]
    [InlineData("    - version: 4.1.13\n      appVersion: 1.99999999999.0\n", "appVersion '1.99999999999.0' is not a semantic version")]
    [InlineData("    - version: 4.1.13\n", "chart 4.1.13 needs 'appVersion'")]
    [InlineData("    - version: 4.1.13\n      appVersion: latest\n", "appVersion 'latest' is not a semantic version")]
    [InlineData("    - version: 4.1.13\n      appVersion: 1.1.8\n      appVersionRange: '>=banana'\n", "is not a version range")]
    [InlineData("    - version: 4.1.13\n      appVersion: 1.1.8\n    - version: v4.1.13\n      appVersion: 1.1.8\n", "chart v4.1.13 is listed twice")]
    [InlineData("    - version: 4.2.0\n      appVersion: 1.1.8\n    - version: 4.1.13\n      appVersion: 1.2.0\n", "chart 4.2.0 ships app 1.1.8, older than app 1.2.0 of the older chart 4.1.13")]
    public void Chart_entries_are_validated(string charts, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(Invalid(charts), "charts.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Contains(expected, error.Message);
        Assert.True(error.Line >= 6, $"the error points at the entry, not line {error.Line}");
    }

    [Fact]
    public void An_app_version_range_needs_the_values_key_that_sets_the_image_tag()
    {
        var yaml = Invalid("    - version: 1.0.0\n      appVersion: 1.0.0\n      appVersionRange: 1.x\n", valuesKey: "");
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "charts.yml"));
        Assert.Contains("only through version.helmValuesKey", error.Message);
    }

    [Fact]
    public void Every_hop_gets_the_chart_it_installs_and_a_chart_major_is_noted()
    {
        var path = Plan("1.5.2", "1.8.0", fromChart: "1.0.0");
        Assert.True(path.IsSupported, path.Reason);
        Assert.Equal("1.5.2 → 1.6.3 → 1.7.6 → 1.8.0", path.Route);
        Assert.Equal(["1.1.0", "1.2.0", "2.0.1"], path.Steps.Select(s => s.ToChartVersion));
        Assert.Equal(["1.0.0", "1.1.0", "1.2.0"], path.Steps.Select(s => s.FromChartVersion));
        Assert.Equal("1.0.0 → 1.1.0 → 1.2.0 → 2.0.1", path.ChartRoute);
        Assert.Equal(("1.0.0", "2.0.1"), (path.FromChartVersion, path.ToChartVersion));
        Assert.All(path.Steps.Take(2), s => Assert.Empty(s.ChartNotes));

        var major = path.Steps[^1];
        Assert.Equal(2, major.ChartNotes.Count);
        Assert.Contains("new chart major version", major.ChartNotes[0]);
        Assert.Contains("redis-host", major.ChartNotes[1]);
        Assert.Contains("cache.host", major.ChartNotes[1]);
        var warning = Assert.Single(path.Warnings);
        Assert.StartsWith("Hop 1.7.6 → 1.8.0 (chart 1.2.0 → 2.0.1): ", warning);
        Assert.Contains("(chart 1.0.0 → 1.1.0 → 1.2.0 → 2.0.1)", path.ToString());
    }

    [Fact]
    public void A_target_chart_is_installed_by_the_last_hop()
    {
        var path = Plan("1.7.6", "1.8.0", fromChart: "1.2.0", toChart: "2.0.0");
        var step = Assert.Single(path.Steps);
        Assert.Equal("2.0.0", step.ToChartVersion);
        Assert.Equal("2.0.0", path.ToChartVersion);
    }

    [Fact]
    public void A_hop_whose_app_version_no_chart_installs_is_refused_with_the_remedy()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => Plan("1.6.3", "2.0.0", fromChart: "1.1.0"));
        Assert.Equal("NoChartForVersion", error.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, error.Kind);
        Assert.Equal("2.0.0", error.Target);
        Assert.Contains("hop 1.8.0 → 2.0.0", error.Message);
        Assert.Contains("version.helmCharts", error.Message);
        Assert.Contains("helm search repo", error.Message);
    }

    [Fact]
    public void A_newer_chart_of_the_same_app_version_is_a_chart_only_hop()
    {
        var path = Plan("1.8.0", "1.8.0", fromChart: "2.0.0", toChart: "2.0.1");
        Assert.True(path.IsSupported);
        var step = Assert.Single(path.Steps);
        Assert.Equal(("1.8.0", "1.8.0", UpgradeKind.Patch), (step.From, step.To, step.Kind));
        Assert.Equal(("2.0.0", "2.0.1"), (step.FromChartVersion, step.ToChartVersion));
        Assert.StartsWith("Chart upgrade only: chart 2.0.0 → 2.0.1", path.Reason);
    }

    [Fact]
    public void A_chart_older_than_the_release_s_is_refused_like_a_downgrade()
    {
        var path = Plan("1.8.0", "1.8.0", fromChart: "2.0.1", toChart: "2.0.0");
        Assert.False(path.IsSupported);
        Assert.Contains("older than the release's chart 2.0.1", path.Reason);
        Assert.Contains("Invoke-Rollback", path.Reason);
    }

    [Fact]
    public void The_same_chart_and_app_need_nothing()
    {
        var path = Plan("1.8.0", "1.8.0", fromChart: "2.0.0", toChart: "2.0.0");
        Assert.True(path.IsSupported);
        Assert.Empty(path.Steps);
        Assert.Equal("Already at 1.8.0 with chart 2.0.0: nothing to upgrade.", path.Reason);
    }

    [Fact]
    public void Without_chart_planning_hops_carry_no_chart()
    {
        var path = new UpgradePathPlanner(Charted).Plan(ProductVersion.Parse("1.5.2"), ProductVersion.Parse("1.7.6"),
            new UpgradePlanOptions { KnownVersions = Releases.Select(ProductVersion.Parse) });
        Assert.All(path.Steps, s => Assert.Null(s.ToChartVersion));
        Assert.Null(path.ChartRoute);
        Assert.Null(path.ToChartVersion);
        Assert.DoesNotContain("chart", path.ToString());
    }

    // Through UpgradePathService, as Test-UpgradePath and Invoke-Upgrade -To call it.

    private static UpgradePath Test(string from, string to = "", string? toChart = null, DeploymentPlatform? platform = null, string? chart = null)
    {
        var file = Path.Combine(Path.GetTempPath(), $"charted-{Guid.NewGuid():N}.yml");
        File.WriteAllText(file, ChartsProfile);
        try
        {
            return UpgradePathService.Test(new UpgradePathRequest
            {
                From = from, To = to, ToChartVersion = toChart, Profile = file, AvailableVersions = Releases,
                Deployment = platform is { } p ? new Deployment { Name = "rel", Platform = p, Profile = file, Version = from, ChartVersion = chart } : null,
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_helm_release_gets_charts_and_a_compose_deployment_or_bare_versions_do_not()
    {
        Assert.Equal("1.2.0", Assert.Single(Test("1.6.3", "1.7.6", platform: DeploymentPlatform.Kubernetes, chart: "1.1.0").Steps).ToChartVersion);
        Assert.Null(Assert.Single(Test("1.6.3", "1.7.6", platform: DeploymentPlatform.Compose).Steps).ToChartVersion);
        Assert.Null(Assert.Single(Test("1.6.3", "1.7.6").Steps).ToChartVersion);
    }

    [Fact]
    public void A_target_chart_version_is_the_app_version_it_ships()
    {
        var path = Test("1.6.3", toChart: "1.2.0");
        Assert.Equal("1.7.6", path.To);
        Assert.Equal("1.2.0", Assert.Single(path.Steps).ToChartVersion);
        Assert.Equal("1.7.6", Test("1.6.3", to: "1.7.6", toChart: "1.2.0").To);
    }

    [Theory]
    [InlineData("9.9.9", null, null, "ChartVersionNotMapped", ErrorKind.ObjectNotFound, "Chart version 9.9.9 is not among the version.helmCharts of profile 'charted'")]
    [InlineData("1.2.0", "1.8.0", null, "ChartVersionConflict", ErrorKind.InvalidArgument, "Chart 1.2.0 does not install 1.8.0")]
    [InlineData("1.2.0", null, DeploymentPlatform.Compose, "ChartVersionNotApplicable", ErrorKind.InvalidArgument, "Compose deployment")]
    [InlineData("1.2", null, null, "InvalidVersion", ErrorKind.InvalidArgument, "not a version")]
    public void A_target_chart_version_that_does_not_fit_is_refused(string toChart, string? to, DeploymentPlatform? platform, string errorId, ErrorKind kind, string expected)
    {
        var error = Assert.ThrowsAny<UpgradeOpsException>(() => Test("1.6.3", to ?? "", toChart, platform));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(kind, error.Kind);
        Assert.Equal(toChart, error.Target);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_profile_without_charts_says_so_for_a_target_chart_version()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => UpgradePathService.Test(new UpgradePathRequest { From = "1.6.3", ToChartVersion = "4.1.13" }));
        Assert.Equal("ChartVersionNotMapped", error.ErrorId);
        Assert.Contains("Profile 'infrahub' lists no chart versions", error.Message);
    }
}

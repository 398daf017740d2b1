using UpgradeOps.Profiles;

using UpgradeOps.Versioning;

namespace UpgradeOps.Planning;

/// <summary>
/// The profile's chart versions (version.helmCharts): which chart version installs which app version. A chart installs the
/// appVersion it ships, and the app versions of its appVersionRange (through version.helmValuesKey, the image tag). A hop
/// to an app version installs the newest chart that installs it; a target given as a chart version is the app version
/// that chart ships.
/// </summary>
public sealed class HelmChartMap
{
    private sealed record Entry(ProductVersion Chart, ProductVersion App, VersionRange? Range)
    {
        public bool Installs(ProductVersion app) => App.Equals(app) || (Range is not null && app.Satisfies(Range));
    }

    private readonly IReadOnlyList<Entry> _entries;

    /// <summary>The map of a validated profile (ProfileValidator has checked every version and range).</summary>
    public HelmChartMap(ProductProfile profile) =>
        _entries = profile.Version.HelmCharts
            .Select(c => new Entry(ProductVersion.Parse(c.Version), ProductVersion.Parse(c.AppVersion),
                VersionRange.TryParse(c.AppVersionRange, out var range) ? range : null))
            .OrderBy(e => e.Chart).ToList();

    public bool IsEmpty => _entries.Count == 0;

    /// <summary>The app version a chart version ships, or null when the profile does not list the chart.</summary>
    public ProductVersion? AppVersionOf(ProductVersion chart) => _entries.FirstOrDefault(e => e.Chart.Equals(chart))?.App;

    /// <summary>Whether the profile lists the chart and the chart installs the app version.</summary>
    public bool Installs(ProductVersion chart, ProductVersion app) => _entries.Any(e => e.Chart.Equals(chart) && e.Installs(app));

    /// <summary>The newest chart version (at most <paramref name="atMost"/>) that installs the app version, or null.</summary>
    public ProductVersion? ChartFor(ProductVersion app, ProductVersion? atMost = null) =>
        _entries.LastOrDefault(e => (atMost is null || e.Chart <= atMost) && e.Installs(app))?.Chart;

    /// <summary>The listed charts, for messages: "0.3.0 (1.7.5; also >=1.6.4 &lt;=2.0.0), 0.4.0 (1.8.0)".</summary>
    public override string ToString() =>
        _entries.Count == 0 ? "no chart versions"
            : string.Join(", ", _entries.Select(e => $"{e.Chart} ({e.App}{(e.Range is null ? "" : $"; also {e.Range}")})"));
}

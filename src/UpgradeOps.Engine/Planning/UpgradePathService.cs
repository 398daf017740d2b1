using UpgradeOps.Platforms;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.ReleaseNotes;

using UpgradeOps.Versioning;

namespace UpgradeOps.Planning;

/// <summary>What Test-UpgradePath asks: the two versions and where known releases come from.</summary>
public sealed class UpgradePathRequest
{
    public required string From { get; init; }
    /// <summary>The target app version; may be empty when <see cref="ToChartVersion"/> names the target.</summary>
    public string To { get; init; } = "";
    /// <summary>Helm: the target as a chart version of the profile's version.helmCharts (the last hop installs it).</summary>
    public string? ToChartVersion { get; init; }
    public string Profile { get; init; } = "infrahub";
    public IReadOnlyList<string> AvailableVersions { get; init; } = Array.Empty<string>();
    public ReleaseNoteDocument? ReleaseNotes { get; init; }
    public bool AllowPrerelease { get; init; }
    public Deployment? Deployment { get; init; }
    public long? DatabaseSizeBytes { get; init; }
    /// <summary>A rehearsal whose measured timings the path carries where it ran the same versions.</summary>
    public RehearsalReport? Rehearsal { get; init; }
}

/// <summary>
/// Checks an upgrade path: parses the versions, loads the profile, gathers the known releases, plans. A Helm release whose
/// profile lists chart versions (version.helmCharts), or a target given as a chart version, gets the chart of every hop.
/// </summary>
public static class UpgradePathService
{
    public static UpgradePath Test(UpgradePathRequest request, EngineContext? context = null)
    {
        var log = (context ?? EngineContext.Silent()).CreateLogger(nameof(UpgradePathService));
        var from = ProductVersion.Parse(request.From);
        var profile = ProfileLoader.Load(request.Profile);
        log.LogDebug("Profile {Profile} loaded from {Source}", profile.Name, profile.Source);
        var charts = new HelmChartMap(profile);
        var toChart = request.ToChartVersion is null ? null : ProductVersion.Parse(request.ToChartVersion);
        var to = toChart is null ? ProductVersion.Parse(request.To) : TargetOfChart(request, profile, charts, toChart);

        var known = profile.Catalog.Select(ProductVersion.Parse)
            .Concat(request.AvailableVersions.Select(ProductVersion.Parse)).ToList();
        log.LogDebug("Known releases: {Count} from the catalog and -AvailableVersion, {NoteCount} from release notes",
            known.Count, request.ReleaseNotes?.Releases.Count ?? 0);

        return new UpgradePathPlanner(profile).Plan(from, to, new UpgradePlanOptions
        {
            KnownVersions = known,
            ReleaseNotes = request.ReleaseNotes,
            AllowPrerelease = request.AllowPrerelease,
            DatabaseSizeBytes = request.DatabaseSizeBytes ?? request.Deployment?.DatabaseSizeBytes,
            Deployment = request.Deployment,
            Rehearsal = request.Rehearsal,
            PlanCharts = !charts.IsEmpty && (request.Deployment is { } deployment && DeploymentPlatforms.Of(deployment.Platform).InstallsCharts || toChart is not null),
            FromChartVersion = request.Deployment?.ChartVersion,
            ToChartVersion = toChart?.ToString(),
        });
    }

    /// <summary>The app version a target given as a chart version upgrades to (or -To, when the chart installs it).</summary>
    private static ProductVersion TargetOfChart(UpgradePathRequest request, ProductProfile profile, HelmChartMap charts, ProductVersion chart)
    {
        if (request.Deployment is { } noCharts && !DeploymentPlatforms.Of(noCharts.Platform).InstallsCharts)
            throw new UpgradeOpsException("ChartVersionNotApplicable", ErrorKind.InvalidArgument, request.ToChartVersion,
                $"'{noCharts.Name}' is a {noCharts.Platform} deployment: it has no Helm chart, so -ToChartVersion does not apply. Give the app version with -To.");
        var app = charts.AppVersionOf(chart)
            ?? throw new UpgradeOpsException("ChartVersionNotMapped", ErrorKind.ObjectNotFound, request.ToChartVersion,
                (charts.IsEmpty ? $"Profile '{profile.Name}' lists no chart versions (version.helmCharts), so the app version chart {chart} installs is not known. "
                                : $"Chart version {chart} is not among the version.helmCharts of profile '{profile.Name}' ({charts}), so the app version it installs is not known. ") +
                "Give the app version with -To, or add the chart to the profile's version.helmCharts (its version and appVersion, as 'helm search repo CHART --versions' lists them).");
        if (string.IsNullOrWhiteSpace(request.To)) return app;
        var to = ProductVersion.Parse(request.To);
        return charts.Installs(chart, to) ? to
            : throw new UpgradeOpsException("ChartVersionConflict", ErrorKind.InvalidArgument, request.ToChartVersion,
                $"Chart {chart} does not install {to} according to profile '{profile.Name}' ({charts}). Give only -To (each hop then gets the newest chart that installs it), " +
                $"or only -ToChartVersion (the target is then {app}).");
    }
}

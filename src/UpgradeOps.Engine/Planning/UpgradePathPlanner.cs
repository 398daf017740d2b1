using UpgradeOps.Profiles;
using UpgradeOps.Rehearsals;
using UpgradeOps.ReleaseNotes;

using UpgradeOps.Versioning;

namespace UpgradeOps.Planning;

/// <summary>What the planner knows besides the two versions.</summary>
public sealed class UpgradePlanOptions
{
    /// <summary>Released versions (catalog, -AvailableVersion, release notes), in any order.</summary>
    public IEnumerable<ProductVersion> KnownVersions { get; init; } = Array.Empty<ProductVersion>();
    public ReleaseNoteDocument? ReleaseNotes { get; init; }
    public bool AllowPrerelease { get; init; }
    public long? DatabaseSizeBytes { get; init; }
    public Deployment? Deployment { get; init; }
    /// <summary>A rehearsal whose measured timings replace the estimates where it ran the same versions.</summary>
    public RehearsalReport? Rehearsal { get; init; }
    /// <summary>Helm: give every hop the chart version it installs, from the profile's version.helmCharts.</summary>
    public bool PlanCharts { get; init; }
    /// <summary>Helm: the release's chart version now; the first hop starts from it.</summary>
    public string? FromChartVersion { get; init; }
    /// <summary>Helm: the chart version asked for as the target (it installs the target app version); the last hop installs it.</summary>
    public string? ToChartVersion { get; init; }
}

/// <summary>
/// Applies the upgrade guide's rules: patch and next-minor upgrades are direct, skipped minors go one hop
/// at a time through the latest patch of each minor, a major upgrade is a hop of its own (from the latest
/// release of the previous major), downgrades are refused in favour of a restore. With a chart map (a Helm release whose
/// profile has version.helmCharts) every hop also gets the chart version it installs: the newest chart that installs its
/// app version, the asked-for chart on the last hop; a chart older than the release's is refused like a downgrade.
/// </summary>
public sealed class UpgradePathPlanner(ProductProfile profile)
{
    public UpgradePath Plan(ProductVersion from, ProductVersion to, UpgradePlanOptions? options = null)
    {
        options ??= new UpgradePlanOptions();
        var allowPrerelease = options.AllowPrerelease || profile.VersionPolicy.AllowPrerelease;
        var known = KnownReleases(options, allowPrerelease, to);

        UpgradePath Refuse(string reason) => new()
        {
            From = from.ToString(), To = to.ToString(), IsSupported = false, Reason = reason,
            Profile = profile.Name, Deployment = options.Deployment,
            FromChartVersion = options.PlanCharts ? options.FromChartVersion : null, ToChartVersion = options.PlanCharts ? options.ToChartVersion : null,
        };

        if (to.IsPrerelease && !allowPrerelease)
            return Refuse($"{to} is a pre-release, and pre-releases are not for production: pass -AllowPrerelease to plan it anyway.");
        if (to < from)
            return Refuse($"{to} is older than the running {from}: downgrades are not supported because migrations cannot be undone. " +
                          "Restore the backup taken before the upgrade to go back (Restore-DeploymentBackup or Invoke-Rollback).");
        if (known.Count > 0 && !known.Contains(to))
            return Refuse($"{to} is not a known release (newest known: {known[^1]}). Check the version, or pass -AvailableVersion / a newer release-notes source if it was just released.");
        var charts = options.PlanCharts ? new HelmChartMap(profile) : null;
        if (charts is { IsEmpty: true }) charts = null;
        var fromChart = ProductVersion.TryParse(options.FromChartVersion, out var fc) ? fc : null;
        var toChart = ProductVersion.TryParse(options.ToChartVersion, out var tc) ? tc : null;
        if (charts is not null && fromChart is not null && toChart is not null && toChart < fromChart)
            return Refuse($"Chart {toChart} is older than the release's chart {fromChart}: helm would downgrade the chart. To return to an older chart, " +
                          "roll the release back (Invoke-Rollback, or helm rollback to a revision that had it); to upgrade, give a chart version at or above " + fromChart + ".");
        if (to.Equals(from))
        {
            // The same app version on a newer chart: a chart-only hop (the chart's own fixes, or the values it now requires).
            if (charts is not null && toChart is not null && (fromChart is null || toChart > fromChart))
            {
                var chartStep = MakeStep(from, to, options, (fromChart, toChart));
                return Build(from, to, [chartStep], $"Chart upgrade only: chart {(fromChart is null ? "" : fromChart + " → ")}{toChart}; the app stays at {to}.",
                    options, ChartWarnings([chartStep]).ToList());
            }
            return Build(from, to, Array.Empty<UpgradeStep>(), $"Already at {to}{(toChart is null ? "" : $" with chart {toChart}")}: nothing to upgrade.", options, Array.Empty<string>());
        }

        var warnings = new List<string>();
        var hops = new List<(ProductVersion From, ProductVersion To)>();
        var current = from;
        while (current < to)
        {
            var next = NextHop(current, to, known, warnings, out var refusal);
            if (next is null) return Refuse(refusal!);
            hops.Add((current, next));
            current = next;
        }

        var hopCharts = charts is null ? null : ChartsOf(hops, charts, fromChart, toChart, warnings);
        var steps = hops.Select((h, i) => MakeStep(h.From, h.To, options, hopCharts?[i])).ToArray();
        if (hopCharts is not null && fromChart is not null && hopCharts[^1].To < fromChart)
            return Refuse($"The last hop installs chart {hopCharts[^1].To}, older than the release's chart {fromChart} (profile '{profile.Name}' lists {charts}). " +
                          "Add the chart version that installs " + to + " to the profile's version.helmCharts, or give the target with -ToChartVersion.");
        warnings.AddRange(ChartWarnings(steps));
        return Build(from, to, steps, Explain(steps), options, warnings);
    }

    private static List<ProductVersion> KnownReleases(UpgradePlanOptions options, bool allowPrerelease, ProductVersion to)
    {
        var versions = options.KnownVersions.Concat(options.ReleaseNotes?.Versions ?? Array.Empty<ProductVersion>());
        return versions.Where(v => allowPrerelease || !v.IsPrerelease || v.Equals(to)).Distinct().Order().ToList();
    }

    private ProductVersion? NextHop(ProductVersion current, ProductVersion to, List<ProductVersion> known, List<string> warnings, out string? refusal)
    {
        refusal = null;
        if (current.Major == to.Major) return NextMinorHop(current, to, known, out refusal);

        // Leave the current major from its latest release, one minor at a time.
        var latestOfMajor = known.Where(v => v.Major == current.Major).DefaultIfEmpty(current).Max()!;
        if (profile.VersionPolicy.MajorFromLatestMinor && latestOfMajor > current)
            return NextMinorHop(current, latestOfMajor, known, out refusal);

        if (known.Count == 0)
        {
            if (to.Major > current.Major + 1)
            {
                refusal = $"{current} → {to} crosses more than one major version, each a hop of its own, and no release list says where each begins. " +
                          "Pass -AvailableVersion with the released versions, or -ReleaseNotePath with the product's CHANGELOG.md.";
                return null;
            }
            warnings.Add($"No release list was given: the major hop goes straight to {to}; check that {current} is the latest {current.Major}.x release.");
            return to;
        }

        // The major hop lands on the first minor of the next major (its latest patch), or on the target itself.
        var nextMajor = known.Where(v => v.Major > current.Major).Min(v => v.Major);
        var firstMinor = known.Where(v => v.Major == nextMajor).Min(v => v.Minor);
        if (nextMajor == to.Major && firstMinor == to.Minor) return to;
        return known.Where(v => v.Major == nextMajor && v.Minor == firstMinor).Max();
    }

    private ProductVersion? NextMinorHop(ProductVersion current, ProductVersion target, List<ProductVersion> known, out string? refusal)
    {
        refusal = null;
        if (current.SameMinor(target)) return target;

        // The minors released between here and the target, each a rung of the ladder.
        var rungs = known.Where(v => v.Major == current.Major && v.Minor > current.Minor && v.Minor < target.Minor)
            .Select(v => v.Minor).Distinct().Order().ToList();
        if (known.Count == 0 && target.Minor - current.Minor > profile.VersionPolicy.MaxMinorStep)
        {
            refusal = $"{current} → {target} skips minor version(s) {SkippedMinors(current, target)}, " +
                      "which must be installed one at a time, and no release list says which patch of each is the latest. " +
                      "Pass -AvailableVersion with the released versions, or -ReleaseNotePath with the product's CHANGELOG.md.";
            return null;
        }

        if (rungs.Count < profile.VersionPolicy.MaxMinorStep) return target;
        var minor = rungs[profile.VersionPolicy.MaxMinorStep - 1];
        return known.Where(v => v.Major == current.Major && v.Minor == minor).Max();
    }

    /// <summary>The minors between two versions of a major, for a message: all of a few, the ends of many ("1.1, 1.2, 1.3 … 1.99 (99 minor versions)").</summary>
    private static string SkippedMinors(ProductVersion current, ProductVersion target)
    {
        var first = current.Minor + 1;
        var count = target.Minor - current.Minor - 1;
        if (count <= 6) return string.Join(", ", Enumerable.Range(first, count).Select(m => $"{current.Major}.{m}"));
        return string.Join(", ", Enumerable.Range(first, 3).Select(m => $"{current.Major}.{m}")) + $" … {current.Major}.{target.Minor - 1} ({count} minor versions)";
    }

    /// <summary>
    /// The chart each hop starts from and installs: the release's chart, then the chart of the hop before; the newest chart
    /// (at most the asked-for one) that installs the hop's app version, the asked-for chart on the last hop.
    /// </summary>
    private List<(ProductVersion? From, ProductVersion To)> ChartsOf(IReadOnlyList<(ProductVersion From, ProductVersion To)> hops, HelmChartMap charts,
        ProductVersion? fromChart, ProductVersion? toChart, List<string> warnings)
    {
        var result = new List<(ProductVersion? From, ProductVersion To)>();
        var current = fromChart;
        foreach (var (hopFrom, hopTo) in hops)
        {
            var chart = (result.Count == hops.Count - 1 ? toChart : null) ?? charts.ChartFor(hopTo, toChart)
                ?? throw new UpgradeOpsException("NoChartForVersion", ErrorKind.ObjectNotFound, hopTo.ToString(),
                    $"No chart version in profile '{profile.Name}' installs {hopTo} (hop {hopFrom} → {hopTo}{(toChart is null ? "" : $", at or below the target chart {toChart}")}); " +
                    $"its version.helmCharts lists {charts}. Add the chart version that ships {hopTo} to the profile's version.helmCharts " +
                    "('helm search repo CHART --versions' lists each chart version with its app version), or upgrade to a version a listed chart installs.");
            if (current is not null && chart < current)
                warnings.Add($"Hop {hopFrom} → {hopTo} installs chart {chart}, older than chart {current} before it: check the profile's version.helmCharts.");
            result.Add((current, chart));
            current = chart;
        }
        return result;
    }

    /// <summary>What a hop's chart change asks for: a new chart major version, and the Helm rules tied to a chart version it crosses.</summary>
    private List<string> ChartNotes(ProductVersion? fromChart, ProductVersion toChart)
    {
        var notes = new List<string>();
        if (fromChart is null || toChart <= fromChart) return notes;
        if (toChart.Major != fromChart.Major)
            notes.Add($"Chart {fromChart} → {toChart} is a new chart major version: read the chart's upgrade notes for renamed or removed values before this hop.");
        notes.AddRange(ConfigurationRules.CrossedByChart(profile, fromChart, toChart).Select(rule =>
            $"{rule.Id} (from chart {rule.ChartVersion}): {rule.Description} Invoke-Upgrade sets {rule.RequiresValuesKey} in the values file first" +
            (rule.MovedFrom is not null ? $" (moved from {rule.MovedFrom})" : rule.DefaultValue is not null || rule.Generate ? "" : "; give its value with -ConfigurationValue") +
            "; Convert-UpgradeConfiguration -WhatIf shows the change."));
        return notes;
    }

    /// <summary>The path's warnings for the hops whose chart change asks for something.</summary>
    private static IEnumerable<string> ChartWarnings(IEnumerable<UpgradeStep> steps) =>
        steps.Where(s => s.ChartNotes.Count > 0).Select(s => $"Hop {s.From} → {s.To} (chart {s.FromChartVersion} → {s.ToChartVersion}): {string.Join(" ", s.ChartNotes)}");

    private UpgradeStep MakeStep(ProductVersion from, ProductVersion to, UpgradePlanOptions options, (ProductVersion? From, ProductVersion To)? chart = null)
    {
        var kind = from.Major != to.Major ? UpgradeKind.Major : from.Minor != to.Minor ? UpgradeKind.Minor : UpgradeKind.Patch;
        var range = kind switch
        {
            UpgradeKind.Patch => profile.Estimates.Patch,
            UpgradeKind.Minor => profile.Estimates.Minor,
            _ => profile.Estimates.Major,
        };
        // Migrations rewrite data, so their time grows with the database.
        var extra = options.DatabaseSizeBytes is { } bytes
            ? (int)Math.Ceiling(bytes / (double)(1L << 30) * profile.Estimates.MinutesPerGigabyte)
            : 0;
        var measured = RehearsalCoverage.Hop(options.Rehearsal, from.ToString(), to.ToString());
        var notes = options.ReleaseNotes?.Between(from, to) ?? Array.Empty<ReleaseNote>();
        // A hop whose notes name a database migration migrates, whatever its kind (Infrahub 0.16.0 did, as a minor).
        var migrations = notes.Where(n => n.Category == ReleaseNoteCategory.DatabaseMigration).ToList();
        return new UpgradeStep
        {
            From = from.ToString(),
            To = to.ToString(),
            Kind = kind,
            RequiresMigration = kind == UpgradeKind.Major || migrations.Count > 0,
            EstimatedMinutes = new MinuteRange(range[0] + extra, range[1] + extra),
            MigrationNotes = kind == UpgradeKind.Major ? profile.Migration.MajorNotes
                : migrations.Count > 0 ? "The release notes name a database migration: " + string.Join(" ", migrations.Select(n => $"{n.Version}: {n.Title}"))
                : null,
            ReleaseNotes = notes,
            MeasuredDuration = measured?.Duration,
            MeasuredApiUnavailable = measured?.ApiUnavailable,
            FromChartVersion = chart?.From?.ToString(),
            ToChartVersion = chart?.To.ToString(),
            ChartNotes = chart is { } c ? ChartNotes(c.From, c.To) : Array.Empty<string>(),
        };
    }

    private static string Explain(IReadOnlyList<UpgradeStep> steps)
    {
        if (steps.Count == 1)
            return steps[0].Kind switch
            {
                UpgradeKind.Patch => "Patch upgrade: direct.",
                UpgradeKind.Minor => "Upgrade to the next minor version: direct.",
                _ => "Major upgrade: one hop with migration steps; read its migration notes and breaking changes first.",
            };
        var majors = steps.Count(s => s.Kind == UpgradeKind.Major);
        return $"{steps.Count} hops, installed one after the other through the latest patch of each minor version" +
               (majors > 0 ? $", including {majors} major hop(s) with migration steps." : ".");
    }

    /// <summary>When release notes were given, what they do not cover of the hops: an empty ReleaseNotes must not read as "nothing to review".</summary>
    private static IReadOnlyList<string> CoverageWarnings(ProductVersion from, ProductVersion to, IReadOnlyList<UpgradeStep> steps, UpgradePlanOptions options) =>
        options.ReleaseNotes is null || steps.Count == 0 ? [] : options.ReleaseNotes.CoverageWarnings(from, to);

    private UpgradePath Build(ProductVersion from, ProductVersion to, IReadOnlyList<UpgradeStep> steps, string reason,
        UpgradePlanOptions options, IReadOnlyList<string> warnings)
    {
        var estimate = steps.Aggregate(new MinuteRange(0, 0), (sum, s) => sum + s.EstimatedMinutes);
        var rehearsal = options.Rehearsal;
        var notUsed = rehearsal is null || steps.Count == 0 ? null
            : RehearsalCoverage.NotUsedBecause(rehearsal, from.ToString(), to.ToString(), steps.Select(s => (s.From, s.To)));
        var measured = rehearsal is not null && steps.Count > 0 && notUsed is null ? rehearsal : null;
        if (measured is not null)
            reason += $" Measured by rehearsal {measured.Id} on {measured.Started:yyyy-MM-dd}: a window of {Math.Ceiling(measured.EstimatedWindow.TotalMinutes)} min " +
                      $"with {measured.Downtime.TotalSeconds:N0} s of API downtime (the estimate without it: {estimate}).";
        return new UpgradePath
        {
            From = from.ToString(),
            To = to.ToString(),
            IsSupported = true,
            Reason = reason,
            Steps = steps,
            EstimatedDowntime = estimate,
            Impacts = steps.Count == 0 ? Array.Empty<string>() : profile.Impacts,
            ReleaseNotes = options.ReleaseNotes?.Between(from, to) ?? Array.Empty<ReleaseNote>(),
            Warnings = warnings.Concat(CoverageWarnings(from, to, steps, options)).Concat(notUsed is null ? [] : [notUsed]).ToList(),
            Profile = profile.Name,
            Deployment = options.Deployment,
            MeasuredWindow = measured?.EstimatedWindow,
            MeasuredDowntime = measured?.Downtime,
            RehearsalId = measured?.Id,
            FromChartVersion = options.PlanCharts ? options.FromChartVersion : null,
            ToChartVersion = steps.Count > 0 ? steps[^1].ToChartVersion : options.PlanCharts ? options.ToChartVersion ?? options.FromChartVersion : null,
        };
    }
}

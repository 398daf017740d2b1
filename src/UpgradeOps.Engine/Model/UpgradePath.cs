namespace UpgradeOps;

public enum UpgradeKind { Patch, Minor, Major }

/// <summary>A span of minutes ("10–30 min"), used for estimates.</summary>
public readonly record struct MinuteRange(int Min, int Max)
{
    public static MinuteRange operator +(MinuteRange a, MinuteRange b) => new(a.Min + b.Min, a.Max + b.Max);
    public TimeSpan MaxDuration => TimeSpan.FromMinutes(Max);
    public override string ToString() => Min == Max ? $"{Min} min" : $"{Min}–{Max} min";
}

/// <summary>One hop of an upgrade path.</summary>
public sealed class UpgradeStep
{
    public required string From { get; init; }
    public required string To { get; init; }
    public required UpgradeKind Kind { get; init; }
    public bool RequiresMigration { get; init; }
    public MinuteRange EstimatedMinutes { get; init; }
    public string? MigrationNotes { get; init; }
    public IReadOnlyList<ReleaseNote> ReleaseNotes { get; init; } = Array.Empty<ReleaseNote>();
    /// <summary>Helm: the chart version the release has before this hop (null when not known).</summary>
    public string? FromChartVersion { get; init; }
    /// <summary>Helm: the chart version this hop installs, from the profile's version.helmCharts (null without one).</summary>
    public string? ToChartVersion { get; init; }
    /// <summary>Helm: what the chart change of this hop asks for: a new chart major version, the configuration rules tied to a chart version it crosses.</summary>
    public IReadOnlyList<string> ChartNotes { get; init; } = Array.Empty<string>();
    /// <summary>How long this hop took when a rehearsal ran it on a copy (null without a rehearsal of this hop).</summary>
    public TimeSpan? MeasuredDuration { get; init; }
    /// <summary>How long the API was unavailable during this hop in the rehearsal.</summary>
    public TimeSpan? MeasuredApiUnavailable { get; init; }

    public override string ToString() => $"{From} → {To} ({Kind}{(ToChartVersion is null ? "" : $", chart {ToChartVersion}")})";
}

/// <summary>The result of checking an upgrade path: supported or not, why, and the hops to take.</summary>
public sealed class UpgradePath
{
    public required string From { get; init; }
    public required string To { get; init; }
    public required bool IsSupported { get; init; }
    public required string Reason { get; init; }
    public IReadOnlyList<UpgradeStep> Steps { get; init; } = Array.Empty<UpgradeStep>();
    public MinuteRange EstimatedDowntime { get; init; }
    public IReadOnlyList<string> Impacts { get; init; } = Array.Empty<string>();
    public IReadOnlyList<ReleaseNote> ReleaseNotes { get; init; } = Array.Empty<ReleaseNote>();
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
    public string? Profile { get; init; }
    /// <summary>The deployment the path was planned for, when it came from one (carried down the pipeline).</summary>
    public Deployment? Deployment { get; init; }
    /// <summary>The window a passed rehearsal of this very path measured (backup, upgrade, validation, with the safety factor); null without one.</summary>
    public TimeSpan? MeasuredWindow { get; init; }
    /// <summary>The API downtime that rehearsal measured.</summary>
    public TimeSpan? MeasuredDowntime { get; init; }
    /// <summary>The rehearsal whose measurements the path carries.</summary>
    public string? RehearsalId { get; init; }
    /// <summary>Helm: the release's chart version now (null when not known).</summary>
    public string? FromChartVersion { get; init; }
    /// <summary>Helm: the chart version the path ends on (null when its hops carry none).</summary>
    public string? ToChartVersion { get; init; }

    /// <summary>Helm: the charts as text, "0.3.0 → 0.4.0" (a chart kept by a hop is named once); null when the hops carry no chart version.</summary>
    public string? ChartRoute
    {
        get
        {
            if (Steps.Count == 0 || Steps.All(s => s.ToChartVersion is null)) return null;
            var charts = new[] { Steps[0].FromChartVersion ?? "?" }.Concat(Steps.Select(s => s.ToChartVersion ?? "?")).ToList();
            return string.Join(" → ", charts.Where((chart, i) => i == 0 || chart != charts[i - 1]));
        }
    }

    /// <summary>The hops as text: "1.5.2 → 1.6.3 → 1.7.6".</summary>
    public string Route => Steps.Count == 0 ? From : string.Join(" → ", new[] { Steps[0].From }.Concat(Steps.Select(s => s.To)));

    public override string ToString() => !IsSupported ? $"{From} → {To}: not supported"
        : MeasuredWindow is { } window ? $"{Route}{Charts} ({EstimatedDowntime}; measured {Math.Ceiling(window.TotalMinutes)} min by rehearsal {RehearsalId})"
        : $"{Route}{Charts} ({EstimatedDowntime})";

    private string Charts => ChartRoute is { } charts ? $" (chart {charts})" : "";
}

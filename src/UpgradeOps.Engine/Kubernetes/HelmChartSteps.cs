using UpgradeOps.Platforms;
using UpgradeOps.Versioning;

namespace UpgradeOps.Kubernetes;

/// <summary>The chart each hop of a Helm upgrade installs.</summary>
public static class HelmChartSteps
{
    /// <summary>
    /// The options of one hop: a chart version the user gave (-ChartVersion) wins; otherwise the hop installs the chart version
    /// its path gives it (the profile's version.helmCharts); without either, helm's choice as before. A local chart (a folder
    /// or a .tgz) is installed as it is whatever --version says, so it must be the hop's version (ChartVersionMismatch).
    /// </summary>
    public static HelmUpgradeOptions ForStep(this HelmUpgradeOptions options, UpgradeStep? step)
    {
        if (options.ChartVersion is not null || step?.ToChartVersion is not { } chart) return options;
        if (HelmConfiguration.LocalChartVersion(options.Chart) is { } local && !SameVersion(local, chart))
            throw new UpgradeOpsException("ChartVersionMismatch", ErrorKind.InvalidArgument, options.Chart,
                $"The hop {step.From} → {step.To} installs chart {chart} (the profile's version.helmCharts), but the chart at {options.Chart} is version {local}, " +
                $"and helm installs a local chart as it is, whatever --version says. Nothing was changed. Give -Chart with the chart of version {chart} " +
                $"(a folder, a .tgz, or repo/chart), or -ChartVersion {local} to install this one anyway.");
        return new HelmUpgradeOptions { Chart = options.Chart, ChartVersion = chart, ValuesFiles = options.ValuesFiles, HelmPath = options.HelmPath };
    }

    /// <summary>A warning when -ChartVersion replaces chart versions the path gives its hops; null when it replaces none.</summary>
    public static string? OverrideWarning(this HelmUpgradeOptions options, UpgradePath path) =>
        options.ChartVersion is not null && path.Steps.Where(s => s.ToChartVersion is not null && !SameVersion(s.ToChartVersion, options.ChartVersion)).ToList() is { Count: > 0 } replaced
            ? $"-ChartVersion {options.ChartVersion} replaces the chart version the path gives {string.Join(", ", replaced.Select(s => $"hop {s.From} → {s.To} ({s.ToChartVersion})"))}."
            : null;

    private static bool SameVersion(string a, string b) =>
        ProductVersion.TryParse(a, out var x) && ProductVersion.TryParse(b, out var y) ? x!.Equals(y) : string.Equals(a.Trim(), b.Trim(), StringComparison.Ordinal);
}

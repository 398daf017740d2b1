using UpgradeOps.Backups;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>The configuration rules of a Helm release's upgrade, applied to a values file: planned before anything changes.</summary>
public static class HelmValuesMigration
{
    /// <summary>
    /// The values migration of a hop: the profile's Helm rules applied to the last -ValuesFile (or, with none, to a values
    /// file of the release's own in its state folder, passed with -f and kept by helm in the release). A key counts as set
    /// when an earlier values file or the release's values (reused by helm upgrade) set it.
    /// </summary>
    public static (FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes) PlanConfiguration(Deployment deployment, ProductProfile profile, HelmRelease? release,
        string from, string to, HelmUpgradeOptions options, IReadOnlyDictionary<string, string>? givenValues)
    {
        var (ns, releaseName) = HelmDeployment.Locate(deployment);
        var file = options.ValuesFiles.LastOrDefault() ?? Path.Combine(UpgradeJournal.StateFolder(HelmStateFolder.Anchor(ns, releaseName)), "rule-values.yaml");
        var lookup = HelmConfiguration.ValuesLookup(options.ValuesFiles.SkipLast(1), key => release?.Value(key));
        return HelmConfiguration.Plan(file, profile, ProductVersion.Parse(from), ProductVersion.Parse(to),
            release?.ChartVersion ?? deployment.ChartVersion, options.ChartVersion ?? HelmConfiguration.LocalChartVersion(options.Chart), givenValues, lookup);
    }

    /// <summary>
    /// <see cref="PlanConfiguration"/> against the release's current values, read from the cluster (for -WhatIf). The local
    /// inputs (profile, values files) are checked first, so their faults are not reported as the cluster's.
    /// </summary>
    public static async Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanConfigurationAsync(HelmUpgradeRequest request, HelmUpgradeOptions options,
        EngineContext context)
    {
        var (ns, releaseName) = HelmDeployment.Locate(request.Deployment);
        var profile = ProfileLoader.Load(request.Deployment.Profile);
        HelmConfiguration.CheckValuesFiles(options.ValuesFiles);
        using var client = KubernetesDiscovery.Connect(request.Deployment.Kubeconfig, request.Deployment.KubeContext);
        IReadOnlyList<HelmRelease> revisions;
        try
        {
            revisions = await HelmReleaseReader.ListAsync(client, ns, releaseName, context.CancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw KubernetesDiscovery.Unreachable(client, ex);
        }
        return PlanConfiguration(request.Deployment, profile, ValuesBase(revisions), request.From, request.To, options, request.ConfigurationValues);
    }

    /// <summary>
    /// The revision whose values helm upgrade reuses: the newest, or for a release left pending-* the deployed one it is rolled
    /// back to first (the pending revision's values are gone after the repair).
    /// </summary>
    public static HelmRelease? ValuesBase(IReadOnlyList<HelmRelease> revisions) =>
        revisions.LastOrDefault() is { IsPending: true } pending ? HelmReleaseReader.LastDeployed(revisions) ?? pending : revisions.LastOrDefault();

    /// <summary>
    /// The rules' own values file (no -ValuesFile given) to pass with -f: when this run edits it, and also when a rule of the
    /// hop applies and an earlier run already wrote it (a re-run after a killed helm, on a release rolled back to a revision
    /// whose values lack what the rule wrote). Null when the rules edit a -ValuesFile the user passes anyway.
    /// </summary>
    public static string? RuleValuesFile(FileEdit? configuration, IReadOnlyList<ConfigurationChange> changes, HelmUpgradeOptions options)
    {
        var file = configuration?.Path ?? changes.FirstOrDefault()?.File;
        return file is not null && !options.ValuesFiles.Contains(file) && (configuration is not null || File.Exists(file)) ? file : null;
    }
}

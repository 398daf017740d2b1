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
        HelmRelease? latest;
        try
        {
            latest = await HelmReleaseReader.GetLatestAsync(client, ns, releaseName, context.CancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw KubernetesDiscovery.Unreachable(client, ex);
        }
        return PlanConfiguration(request.Deployment, profile, latest, request.From, request.To, options, request.ConfigurationValues);
    }
}

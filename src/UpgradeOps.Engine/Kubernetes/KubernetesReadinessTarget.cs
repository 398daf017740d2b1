using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;
using UpgradeOps.Platforms;
using UpgradeOps.Validation;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// A Helm release: its workloads from the rediscovered release, its settings from the release's values (helm's "config"),
/// its API through a port-forward opened on first use and closed with the target.
/// </summary>
internal sealed class KubernetesReadinessTarget : IReadinessTarget
{
    private readonly HelmRelease? _release;
    private readonly HelmDeployment _source;
    private readonly ApiPortForward _forward;

    private KubernetesReadinessTarget(Deployment deployment, HelmDeployment source, HelmRelease? release, EngineContext context)
    {
        (Deployment, _source, _release) = (deployment, source, release);
        _forward = new ApiPortForward(source, context.CreateLogger(nameof(ApiPortForward)), context.CancellationToken);
    }

    public static async Task<KubernetesReadinessTarget> OpenAsync(Deployment given, EngineContext context)
    {
        var deployment = await KubernetesDiscovery.AgainAsync(given, context).ConfigureAwait(false);
        var source = HelmDeployment.Open(deployment);
        try
        {
            var release = await HelmReleaseReader.GetLatestAsync(source.Client, source.Namespace, source.Release, context.CancellationToken).ConfigureAwait(false);
            return new KubernetesReadinessTarget(deployment, source, release, context);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    public Deployment Deployment { get; }
    public ProductProfile Profile => _source.Profile;
    public Deployment? DumpReader => Deployment;
    public string DiskSpaceRemedy => "Free space in the backup folder (remove old backups) before the upgrade.";

    public Task<(string? Fact, string? Problem, string? NotApplicable)> ImageSpaceAsync(CancellationToken ct) =>
        Task.FromResult<(string?, string?, string?)>((null, null, "the Docker root does not apply to a Helm release: the cluster's nodes pull the images"));

    public IReadOnlyList<SettingNeed> ConfigurationNeeds(string to) =>
        HelmNeeds(Profile, Deployment.Version, to, Deployment.ChartVersion, key => _release?.Value(key) ?? SetAsObject(key));

    /// <summary>A key whose value is a map or list (not a leaf) is set too.</summary>
    private string? SetAsObject(string key)
    {
        System.Text.Json.Nodes.JsonNode? node = _release?.Values;
        foreach (var part in key.Split('.')) node = node is System.Text.Json.Nodes.JsonObject o ? o[part] : null;
        return node is null ? null : "(set)";
    }

    public string ConfigurationRemedy(IReadOnlyList<SettingNeed> missing, string to) =>
        $"Give the value with the upgrade: Invoke-Upgrade -To {to} -ValuesFile <your values file> -ConfigurationValue @{{ {string.Join("; ", missing.Select(m => $"'{m.Setting}' = '...'"))} }} " +
        $"(written to the values file, never shown), or write it into the values file beforehand with Convert-UpgradeConfiguration -To {to} -ValuesFile <your values file> -ConfigurationValue @{{...}}.";

    public ProductApi Api(string? apiEndpoint) =>
        (apiEndpoint ?? Deployment.ApiEndpoint) is not null ? ProductApi.For(Deployment, Profile, apiEndpoint) : new ProductApi(_forward, Profile.Api);

    public void Dispose()
    {
        _forward.Dispose();
        _source.Dispose();
    }

    public bool ApiFailuresAreWarnings => true;

    public (string ErrorId, string Detail, string Remedy)? HealthProblem(Deployment described) => PendingRelease(described);

    /// <summary>A release left pending-* by a helm that did not finish: helm refuses the next upgrade until it is repaired.</summary>
    internal static (string ErrorId, string Detail, string Remedy)? PendingRelease(Deployment deployment)
    {
        if (deployment.ReleaseStatus is not { } status || !status.StartsWith("pending-", StringComparison.Ordinal)) return null;
        var (ns, release) = HelmDeployment.Locate(deployment);
        return ("HelmReleasePending",
            $"Release {release} is {status} at revision {deployment.Revision}: a helm operation did not finish, and helm refuses the next upgrade until it is repaired.",
            KubernetesDiscovery.PendingRepair(release, ns, deployment.DeployedRevision));
    }

    /// <summary>
    /// Helm: the rules naming a values key the hop crosses (ConfigurationRules.Applicable; chartVersion rules only with a
    /// known target chart, which readiness does not have), against the release's values as the upgrade would treat them:
    /// set, moved from the older key, the rule's default written, a generated value, or Missing.
    /// </summary>
    internal static IReadOnlyList<SettingNeed> HelmNeeds(ProductProfile profile, string? fromVersion, string to, string? fromChart, Func<string, string?> releaseValue)
    {
        if (!ProductVersion.TryParse(to, out var target)) return Array.Empty<SettingNeed>();
        var from = ProductVersion.TryParse(fromVersion, out var f) ? f! : ProductVersion.Parse("0.0.0");
        return ConfigurationRules.Applicable(profile, ConfigurationTarget.ValuesFile, from, target!, fromChart, null).Select(rule =>
        {
            var key = rule.RequiresValuesKey!;
            if (releaseValue(key) is not null) return new SettingNeed(key, rule.Description, SettingState.Set);
            if (rule.MovedFrom is { } old && releaseValue(old) is not null) return new SettingNeed(key, rule.Description, SettingState.Moved, old);
            if (rule.DefaultValue is not null) return new SettingNeed(key, rule.Description, SettingState.Defaulted);
            return new SettingNeed(key, rule.Description, rule.Generate ? SettingState.Generated : SettingState.Missing);
        }).ToList();
    }
}

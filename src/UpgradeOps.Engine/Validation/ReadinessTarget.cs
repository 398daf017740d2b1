using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Validation;

/// <summary>How a setting a configuration rule needs stands before the upgrade.</summary>
internal enum SettingState { Set, Missing, Generated, Defaulted, Moved }

/// <summary>A setting (a .env variable or a dotted values key) the target version needs, and how it stands.</summary>
internal sealed record SettingNeed(string Setting, string Description, SettingState State, string? From = null);

/// <summary>
/// What Test-UpgradeReadiness needs of a deployment beyond what is the same on both platforms: the deployment described
/// afresh, where new images land (the Docker root, or nothing on Kubernetes: the nodes pull them), the settings the
/// target needs and how they stand (.env, or the release's values), and the remedy for a missing one. The checks
/// themselves are one code path (UpgradeReadinessChecker).
/// </summary>
internal interface IReadinessTarget : IDisposable
{
    Deployment Deployment { get; }
    ProductProfile Profile { get; }
    /// <summary>The deployment whose data-store host reads a backup's dumps when verifying it; null to check files only.</summary>
    Deployment? DumpReader { get; }
    /// <summary>The free space for the new images (a fact, and a problem when short), or why it does not apply on this platform.</summary>
    Task<(string? Fact, string? Problem, string? NotApplicable)> ImageSpaceAsync(CancellationToken ct);
    string DiskSpaceRemedy { get; }
    IReadOnlyList<SettingNeed> ConfigurationNeeds(string to);
    string ConfigurationRemedy(IReadOnlyList<SettingNeed> missing, string to);
    /// <summary>The product's API (for BackgroundTasks), as <see cref="IValidationTarget.Api"/> finds it: a Helm release's through a port-forward.</summary>
    ProductApi Api(string? apiEndpoint);
}

internal static class ReadinessTarget
{
    public static async Task<IReadinessTarget> OpenAsync(Deployment given, EngineContext context) =>
        given.Platform == DeploymentPlatform.Kubernetes
            ? await KubernetesReadinessTarget.OpenAsync(given, context).ConfigureAwait(false)
            : await ComposeReadinessTarget.OpenAsync(given, context).ConfigureAwait(false);
}

internal sealed class ComposeReadinessTarget : IReadinessTarget
{
    private readonly ComposeBackupSource _source;

    private ComposeReadinessTarget(Deployment deployment, ComposeBackupSource source) => (Deployment, _source) = (deployment, source);

    public static async Task<ComposeReadinessTarget> OpenAsync(Deployment given, EngineContext context)
    {
        var deployment = await ComposeDiscovery.DiscoverAsync(ComposeDiscoveryRequest.Again(given), context).ConfigureAwait(false);
        return new ComposeReadinessTarget(deployment, await ComposeBackupSource.OpenAsync(deployment, context.CancellationToken).ConfigureAwait(false));
    }

    public Deployment Deployment { get; }
    public ProductProfile Profile => _source.Profile;
    public Deployment? DumpReader => null;
    public string DiskSpaceRemedy => "Free space (docker image prune; old backups) before the upgrade.";

    public async Task<(string? Fact, string? Problem, string? NotApplicable)> ImageSpaceAsync(CancellationToken ct)
    {
        var info = await _source.Engine.Client.System.GetSystemInfoAsync(ct).ConfigureAwait(false);
        if (info.DockerRootDir is not { } root || !Directory.Exists(root)) return (null, null, null);
        var free = new DriveInfo(root).AvailableFreeSpace;
        var image = _source.Containers.FirstOrDefault(c => _source.Profile.Services.Any(s => s.ProductImage && _source.ComposeName(s.Name) == c.Labels[ComposeDiscovery.ServiceLabel]));
        long need = 0;
        if (image is not null) need = (await _source.Engine.Client.Images.InspectImageAsync(image.ImageID, ct).ConfigureAwait(false)).Size;
        return ($"{free / 1e9:N1} GB free for images",
            free < need * 2 ? $"the Docker root {root} has {free / 1e9:N1} GB free; a new product image takes about {need / 1e9:N1} GB" : null, null);
    }

    public IReadOnlyList<SettingNeed> ConfigurationNeeds(string to)
    {
        var env = File.Exists(_source.File.EnvFilePath) ? EnvFile.Read(_source.File.EnvFilePath) : new Dictionary<string, string>().AsReadOnly();
        return UpgradeReadinessChecker.ComposeNeeds(Profile, Deployment.Version, to, env.ContainsKey);
    }

    public string ConfigurationRemedy(IReadOnlyList<SettingNeed> missing, string to) =>
        "Give the value: Invoke-Upgrade -ConfigurationValue @{NAME='value'}, or set it in .env.";

    public ProductApi Api(string? apiEndpoint) => ProductApi.For(Deployment, Profile, apiEndpoint);

    public void Dispose() => _source.Dispose();
}

/// <summary>
/// A Helm release: its workloads from the rediscovered release, its settings from the release's values (helm's "config"),
/// its API through a port-forward opened on first use and closed with the target.
/// </summary>
internal sealed class KubernetesReadinessTarget : IReadinessTarget
{
    private readonly HelmRelease? _release;
    private readonly KubernetesBackupSource _source;
    private readonly ApiPortForward _forward;

    private KubernetesReadinessTarget(Deployment deployment, KubernetesBackupSource source, HelmRelease? release, EngineContext context)
    {
        (Deployment, _source, _release) = (deployment, source, release);
        _forward = new ApiPortForward(source, context.CreateLogger(nameof(ApiPortForward)), context.CancellationToken);
    }

    public static async Task<KubernetesReadinessTarget> OpenAsync(Deployment given, EngineContext context)
    {
        var deployment = await KubernetesDiscovery.AgainAsync(given, context).ConfigureAwait(false);
        var source = KubernetesBackupSource.Open(deployment);
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
        UpgradeReadinessChecker.HelmNeeds(Profile, Deployment.Version, to, Deployment.ChartVersion, key => _release?.Value(key) ?? SetAsObject(key));

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
}

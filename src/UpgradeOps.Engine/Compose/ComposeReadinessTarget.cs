using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;
using UpgradeOps.Platforms;
using UpgradeOps.Validation;

namespace UpgradeOps.Compose;

internal sealed class ComposeReadinessTarget : IReadinessTarget
{
    private readonly ComposeDeployment _source;

    private ComposeReadinessTarget(Deployment deployment, ComposeDeployment source) => (Deployment, _source) = (deployment, source);

    public static async Task<ComposeReadinessTarget> OpenAsync(Deployment given, EngineContext context)
    {
        var deployment = await ComposeDiscovery.DiscoverAsync(ComposeDiscoveryRequest.Again(given), context).ConfigureAwait(false);
        return new ComposeReadinessTarget(deployment, await ComposeDeployment.OpenAsync(deployment, context.CancellationToken).ConfigureAwait(false));
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
        return ComposeNeeds(Profile, Deployment.Version, to, env.ContainsKey);
    }

    public string ConfigurationRemedy(IReadOnlyList<SettingNeed> missing, string to) =>
        "Give the value: Invoke-Upgrade -ConfigurationValue @{NAME='value'}, or set it in .env.";

    public ProductApi Api(string? apiEndpoint) => ProductApi.For(Deployment, Profile, apiEndpoint);

    public void Dispose() => _source.Dispose();

    public bool ApiFailuresAreWarnings => false;

    public (string ErrorId, string Detail, string Remedy)? HealthProblem(Deployment described) => null;

    /// <summary>
    /// Compose: the rules naming a .env variable the hop crosses (ConfigurationRules.Applicable, as the upgrade's
    /// ComposeConfiguration.Plan finds them), unset ones Missing or Generated.
    /// </summary>
    internal static IReadOnlyList<SettingNeed> ComposeNeeds(ProductProfile profile, string? fromVersion, string to, Func<string, bool> isSet)
    {
        if (!ProductVersion.TryParse(to, out var target)) return Array.Empty<SettingNeed>();
        var from = ProductVersion.TryParse(fromVersion, out var f) ? f! : ProductVersion.Parse("0.0.0");
        return ComposeConfiguration.Applicable(profile, from, target!).Select(rule =>
        {
            var variable = rule.RequiresVariable!;
            return new SettingNeed(variable, rule.Description, isSet(variable) ? SettingState.Set : rule.Generate ? SettingState.Generated : SettingState.Missing);
        }).ToList();
    }
}

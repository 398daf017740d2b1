using UpgradeOps.Hosting;
using UpgradeOps.Platforms;
using UpgradeOps.Versioning;

namespace UpgradeOps.Upgrades;

/// <summary>
/// Convert-UpgradeConfiguration: the configuration migrations from a deployment's version to another, on what its platform
/// keeps its configuration in (a .env, a values file), planned without writing. The versions are checked before the
/// platform reads anything, and each platform reads its local files before it asks its engine or cluster.
/// </summary>
public static class ConfigurationMigration
{
    public static async Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanAsync(Deployment deployment, string to, string? valuesFile,
        string? chartVersion, IReadOnlyDictionary<string, string>? givenValues, EngineContext context)
    {
        var from = deployment.Version
            ?? throw new UpgradeOpsException("VersionUnknown", ErrorKind.InvalidData, deployment,
                $"The version of '{deployment.Name}' is not known (its services disagree: see its Warnings). Finish or roll back the upgrade in progress first.");
        ProductVersion.Parse(to); // InvalidVersion, as every cmdlet says it
        ProductVersion.Parse(from);
        return await DeploymentPlatforms.Open(deployment).PlanConfigurationAsync(new ConfigurationRequest
        {
            From = from, To = to, ValuesFile = valuesFile, ChartVersion = chartVersion, ConfigurationValues = givenValues,
        }, context).ConfigureAwait(false);
    }
}

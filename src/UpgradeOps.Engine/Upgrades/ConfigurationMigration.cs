using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Upgrades;

/// <summary>
/// Convert-UpgradeConfiguration: the configuration migrations from a deployment's version to another, on its .env
/// (Compose) or on the user's values file (Helm, checked against the release's values too), planned without writing.
/// Everything local is read and checked before the cluster is asked for the release's values.
/// </summary>
public static class ConfigurationMigration
{
    public static async Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanAsync(Deployment deployment, string to, string? valuesFile,
        string? chartVersion, IReadOnlyDictionary<string, string>? givenValues, EngineContext context)
    {
        var from = deployment.Version
            ?? throw new UpgradeOpsException("VersionUnknown", ErrorKind.InvalidData, deployment,
                $"The version of '{deployment.Name}' is not known (its services disagree: see its Warnings). Finish or roll back the upgrade in progress first.");
        var target = ProductVersion.Parse(to); // InvalidVersion, as every cmdlet says it
        // Local inputs first (versions, profile, files), then the cluster: a bad file is not reported as a connection failure.
        var fromVersion = ProductVersion.Parse(from);
        if (deployment.Platform == DeploymentPlatform.Compose)
        {
            if (deployment.Location is null)
                throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, deployment,
                    $"Deployment '{deployment.Name}' has no compose file. Get it again with Get-UpgradeDeployment -ComposeFile.");
            var profile = ProfileLoader.Load(deployment.Profile);
            return ComposeConfiguration.Plan(ComposeFile.Load(deployment.Location), profile, fromVersion, target, givenValues);
        }
        if (valuesFile is null)
            throw new UpgradeOpsException("ValuesFileRequired", ErrorKind.InvalidArgument, deployment,
                $"'{deployment.Name}' is a Helm release: give -ValuesFile, the values file you pass to helm upgrade. The rules edit it in place.");
        return await HelmUpgradeService.PlanConfigurationAsync(
            new HelmUpgradeRequest { Deployment = deployment, From = from, To = to, ConfigurationValues = givenValues },
            new HelmUpgradeOptions { Chart = "", ChartVersion = chartVersion, ValuesFiles = [valuesFile] }, context).ConfigureAwait(false);
    }
}

using UpgradeOps.Journal;

namespace UpgradeOps.Upgrades;

/// <summary>Past upgrades and rollbacks of a deployment, read from its journal folder, newest first.</summary>
public static class UpgradeHistory
{
    public static IReadOnlyList<UpgradeResult> List(Deployment deployment)
    {
        if (deployment.Platform == DeploymentPlatform.Kubernetes && deployment.Location?.Split('/', 2) is [var ns, var release])
            return UpgradeJournal.List(Kubernetes.HelmUpgradeService.StateAnchor(ns, release)).Select(j => j.Result).ToList();
        if (deployment.Location is null || deployment.Platform != DeploymentPlatform.Compose)
            throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, deployment.Name,
                $"Deployment '{deployment.Name}' has no compose file to find its journal beside. Get it with Get-UpgradeDeployment -ComposeFile.");
        return UpgradeJournal.List(deployment.Location).Select(j => j.Result).ToList();
    }
}

using UpgradeOps.Journal;

namespace UpgradeOps.Upgrades;

/// <summary>Past upgrades and rollbacks of a deployment, read from its journal folder, newest first.</summary>
public static class UpgradeHistory
{
    /// <summary>The results every readable journal recorded, and why each other journal could not be read.</summary>
    public static (IReadOnlyList<UpgradeResult> Results, IReadOnlyList<UpgradeOpsException> Unreadable) List(Deployment deployment)
    {
        var (journals, unreadable) = UpgradeJournal.ListReadable(StateAnchor(deployment));
        var results = journals.Select(j => j.Result).ToList();
        foreach (var result in results)
        {
            // The deployment the history was asked of is the one these results belong to.
            result.Deployment ??= deployment;
            result.Location ??= deployment.Location;
        }
        return (results, unreadable);
    }

    /// <summary>Where a deployment's journal folder is anchored: beside its compose file, or a release's state folder.</summary>
    public static string StateAnchor(Deployment deployment) => Platforms.DeploymentPlatforms.Open(deployment).StateAnchor;
}

using Docker.DotNet.Models;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Compose;

internal enum RollbackStepKind { StopProductContainers, RestoreComponent, PreviousImages, WaitHealthy }

/// <summary>One step of a rollback as its journal records it; a restore step names its component.</summary>
internal sealed record RollbackStep(RollbackStepKind Kind, string Name, int Percent, BackupComponent? Component = null);

/// <summary>What a container set aside by an interrupted replacement becomes in a rollback.</summary>
/// <param name="TakesNameBack">It is the original the journal recorded (same image id): it takes its name back and its replacement goes; otherwise it goes.</param>
internal sealed record AsideReturn(ContainerListResponse Aside, string Original, bool TakesNameBack, ContainerListResponse? Replacement);

internal enum PreviousImageActionKind { Missing, Recreate, Start }

/// <summary>What the rollback does to one container the upgrade recorded: recreate it on its previous image, only start it, or stop (it is gone).</summary>
internal sealed record PreviousImageAction(PreviousContainer Previous, PreviousImageActionKind Kind, ContainerListResponse? Current);

/// <summary>
/// The decisions of a Compose rollback, apart from the Docker Engine that carries them out (ComposeRollback): which
/// upgrade is undone, the steps in their order, which containers stop, which container set aside comes back, and which
/// container is recreated on its previous image.
/// </summary>
internal static class ComposeRollbackPlan
{
    /// <summary>
    /// The upgrade journal to undo: the one -UpgradeId names, or with -Backup none (the backup says where to return), or the
    /// latest upgrade not rolled back yet. An upgrade that ran without a backup cannot be undone without -Backup.
    /// </summary>
    /// <param name="upgrades">The deployment's upgrade journals, newest first.</param>
    public static UpgradeJournal? SelectJournal(IReadOnlyList<UpgradeJournal> upgrades, RollbackRequest request, string composeFile)
    {
        UpgradeJournal? journal = null;
        if (request.UpgradeId is not null)
        {
            journal = upgrades.FirstOrDefault(j => j.Result.Id == request.UpgradeId)
                ?? throw new UpgradeOpsException("UpgradeNotFound", ErrorKind.ObjectNotFound, request.UpgradeId,
                    $"No upgrade '{request.UpgradeId}' is recorded for '{request.Deployment.Name}'. Get-UpgradeHistory lists them.");
        }
        else if (request.BackupPath is null)
        {
            journal = upgrades.FirstOrDefault(j => j.Result.Status != UpgradeStatus.RolledBack)
                ?? throw new UpgradeOpsException("NothingToRollBack", ErrorKind.ObjectNotFound, composeFile,
                    $"No upgrade of '{request.Deployment.Name}' is recorded to roll back. Give -Backup to return to a backup.");
        }
        if (journal is not null && request.BackupPath is null && journal.Result.BackupPath is null) throw NeedsBackup(journal.Result);
        return journal;
    }

    public static UpgradeOpsException NeedsBackup(UpgradeResult upgrade) =>
        new("RollbackNeedsBackup", ErrorKind.InvalidOperation, upgrade.Id,
            $"Upgrade {upgrade.Id} ran with -SkipBackup, so its data cannot be restored. Give Invoke-Rollback -Backup with a backup taken at {upgrade.From}.");

    /// <summary>
    /// The rollback's steps in order: the product stops first (nothing writes while its data is replaced), every component
    /// of the backup is restored in the manifest's order, the containers go back to their previous images (which then read
    /// the restored data), and the rollback ends when they are healthy.
    /// </summary>
    public static IReadOnlyList<RollbackStep> Steps(IReadOnlyList<BackupComponent> components)
    {
        var steps = new List<RollbackStep> { new(RollbackStepKind.StopProductContainers, "stop product containers", 5) };
        for (var i = 0; i < components.Count; i++)
            steps.Add(new(RollbackStepKind.RestoreComponent, $"restore {components[i].Name}", 20 + 50 * i / Math.Max(1, components.Count), components[i]));
        steps.Add(new(RollbackStepKind.PreviousImages, "previous images", 75));
        steps.Add(new(RollbackStepKind.WaitHealthy, "wait healthy", 90));
        return steps;
    }

    /// <summary>Where the rollback goes: from the version the upgrade was heading for (not the one before it started) to the backup's.</summary>
    public static (string From, string To) Versions(UpgradeResult upgrade, DeploymentBackup backup) => (upgrade.To, backup.Version ?? upgrade.From);

    /// <summary>The product containers that run (or keep restarting): what the first step stops.</summary>
    public static List<ContainerListResponse> ToStop(ProductProfile profile, IEnumerable<ContainerListResponse> containers) =>
        ComposeUpgradePlan.ProductContainers(profile, containers).Where(c => c.State is "running" or "restarting").ToList();

    /// <summary>
    /// Each container an interrupted upgrade set aside: when it still runs the image id the journal recorded it is exactly
    /// what to return to, so it takes its name back (its replacement removed); anything else set aside goes.
    /// </summary>
    public static List<AsideReturn> AsideReturns(IEnumerable<ContainerListResponse> containers, IEnumerable<ContainerListResponse> asides,
        IReadOnlyList<PreviousContainer> previous) =>
        asides.Select(aside =>
        {
            var original = ComposeUpgradePlan.OriginalName(aside);
            var recorded = previous.FirstOrDefault(p => p.Name == original);
            var replacement = containers.FirstOrDefault(c => ComposeUpgradePlan.NameOf(c) == original);
            return new AsideReturn(aside, original, recorded is not null && aside.ImageID == recorded.ImageId, replacement);
        }).ToList();

    /// <summary>
    /// For each container the upgrade recorded, in the journal's order: recreated on its previous image when it runs another
    /// image id, only started when it is still on it, and missing when it no longer exists (the rollback stops there).
    /// </summary>
    public static List<PreviousImageAction> PreviousImageActions(IEnumerable<ContainerListResponse> containers, IReadOnlyList<PreviousContainer> previous) =>
        previous.Select(p =>
        {
            var current = containers.FirstOrDefault(c => ComposeUpgradePlan.NameOf(c) == p.Name);
            var kind = current is null ? PreviousImageActionKind.Missing
                : current.ImageID != p.ImageId ? PreviousImageActionKind.Recreate : PreviousImageActionKind.Start;
            return new PreviousImageAction(p, kind, current);
        }).ToList();

    /// <summary>Variables the upgrade added go back to what the restored .env says (compose gives an unset one as empty).</summary>
    public static Dictionary<string, string?> AddedVariablesReset(IReadOnlyList<string> added, IReadOnlyDictionary<string, string> restoredEnv) =>
        added.ToDictionary(v => v, v => (string?)(restoredEnv.GetValueOrDefault(v) ?? ""));

    /// <summary>
    /// Without an upgrade journal, what to return to comes from the backup: each product container at the backup's version,
    /// on the image id the backup recorded for that reference (a container whose image the backup did not record is left as it is).
    /// </summary>
    public static List<PreviousContainer> PreviousFromBackup(ProductProfile profile, IEnumerable<ContainerListResponse> containers, DeploymentBackup backup)
    {
        var previous = new List<PreviousContainer>();
        foreach (var container in ComposeUpgradePlan.ProductContainers(profile, containers))
        {
            var previousImage = backup.Version is null ? container.Image : ImageReference.WithTag(container.Image, backup.Version);
            if (!backup.ImageDigests.TryGetValue(previousImage, out var id)) continue;
            previous.Add(new PreviousContainer
            {
                Name = ComposeUpgradePlan.NameOf(container), Service = container.Labels[ComposeDiscovery.ServiceLabel], Image = previousImage, ImageId = id,
            });
        }
        return previous;
    }
}

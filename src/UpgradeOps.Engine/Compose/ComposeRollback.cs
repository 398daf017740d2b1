using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;

using UpgradeOps.Versioning;

using UpgradeOps.Platforms;

namespace UpgradeOps.Compose;

/// <summary>
/// Undoes an upgrade on Compose, data included: stops the product containers, restores the databases,
/// volumes and compose files from the backup taken before the upgrade, puts every product container back
/// on the exact image id it ran before (recorded in the journal, or in the backup's manifest), and waits
/// for health. Works from the journal of a finished, failed or interrupted (even killed) upgrade.
/// </summary>
public static class ComposeRollback
{
    public static async Task<UpgradeResult> RollBackAsync(RollbackRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        // The journal and the backup are local: which upgrade to undo, and with what, is settled before the engine is asked.
        var (_, file) = ComposeDeployment.ReadLocal(request.Deployment);
        var journals = UpgradeJournal.List(file.Path).Where(j => j.Result.Operation == "Upgrade").ToList();
        var journal = ComposeRollbackPlan.SelectJournal(journals, request, file.Path);
        // Returning to a backup without a journal: the backup must open (with its key) before the engine is asked.
        if (journal is null) BackupCatalog.Open(request.BackupPath!, request.Passphrase);

        using var target = await ComposeDeployment.OpenAsync(request.Deployment, ct).ConfigureAwait(false);
        journal ??= JournalFromBackup(target, request.BackupPath!);
        if (request.BackupPath is not null)
        {
            journal.Result.BackupPath = request.BackupPath;
        }
        using var upgradeLock = UpgradeLock.Acquire(target.File.Path, journal.Result.Id + "-rollback", force: true);
        return await RollBackAsync(journal, target, request.Passphrase, request.HealthTimeout, context).ConfigureAwait(false);
    }

    /// <summary>Rolls the journal's upgrade back; the caller holds the deployment's lock.</summary>
    internal static async Task<UpgradeResult> RollBackAsync(UpgradeJournal upgrade, ComposeDeployment target, byte[]? passphrase, TimeSpan healthTimeout, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeRollback));
        var client = target.Engine.Client;
        if (upgrade.Result.BackupPath is null) throw ComposeRollbackPlan.NeedsBackup(upgrade.Result);
        var backup = BackupCatalog.Open(upgrade.Result.BackupPath, passphrase);
        ComposeRestore.CheckConfigFileTargets(target, backup);

        var started = DateTimeOffset.UtcNow;
        var (from, to) = ComposeRollbackPlan.Versions(upgrade.Result, backup);
        var rollback = new UpgradeJournal
        {
            Path = Path.Combine(UpgradeJournal.JournalFolder(target.File.Path), $"{target.Deployment.Name}-{started:yyyyMMdd-HHmmss}-rollback-to-{backup.Version}.json"),
            ComposeFile = target.File.Path, Profile = target.Deployment.Profile, DockerEndpoint = target.Deployment.Endpoint,
            PreviousContainers = upgrade.PreviousContainers,
            Result = new UpgradeResult
            {
                Platform = DeploymentPlatform.Compose,
                Id = $"{target.Deployment.Name}-{started:yyyyMMdd-HHmmss}-rollback-to-{backup.Version}", Operation = "Rollback",
                DeploymentName = target.Deployment.Name, Location = target.File.Path,
                From = from, To = to,
                Strategy = upgrade.Result.Strategy, Started = started, BackupId = backup.Id, BackupPath = backup.Path,
            },
        };
        rollback.Result.JournalPath = rollback.Path;
        var result = rollback.Result;
        var clock = Stopwatch.StartNew();
        using var activity = context.StartActivity($"Rolling {target.Deployment.Name} back to {result.To}");

        async Task Step(string name, int percent, Func<Task<string?>> action)
        {
            activity.Report(name, percent);
            var record = new UpgradeStepResult { Name = name, Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
            result.Steps.Add(record);
            rollback.Current = name;
            rollback.Save();
            var watch = Stopwatch.StartNew();
            try
            {
                record.Detail = await action().ConfigureAwait(false);
                record.Status = StepStatus.Succeeded;
            }
            catch (Exception ex)
            {
                record.Status = StepStatus.Failed;
                record.Detail = ex.Message;
                throw;
            }
            finally
            {
                record.Duration = watch.Elapsed;
                rollback.Save();
            }
        }

        try
        {
            foreach (var step in ComposeRollbackPlan.Steps(backup.Components))
            {
                await Step(step.Name, step.Percent, step.Kind switch
                {
                    RollbackStepKind.StopProductContainers => async () =>
                    {
                        await ComposeUpgrade.RepairInterruptedReplacementsAsync(client, target, ct).ConfigureAwait(false);
                        await RemoveOneOffsAsync(target, ct).ConfigureAwait(false);
                        var stopped = new List<string>();
                        foreach (var container in ComposeRollbackPlan.ToStop(target.Profile, target.Containers))
                        {
                            await client.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = 30 }, ct).ConfigureAwait(false);
                            stopped.Add(ComposeUpgradePlan.NameOf(container));
                        }
                        return stopped.Count == 0 ? "nothing running" : string.Join(", ", stopped);
                    },
                    RollbackStepKind.RestoreComponent => async () =>
                    {
                        await ComposeRestore.RestoreComponentAsync(target, backup.Path, step.Component!, passphrase, log, ct).ConfigureAwait(false);
                        return $"{step.Component!.Kind} from {step.Component.File}";
                    },
                    RollbackStepKind.PreviousImages => () => ReturnToPreviousImagesAsync(client, target, upgrade, ct),
                    RollbackStepKind.WaitHealthy => async () =>
                    {
                        await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, ct).ConfigureAwait(false);
                        await ComposeHealth.WaitApiAnswersAsync(target.Deployment, target.Profile, healthTimeout, ct).ConfigureAwait(false);
                        return target.Deployment.ApiEndpoint is null ? "every container healthy" : $"every container healthy, the API answering at {target.Deployment.ApiEndpoint}";
                    },
                    _ => throw new InvalidOperationException($"No action for the rollback step '{step.Name}'."),
                }).ConfigureAwait(false);
            }

            result.Status = UpgradeStatus.Succeeded;
            upgrade.Result.Status = UpgradeStatus.RolledBack;
            upgrade.Result.RolledBackBy = result.Id;
            upgrade.Current = null;
            upgrade.Save();
            log.LogInformation("Rolled back to {Version} from backup {Backup}", result.To, backup.Id);
        }
        catch (Exception ex) when (ex is UpgradeOpsException or DockerApiException or IOException or OperationCanceledException)
        {
            result.Status = ex is OperationCanceledException ? UpgradeStatus.Interrupted : UpgradeStatus.Failed;
            result.RecordError(ex, "RollbackFailed", ex is OperationCanceledException ? ErrorKind.OperationStopped : ErrorKind.InvalidOperation);
            throw new UpgradeOpsException(result.ErrorId!, result.ErrorCategory!.Value, result.Id,
                $"The rollback stopped at '{rollback.Current}': {ex.Message} Its journal is {rollback.Path}; fix the cause and run Invoke-Rollback again.", ex);
        }
        finally
        {
            result.Duration = clock.Elapsed;
            rollback.Current = null;
            rollback.Save();
        }
        activity.Complete();
        return result;
    }

    /// <summary>Puts each product container back on the image id it had before the upgrade, without the variables the upgrade added.</summary>
    private static async Task<string?> ReturnToPreviousImagesAsync(DockerClient client, ComposeDeployment target, UpgradeJournal upgrade, CancellationToken ct)
    {
        // Containers an interrupted upgrade already replaced may still have their original waiting aside: that
        // original is exactly what to return to, so it takes its name back and the replacement goes.
        await target.RefreshAsync(ct).ConfigureAwait(false);
        var asides = await ComposeUpgrade.PreviousContainersAsync(target.Engine, target.Deployment.Name, ct).ConfigureAwait(false);
        foreach (var (aside, original, takesNameBack, replacement) in ComposeRollbackPlan.AsideReturns(target.Containers, asides, upgrade.PreviousContainers))
        {
            if (takesNameBack)
            {
                if (replacement is not null)
                    await client.Containers.RemoveContainerAsync(replacement.ID, new ContainerRemoveParameters { Force = true }, ct).ConfigureAwait(false);
                await client.Containers.RenameContainerAsync(aside.ID, new ContainerRenameParameters { NewName = original }, ct).ConfigureAwait(false);
            }
            else
            {
                await client.Containers.RemoveContainerAsync(aside.ID, new ContainerRemoveParameters { Force = true }, ct).ConfigureAwait(false);
            }
        }

        await target.RefreshAsync(ct).ConfigureAwait(false);
        // Variables the upgrade added go back to what the restored .env says (compose gives an unset one as empty).
        var removeAdded = ComposeRollbackPlan.AddedVariablesReset(upgrade.AddedVariables, EnvFile.Read(target.File.EnvFilePath));
        var changed = new List<string>();
        var ids = new List<string>();
        foreach (var (previous, action, current) in ComposeRollbackPlan.PreviousImageActions(target.Containers, upgrade.PreviousContainers))
        {
            if (action == PreviousImageActionKind.Missing)
                throw new UpgradeOpsException("ContainerMissing", ErrorKind.ObjectNotFound, previous.Name,
                    $"Container {previous.Name} no longer exists, so it cannot be put back on {previous.Image}. Recreate it with 'docker compose up -d' after the rollback.");
            if (action == PreviousImageActionKind.Recreate)
            {
                await EnsureTagAsync(client, previous, ct).ConfigureAwait(false);
                var replaced = await ContainerRecreator.ReplaceAsync(client, current!.ID, previous.Image, TimeSpan.FromSeconds(30), ct, removeAdded).ConfigureAwait(false);
                await ContainerRecreator.RemovePreviousAsync(client, replaced).ConfigureAwait(false);
                changed.Add(previous.Name);
                ids.Add(replaced.NewId);
            }
            else
            {
                await client.Containers.StartContainerAsync(current!.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
                ids.Add(current.ID);
            }
        }
        return changed.Count == 0 ? "containers were still on their previous images" : $"recreated on previous images: {string.Join(", ", changed)}";
    }

    /// <summary>The image reference must point at the recorded image id again (a registry may have moved the tag).</summary>
    private static async Task EnsureTagAsync(DockerClient client, PreviousContainer previous, CancellationToken ct)
    {
        try
        {
            var image = await client.Images.InspectImageAsync(previous.Image, ct).ConfigureAwait(false);
            if (image.ID == previous.ImageId) return;
        }
        catch (DockerImageNotFoundException)
        {
        }
        try
        {
            await client.Images.TagImageAsync(previous.ImageId, new ImageTagParameters
            {
                RepositoryName = ImageReference.Repository(previous.Image), Tag = ImageReference.Tag(previous.Image),
            }, ct).ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            throw new UpgradeOpsException("PreviousImageMissing", ErrorKind.ObjectNotFound, previous.ImageId,
                $"The image {previous.Image} ({previous.ImageId}) that {previous.Name} ran before is no longer on this engine: {ex.Message} Pull it again, then run Invoke-Rollback.", ex);
        }
    }

    private static Task RemoveOneOffsAsync(ComposeDeployment target, CancellationToken ct) =>
        target.Engine.RemoveOneOffsNamedAsync(new[] { $"{target.Deployment.Name}-upgradeops-migrate-", ComposeRestore.VolumeHelperPrefix(target.Deployment.Name) }, ct);

    /// <summary>Without an upgrade journal: the backup says the version and the image ids to return to.</summary>
    private static UpgradeJournal JournalFromBackup(ComposeDeployment target, string backupPath)
    {
        var backup = BackupCatalog.Open(backupPath);
        var journal = new UpgradeJournal
        {
            Result = new UpgradeResult
            {
                Platform = DeploymentPlatform.Compose,
                Id = $"backup-{backup.Id}", DeploymentName = target.Deployment.Name, From = backup.Version ?? "", To = target.Deployment.Version ?? "",
                BackupPath = backup.Path, BackupId = backup.Id,
            },
        };
        journal.PreviousContainers.AddRange(ComposeRollbackPlan.PreviousFromBackup(target.Profile, target.Containers, backup));
        return journal;
    }
}

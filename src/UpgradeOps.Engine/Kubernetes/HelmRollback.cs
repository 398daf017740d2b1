using UpgradeOps.Backups;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Rolls a Helm release back: "helm rollback" to the revision its upgrade's journal recorded, plus the restore of that
/// upgrade's backup — the part helm alone never does.
/// </summary>
public static class HelmRollback
{
    /// <summary>What a rollback would do, for -WhatIf: the upgrade's journal, the revision to return to, the backup whose data returns (or null).</summary>
    public static (UpgradeJournal Journal, int Revision, string? BackupPath) PlanRollback(HelmRollbackRequest request)
    {
        var deployment = request.Deployment;
        var (ns, releaseName) = HelmDeployment.Locate(deployment);
        var journals = UpgradeJournal.List(HelmStateFolder.Anchor(ns, releaseName)).Where(j => j.Result.Operation == "Upgrade").ToList();
        var upgradeId = request.UpgradeId;
        var journal = (upgradeId is null ? journals.FirstOrDefault(j => j.Result.Status != UpgradeStatus.RolledBack) : journals.FirstOrDefault(j => j.Result.Id == upgradeId))
            ?? throw new UpgradeOpsException(upgradeId is null ? "NothingToRollBack" : "UpgradeNotFound", ErrorKind.ObjectNotFound, upgradeId ?? deployment.Location,
                $"No upgrade of '{deployment.Name}' is recorded to roll back{(upgradeId is null ? "" : $" with id {upgradeId}")}. Get-UpgradeHistory lists them; 'helm rollback' returns to any revision.");
        var revision = journal.PreviousRevision
            ?? throw new UpgradeOpsException("JournalIncomplete", ErrorKind.InvalidData, journal.Path, "The upgrade's journal records no revision to return to. Use 'helm history' and 'helm rollback'.");
        return (journal, revision, request.BackupPath ?? journal.Result.BackupPath);
    }

    /// <summary>
    /// Undoes an upgrade of a Helm release: the backup recorded in its journal (or given) is verified first; then the
    /// application workloads scale to 0, the databases are restored from the backup, "helm rollback --wait" returns the
    /// release to the revision recorded before the upgrade, and the workloads come back and must be ready. An upgrade that
    /// ran with -SkipBackup is rolled back with helm only, and the result says the data was not restored.
    /// </summary>
    public static async Task<UpgradeResult> RollBackAsync(HelmRollbackRequest request, EngineContext context)
    {
        var (ns, releaseName) = HelmDeployment.Locate(request.Deployment);
        var (journal, revision, backupPath) = PlanRollback(request);
        using var upgradeLock = UpgradeLock.Acquire(HelmStateFolder.Anchor(ns, releaseName), journal.Result.Id + "-rollback", force: true);
        return await HelmRollback.RollBackJournalAsync(journal, revision, backupPath, request, context).ConfigureAwait(false);
    }

    /// <summary>
    /// Rolls the journal's upgrade back to <paramref name="revision"/>, restoring <paramref name="backupPath"/>'s data when
    /// there is one; the caller holds the release's lock (Invoke-Rollback, or Invoke-Upgrade -RollbackOnFailure after a failed hop).
    /// </summary>
    internal static async Task<UpgradeResult> RollBackJournalAsync(UpgradeJournal journal, int revision, string? backupPath, HelmRollbackRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmUpgrade));
        var deployment = request.Deployment;
        var (ns, releaseName) = HelmDeployment.Locate(deployment);
        var helm = HelmCli.Locate(request.HelmPath, deployment.Kubeconfig, deployment.KubeContext);
        var profile = ProfileLoader.Load(deployment.Profile);
        using var source = HelmDeployment.Open(deployment);
        var client = source.Client;
        using var activity = context.StartActivity($"Rolling back {ns}/{releaseName} to revision {revision}");
        var started = DateTimeOffset.UtcNow;
        var result = new UpgradeResult
        {
            Platform = DeploymentPlatform.Kubernetes,
            Id = $"{journal.Result.Id}-rollback", DeploymentName = deployment.Name, From = journal.Result.To, To = journal.Result.From,
            Strategy = UpgradeStrategy.Helm, Operation = "Rollback", Started = started, Deployment = deployment, Location = deployment.Location,
        };

        // The backup is proven whole (dumps hashed too) before anything changes: a damaged one leaves the release as it is.
        DeploymentBackup? backup = null;
        if (backupPath is not null)
        {
            activity.Report("Verifying the backup", 5);
            var verification = await BackupVerifier.VerifyAsync(new BackupVerificationRequest
            {
                BackupPath = backupPath, Passphrase = request.Passphrase, Deployment = deployment,
            }, context).ConfigureAwait(false);
            if (verification.Checks.Any(c => c.ErrorId == "BackupWrongKey") || (request.Passphrase is null && verification.Backup?.Encrypted == true))
                throw new UpgradeOpsException("BackupWrongKey", ErrorKind.SecurityError, backupPath,
                    "The backup is encrypted and the right -EncryptionKey was not given: nothing was rolled back.");
            if (!verification.Passed)
                throw new UpgradeOpsException("BackupNotVerified", ErrorKind.InvalidData, backupPath,
                    $"The backup fails verification ({verification.FailureErrorId}: {verification.Checks.First(c => c.Status == CheckStatus.Failed).Detail}). " +
                    "Nothing was rolled back. Give -Backup with another backup taken at " + journal.Result.From + ".");
            backup = verification.Backup!;
            result.BackupId = backup.Id;
            result.BackupPath = backup.Path;
        }

        // The cluster is asked only after the local inputs (helm, the profile, the backup) are known good.
        HelmRelease? current;
        try
        {
            current = await HelmReleaseReader.GetLatestAsync(client, ns, releaseName, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw KubernetesDiscovery.Unreachable(client, ex);
        }
        var redactor = new SecretRedactor(current?.FlatValues() ?? Array.Empty<KeyValuePair<string, string>>());

        // Each workload's way back is shown and recorded as an upgrade's rollout is (helm rollback --wait alone says nothing until it ends).
        await using var watch = await RolloutWatch.StartAsync(client, ns, releaseName, profile, redactor, context, activity, log)
            .ConfigureAwait(false);

        async Task HelmRollbackAsync()
        {
            var step = new UpgradeStepResult { Name = "helm rollback", Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
            result.Steps.Add(step);
            activity.Report($"helm rollback {releaseName} {revision}", 60);
            var run = await helm.RunAsync(new[] { "rollback", releaseName, revision.ToString(), "-n", ns, "--wait", "--timeout", $"{(int)request.HealthTimeout.TotalSeconds}s" },
                redactor, ct).ConfigureAwait(false);
            step.Duration = run.Duration;
            if (run.ExitCode != 0)
            {
                step.Status = StepStatus.Failed;
                throw new UpgradeOpsException("HelmRollbackFailed", ErrorKind.InvalidOperation, deployment.Location,
                    $"helm rollback {releaseName} {revision} failed: {run.Error} " +
                    (backup is null ? "" : "The data was already restored from the backup. ") + $"Look at 'helm history {releaseName} -n {ns}'.");
            }
            step.Status = StepStatus.Succeeded;
            step.Detail = $"back on revision {revision}'s chart and values";
        }

        if (backup is null)
        {
            await HelmRollbackAsync().ConfigureAwait(false);
            result.Steps[^1].Detail += " (data not restored: the upgrade ran with -SkipBackup; give -Backup to restore data too)";
            log.LogWarning("The data of {Release} was not restored: upgrade {Id} recorded no backup. Give Invoke-Rollback -Backup to restore one.", releaseName, journal.Result.Id);
        }
        else
        {
            var restore = new UpgradeStepResult { Name = "restore data", Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
            result.Steps.Add(restore);
            try
            {
                // The application is down while its databases return to the backup and the release to its revision: no old
                // or new version ever runs on the other's data.
                await HelmRestore.RestoreDataAsync(source, backup, request.Passphrase, request.HealthTimeout, context, activity, HelmRollbackAsync).ConfigureAwait(false);
                restore.Status = StepStatus.Succeeded;
                restore.Detail = $"databases restored from backup {backup.Id}; workloads ready";
            }
            catch
            {
                restore.Status = StepStatus.Failed;
                throw;
            }
            finally
            {
                restore.Duration = DateTimeOffset.UtcNow - restore.Started!.Value;
            }
        }
        var rollout = new UpgradeStepResult { Name = "rollout", Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
        result.Steps.Add(rollout);
        try
        {
            await watch.WaitRolledOutAsync(DateTimeOffset.UtcNow + request.HealthTimeout, request.HealthTimeout, null, ct).ConfigureAwait(false);
            rollout.Status = StepStatus.Succeeded;
            rollout.Detail = watch.Summary();
        }
        catch
        {
            rollout.Status = StepStatus.Failed;
            throw;
        }
        finally
        {
            rollout.Duration = DateTimeOffset.UtcNow - rollout.Started!.Value;
            result.Rollout = watch.Records();
        }
        result.Status = UpgradeStatus.Succeeded;
        result.Duration = DateTimeOffset.UtcNow - started;
        journal.Result.Status = UpgradeStatus.RolledBack;
        journal.Result.RolledBackBy = result.Id;
        journal.Save();
        activity.Complete();
        return result;
    }
}

/// <summary>What Invoke-Rollback asks of a Helm release.</summary>
public sealed class HelmRollbackRequest
{
    public required Deployment Deployment { get; init; }
    /// <summary>The upgrade to undo; null: the latest one not yet rolled back.</summary>
    public string? UpgradeId { get; init; }
    /// <summary>The backup whose data to restore; null: the one the upgrade's journal recorded.</summary>
    public string? BackupPath { get; init; }
    public byte[]? Passphrase { get; init; }
    public string? HelmPath { get; init; }
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromMinutes(5);
}


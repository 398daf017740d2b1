using System.Diagnostics;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Upgrades;
using UpgradeOps.Validation;
using UpgradeOps.Versioning;

using UpgradeOps.Planning;

using UpgradeOps.Kubernetes;

using UpgradeOps.Platforms;

using UpgradeOps.Reporting;

namespace UpgradeOps.Rehearsals;

/// <summary>
/// The guide's last advice as one operation: a disposable copy of the deployment restored from the production backup,
/// upgraded along the same path with the same settings Invoke-Upgrade uses, validated as Test-PostUpgrade would, timed,
/// and removed. Production is only read (its containers inspected, its backup opened).
/// </summary>
public static class RehearsalService
{
    public static async Task<RehearsalPlan> PlanAsync(RehearsalRequest request, EngineContext context)
    {
        var backup = await OpenBackupAsync(request, verify: false, context).ConfigureAwait(false);
        return await DeploymentPlatforms.Of(backup.Platform).PlanRehearsalAsync(request, backup, context).ConfigureAwait(false);
    }

    public static async Task<RehearsalReport> RunAsync(RehearsalRequest request, EngineContext context)
    {
        var backup = await OpenBackupAsync(request, verify: true, context).ConfigureAwait(false);
        return await DeploymentPlatforms.Of(backup.Platform).RehearseAsync(request, backup, context).ConfigureAwait(false);
    }

    /// <summary>
    /// The backup, verified when it matters (a failing one is refused unless Force), with a version to start the copy at and
    /// a database dump to restore into it: what every rehearsal needs, whatever the platform.
    /// </summary>
    internal static async Task<DeploymentBackup> OpenBackupAsync(RehearsalRequest request, bool verify, EngineContext context)
    {
        DeploymentBackup backup;
        if (verify)
        {
            var verification = await BackupVerifier.VerifyAsync(new BackupVerificationRequest { BackupPath = request.BackupPath, Passphrase = request.Passphrase }, context)
                .ConfigureAwait(false);
            BackupVerifier.RefuseUntrusted(verification, request.BackupPath, "Nothing was created.");
            if (!verification.Passed && !request.Force)
            {
                var failed = verification.Checks.First(c => c.Status == CheckStatus.Failed);
                throw new UpgradeOpsException(failed.ErrorId ?? "BackupVerificationFailed", ErrorKind.InvalidData, request.BackupPath,
                    $"The backup failed verification ({failed.Name}: {failed.Detail}): a rehearsal from it proves nothing. Take a new backup, or -Force.");
            }
            backup = verification.Backup ?? BackupCatalog.Open(request.BackupPath, request.Passphrase);
        }
        else
        {
            backup = BackupCatalog.Open(request.BackupPath, request.Passphrase);
        }
        if (backup.Version is null)
            throw new UpgradeOpsException("BackupVersionUnknown", ErrorKind.InvalidData, backup.Id,
                "The backup does not record the version it was taken at, so the copy cannot start at it. Take a new backup with New-DeploymentBackup.");
        if (!backup.Components.Any(c => c.Kind == BackupComponentKind.PostgresDump))
            throw new UpgradeOpsException("RehearsalBackupWithoutData", ErrorKind.InvalidData, backup.Id,
                "The backup holds no database dump: a copy restored from it would be empty. Take a backup with the database (New-DeploymentBackup without -Component).");
        return backup;
    }

    /// <summary>
    /// The part every rehearsal ends with, whatever the platform: the upgrade's hops and outcome in the report, the upgraded copy
    /// validated as Test-PostUpgrade would (when the upgrade succeeded), its logs read, the status and the window to plan.
    /// </summary>
    internal static async Task ConcludeAsync(RehearsalReport report, UpgradeResult upgrade, Profiles.ProductProfile profile, Func<Task<Deployment>> describeCopy,
        DateTimeOffset upgradeStarted, EngineContext context, ProgressActivity activity)
    {
        report.Upgrade = upgrade;
        report.Downtime = upgrade.Downtime;
        report.Hops = UpgradeHops.Of(upgrade);
        if (upgrade.Status != UpgradeStatus.Succeeded)
            report.Errors.Add($"The upgrade of the copy {upgrade.Status} at {upgrade.Steps.LastOrDefault(s => s.Status == StepStatus.Failed)?.Name ?? "a step"}: " +
                              $"{upgrade.Error} ({upgrade.ErrorId}). The real upgrade would fail the same way: fix this first.");

        if (upgrade.Status == UpgradeStatus.Succeeded)
        {
            activity.Report("Validating the upgraded copy", 80);
            report.Validation = await PostUpgradeValidator.ValidateAsync(new ValidationRequest
            {
                Deployment = await describeCopy().ConfigureAwait(false), ExpectedVersion = report.To, Baseline = upgrade.Baseline, Since = upgradeStarted,
            }, context).ConfigureAwait(false);
            foreach (var check in report.Validation.Checks.Where(c => c.Status == CheckStatus.Failed))
                report.Errors.Add($"Validation {check.Name} failed on the upgraded copy: {check.Detail}");
            foreach (var check in report.Validation.Checks.Where(c => c.Status == CheckStatus.Warning))
                report.Warnings.Add($"Validation {check.Name}: {check.Detail}");
        }

        activity.Report("Reading the copy's logs", 90);
        await ReadLogsAsync(await describeCopy().ConfigureAwait(false), report.Started, report, context).ConfigureAwait(false);
        if (report.LogErrors.Count > 0)
            report.Warnings.Add($"The copy logged {report.LogErrors.Count} error line(s) during the rehearsal (LogErrors): read them before the real upgrade.");
        report.Status = report.Errors.Count == 0 ? RehearsalStatus.Passed : RehearsalStatus.Failed;
        Estimate(report, profile, upgrade, report.Validation);
    }

    /// <summary>The window to plan: the backup production needs first, the upgrade as measured, validation; times the profile's safety factor.</summary>
    internal static void Estimate(RehearsalReport report, Profiles.ProductProfile profile, UpgradeResult upgrade, ValidationReport? validation)
    {
        var measured = report.Backup + upgrade.Duration + (validation?.Duration ?? TimeSpan.Zero);
        var factor = profile.Rehearsal.WindowSafetyFactor <= 0 ? 1.5 : profile.Rehearsal.WindowSafetyFactor;
        report.EstimatedWindow = TimeSpan.FromMinutes(Math.Ceiling(measured.TotalMinutes * factor));
        report.EstimateBasis = $"backup {report.Backup.TotalSeconds:N1} s (its manifest) + upgrade {upgrade.Duration.TotalSeconds:N1} s + validation " +
                               $"{(validation?.Duration ?? TimeSpan.Zero).TotalSeconds:N1} s, measured on a copy with production's data, × {factor:0.##}, rounded up to whole minutes";
    }

    /// <summary>Error and warning lines the copy's containers logged during the rehearsal, secrets masked (through the validation target's logs).</summary>
    internal static async Task ReadLogsAsync(Deployment copy, DateTimeOffset since, RehearsalReport report, EngineContext context)
    {
        using var target = await DeploymentPlatforms.Open(copy).OpenValidationTargetAsync(context).ConfigureAwait(false);
        var scan = new LogScan(target.Profile.Validation);
        var (_, logs) = await target.LogsSinceAsync(since, context.CancellationToken).ConfigureAwait(false);
        foreach (var (instance, text) in logs)
        {
            var (errors, warnings) = scan.Scan(text);
            report.LogErrors.AddRange(errors.Select(line => $"{instance}: {target.Redactor.Redact(line)}"));
            report.LogWarnings.AddRange(warnings.Select(line => $"{instance}: {target.Redactor.Redact(line)}"));
        }
    }
}

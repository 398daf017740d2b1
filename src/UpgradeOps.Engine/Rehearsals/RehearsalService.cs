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

namespace UpgradeOps.Rehearsals;

public sealed class RehearsalRequest
{
    /// <summary>The production backup the copy is restored from.</summary>
    public required string BackupPath { get; init; }
    public required string To { get; init; }
    /// <summary>The production deployment; found again from the backup's compose file and profile when null.</summary>
    public Deployment? Deployment { get; init; }
    public IReadOnlyList<string> AvailableVersions { get; init; } = Array.Empty<string>();
    public UpgradeStrategy Strategy { get; init; } = UpgradeStrategy.Standard;
    public IReadOnlyDictionary<string, string>? ConfigurationValues { get; init; }
    public byte[]? Passphrase { get; init; }
    public TimeSpan MigrationTimeout { get; init; } = TimeSpan.FromMinutes(30);
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>Leave the copy running for a look around; the report says how to remove it.</summary>
    public bool Keep { get; init; }
    /// <summary>Rehearse with a backup that fails verification.</summary>
    public bool Force { get; init; }
    /// <summary>Where copies' folders go; the user's data folder by default.</summary>
    public string? Root { get; init; }
    /// <summary>The rehearsal's id (names the copy); one per request, so -WhatIf names what the run creates.</summary>
    public string Id { get; init; } = RehearsalService.NewId();
    /// <summary>A Helm release's copy: the chart, helm and the copy's own values. Null for a Compose backup.</summary>
    public HelmRehearsalOptions? Helm { get; init; }
}

/// <summary>What a rehearsal will do, for -WhatIf and the confirmation prompt.</summary>
/// <param name="Creates">What the run creates and removes, when it is said differently from a Compose copy (a Helm release's namespace and commands).</param>
public sealed record RehearsalPlan(string DeploymentName, string From, string To, string Route, string BackupId, string CopyRoot, string? Creates = null);

/// <summary>
/// The guide's last advice as one operation: a disposable copy of the deployment restored from the production backup,
/// upgraded along the same path with the same settings Invoke-Upgrade uses, validated as Test-PostUpgrade would, timed,
/// and removed. Production is only read (its containers inspected, its backup opened).
/// </summary>
public static class RehearsalService
{
    public static string NewId() => $"{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";

    public static async Task<RehearsalPlan> PlanAsync(RehearsalRequest request, EngineContext context)
    {
        var opened = await OpenBackupAsync(request, verify: false, context).ConfigureAwait(false);
        if (opened.Platform == DeploymentPlatform.Kubernetes) return await HelmRehearsalService.PlanAsync(request, opened, context).ConfigureAwait(false);
        var (backup, production, path) = await PrepareAsync(request, opened, context).ConfigureAwait(false);
        return new RehearsalPlan(production.Name, path.From, path.To, path.Route, backup.Id, request.Root ?? RehearsalCopy.DefaultRoot);
    }

    public static async Task<RehearsalReport> RunAsync(RehearsalRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(RehearsalService));
        var clock = Stopwatch.StartNew();
        var opened = await OpenBackupAsync(request, verify: true, context).ConfigureAwait(false);
        if (opened.Platform == DeploymentPlatform.Kubernetes) return await HelmRehearsalService.RunAsync(request, opened, context).ConfigureAwait(false);
        var (backup, production, path) = await PrepareAsync(request, opened, context).ConfigureAwait(false);
        var root = request.Root ?? RehearsalCopy.DefaultRoot;
        var id = request.Id;
        using var activity = context.StartActivity($"Rehearsing {production.Name} {path.Route} on a copy");

        using var source = await ComposeBackupSource.OpenAsync(production, ct).ConfigureAwait(false);
        var profile = source.Profile;
        var engine = source.Engine;
        activity.Report("Removing copies left by rehearsals that did not finish", 2);
        var abandoned = await RehearsalCopy.RemoveAbandonedAsync(engine, root, log, ct).ConfigureAwait(false);

        var report = new RehearsalReport
        {
            Id = id, DeploymentName = production.Name, CopyName = "", From = path.From, To = path.To, Route = path.Route, Strategy = request.Strategy,
            BackupId = backup.Id, BackupPath = backup.Path, Started = DateTimeOffset.UtcNow, Backup = backup.Duration,
        };
        if (abandoned.Count > 0) report.Warnings.Add($"Removed {abandoned.Count} copy(ies) left by rehearsals that did not finish: {string.Join(", ", abandoned)}.");

        RehearsalCopy? copy = null;
        try
        {
            activity.Report("Creating the copy: folder, volumes and containers", 5);
            var restoreClock = Stopwatch.StartNew();
            copy = await RehearsalCopy.CreateAsync(engine, source, backup, backup.Path, request.Passphrase, root, id, log, ct).ConfigureAwait(false);
            report.CopyName = copy.ProjectName;
            report.CopyLocation = copy.ComposeFile;
            await StartAndRestoreAsync(copy, production, backup, request, context, activity, log).ConfigureAwait(false);
            report.Restore = restoreClock.Elapsed;
            log.LogInformation("Copy {Copy} serves {Version} with the backup's data after {Seconds:N1} s", copy.ProjectName, backup.Version, report.Restore.TotalSeconds);

            activity.Report($"Upgrading the copy {path.Route}", 40);
            var copyDeployment = await DescribeCopyAsync(copy, production, context).ConfigureAwait(false);
            var upgradeStarted = DateTimeOffset.UtcNow;
            var upgrade = await ComposeUpgradeService.UpgradeAsync(new UpgradeRequest
            {
                Deployment = copyDeployment, Path = path, SkipBackup = true, Strategy = request.Strategy, MigrationTimeout = request.MigrationTimeout,
                HealthTimeout = request.HealthTimeout, ConfigurationValues = request.ConfigurationValues, Force = true,
                ServePreviousOnFailure = false,
            }, context).ConfigureAwait(false);
            await ConcludeAsync(report, upgrade, profile, () => DescribeCopyAsync(copy, production, context), upgradeStarted, context, activity).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            report.Stopped(null);
            throw;
        }
        catch (Exception ex) when (ex is UpgradeOpsException or DockerApiException or IOException or HttpRequestException)
        {
            // The copy's .env is the backup's; production's may hold secrets set since.
            report.Stopped(ex, new SecretRedactor(new[] { source.File.EnvFilePath, copy is null ? null : Path.Combine(copy.Folder, ".env") }
                .Where(File.Exists).SelectMany(f => EnvFile.Read(f!)).ToList()).Redact);
        }
        finally
        {
            report.Duration = clock.Elapsed;
            if (copy is not null)
            {
                if (request.Keep)
                {
                    report.Kept = true;
                    report.Warnings.Add($"The copy {copy.ProjectName} was kept (-Keep) at {copy.Folder}; it serves on ports {RehearsalLabels.Format(copy.PortMap)}. " +
                                        $"Remove it with: docker rm -f $(docker ps -aq --filter label={RehearsalLabels.Id}={copy.Id}); " +
                                        $"docker volume rm $(docker volume ls -q --filter label={RehearsalLabels.Id}={copy.Id}); rm -r '{copy.Folder}'");
                }
                else
                {
                    activity.Report("Removing the copy", 97);
                    var left = await copy.RemoveAsync(engine, log).ConfigureAwait(false);
                    if (left.Count > 0) report.Warnings.Add("Parts of the copy could not be removed: " + string.Join("; ", left));
                    report.CopyLocation = null;
                }
            }
        }
        activity.Complete();
        return report;
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
        if (backup.Platform == DeploymentPlatform.Compose && request.Helm is not null)
            throw new UpgradeOpsException("HelmParameterOnCompose", ErrorKind.InvalidArgument, backup.Id,
                $"Backup {backup.Id} is of a Compose deployment: -Chart, -ChartVersion, -HelmPath, -ValuesFile and -CopyValue are for a Helm release's backup. Run again without them.");
        return backup;
    }

    /// <summary>The production deployment as it is now, and the path from the backup's version.</summary>
    private static async Task<(DeploymentBackup Backup, Deployment Production, UpgradePath Path)> PrepareAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context)
    {
        var production = request.Deployment is { } given
            ? await ComposeDiscovery.DiscoverAsync(ComposeDiscoveryRequest.Again(given), context).ConfigureAwait(false)
            : backup.Location is { } location
                ? await ComposeDiscovery.DiscoverAsync(new ComposeDiscoveryRequest { ComposeFile = location, Profile = backup.Profile ?? "infrahub" }, context).ConfigureAwait(false)
                : throw new UpgradeOpsException("DeploymentRequired", ErrorKind.InvalidArgument, backup.Id,
                    "The backup does not say where its deployment's compose file is: give the deployment with -Deployment.");
        if (production.Name != backup.DeploymentName)
            throw new UpgradeOpsException("BackupOfAnotherDeployment", ErrorKind.InvalidArgument, backup.Id,
                $"The backup is of '{backup.DeploymentName}', the deployment given is '{production.Name}'. Give that deployment's backup.");
        if (production.IsRehearsalCopy)
            throw new UpgradeOpsException("RehearsalOfACopy", ErrorKind.InvalidArgument, production.Name,
                $"'{production.Name}' is itself a rehearsal copy. Rehearse from the production deployment's backup.");

        var path = UpgradePathService.Test(new UpgradePathRequest
        {
            From = backup.Version ?? throw new UpgradeOpsException("BackupVersionUnknown", ErrorKind.InvalidData, backup.Id,
                $"Backup {backup.Id} does not record the version it was taken at, so a rehearsal cannot know where to start. Take a new backup with New-DeploymentBackup."),
            To = request.To, Profile = production.Profile, AvailableVersions = request.AvailableVersions, Deployment = production,
        });
        if (!path.IsSupported)
            throw new UpgradeOpsException("UpgradePathNotSupported", ErrorKind.InvalidOperation, path, $"{path.Reason} Nothing was created.");
        return (backup, production, path);
    }

    /// <summary>
    /// Data stores first; the backup's databases and volumes restored into them; then the application, until every
    /// container is healthy. The copy's own compose file and .env stay as written (the backup's configuration files are
    /// not restored: they would overwrite production's).
    /// </summary>
    private static async Task StartAndRestoreAsync(RehearsalCopy copy, Deployment production, DeploymentBackup backup, RehearsalRequest request, EngineContext context,
        ProgressActivity activity, ILogger log)
    {
        var ct = context.CancellationToken;
        var deployment = await DescribeCopyAsync(copy, production, context).ConfigureAwait(false);
        using var target = await ComposeBackupSource.OpenAsync(deployment, ct).ConfigureAwait(false);
        var client = target.Engine.Client;
        var dataServices = target.Profile.DataStores.Where(s => s.Service is not null).Select(s => target.ComposeName(s.Service!))
            .Concat(target.Profile.Services.Where(s => s.Role is ServiceRole.Database or ServiceRole.Cache or ServiceRole.Queue)
                .Select(s => s.ComposeService ?? s.Name))
            .ToHashSet();
        var first = target.Containers.Where(c => dataServices.Contains(c.Labels[ComposeDiscovery.ServiceLabel])).ToList();
        activity.Report($"Starting the copy's data stores: {string.Join(", ", first.Select(c => c.Names.First().TrimStart('/')))}", 10);
        foreach (var container in first) await client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
        await ComposeHealth.WaitHealthyAsync(target.Engine, copy.ProjectName, request.HealthTimeout, ct, first.Select(c => c.ID).ToList()).ConfigureAwait(false);

        await target.RefreshAsync(ct).ConfigureAwait(false);
        foreach (var component in backup.Components.Where(c => c.Kind is BackupComponentKind.PostgresDump or BackupComponentKind.Volume))
        {
            activity.Report($"Restoring {component.Name} into the copy", 20);
            log.LogDebug("Restoring {Component} into copy {Copy}", component.Name, copy.ProjectName);
            await ComposeRestoreService.RestoreComponentAsync(target, backup.Path, component, request.Passphrase, ct).ConfigureAwait(false);
        }

        var rest = target.Containers.Where(c => !dataServices.Contains(c.Labels[ComposeDiscovery.ServiceLabel])).ToList();
        activity.Report("Starting the copy's application", 30);
        foreach (var container in rest) await client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
        await ComposeHealth.WaitHealthyAsync(target.Engine, copy.ProjectName, request.HealthTimeout, ct).ConfigureAwait(false);
    }

    private static Task<Deployment> DescribeCopyAsync(RehearsalCopy copy, Deployment production, EngineContext context) =>
        ComposeDiscovery.DiscoverAsync(new ComposeDiscoveryRequest { ComposeFile = copy.ComposeFile, Profile = production.Profile, DockerHost = production.Endpoint }, context);

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
        using var target = await ValidationTarget.OpenAsync(copy, context).ConfigureAwait(false);
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

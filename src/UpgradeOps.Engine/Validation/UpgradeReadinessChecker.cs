using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Rehearsals;
using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;

using UpgradeOps.Planning;

using UpgradeOps.Platforms;

namespace UpgradeOps.Validation;

/// <summary>What Test-UpgradeReadiness asks.</summary>
public sealed class ReadinessRequest
{
    public required Deployment Deployment { get; init; }
    public required string To { get; init; }
    /// <summary>The profile, resolved to a name or a file path.</summary>
    public required string Profile { get; init; }
    public IReadOnlyList<string> AvailableVersions { get; init; } = Array.Empty<string>();
    public ReleaseNoteDocument? ReleaseNotes { get; init; }
    public bool AcknowledgeBreakingChange { get; init; }
    /// <summary>The backup the upgrade will rely on; else the newest one of the deployment in BackupPath.</summary>
    public DeploymentBackup? Backup { get; init; }
    public string? BackupPath { get; init; }
    public TimeSpan MaximumBackupAge { get; init; } = TimeSpan.FromHours(24);
    public DateTimeOffset? WindowStart { get; init; }
    public DateTimeOffset? WindowEnd { get; init; }
    /// <summary>The rehearsal of this upgrade (Invoke-UpgradeRehearsal): the "tested in non-production" item, and measured timings for the path.</summary>
    public RehearsalReport? Rehearsal { get; init; }
    public TimeSpan MaximumRehearsalAge { get; init; } = RehearsalCoverage.DefaultMaximumAge;
    /// <summary>Overrides the API endpoint found from the profile (e.g. a port-forward to a Helm release's API), for BackgroundTasks.</summary>
    public string? ApiEndpoint { get; init; }
}

/// <summary>
/// The pre-upgrade checklist as objects: release notes reviewed, a recent verified backup, a supported path, a
/// maintenance window long enough for the estimate, disk space, a healthy deployment, configuration the target
/// needs, no background tasks running, a rehearsal done. The same checks run on a Compose deployment and a Helm release;
/// what differs (the Docker root, .env or the release's values) comes from its <see cref="IReadinessTarget"/>.
/// </summary>
public static class UpgradeReadinessChecker
{
    public static async Task<ReadinessReport> CheckAsync(ReadinessRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        using var target = await DeploymentPlatforms.Open(request.Deployment).OpenReadinessTargetAsync(context).ConfigureAwait(false);
        var deployment = target.Deployment;
        var report = new ReadinessReport { DeploymentName = deployment.Name, From = deployment.Version, To = request.To };
        using var activity = context.StartActivity($"Checking readiness of {deployment.Name} for {request.To}");

        // Path and release notes.
        var pathCheck = CheckTimer.Start("UpgradePath");
        UpgradePath? path = null;
        try
        {
            path = UpgradePathService.Test(new UpgradePathRequest
            {
                From = deployment.Version ?? deployment.ConfiguredVersion ?? "0.0.0", To = request.To, Profile = request.Profile,
                AvailableVersions = request.AvailableVersions, ReleaseNotes = request.ReleaseNotes, Deployment = deployment,
                DatabaseSizeBytes = deployment.DatabaseSizeBytes, Rehearsal = request.Rehearsal,
            }, context);
            report.Path = path;
            report.Checks.Add(path.IsSupported
                ? pathCheck.Pass(path.MeasuredWindow is { } window
                    ? $"{path.Route}, a window of {Math.Ceiling(window.TotalMinutes)} min measured by rehearsal {path.RehearsalId}"
                    : $"{path.Route}, estimated {path.EstimatedDowntime} of downtime")
                : pathCheck.Fail("UpgradePathNotReady", path.Reason, "Follow the route Test-UpgradePath gives; to go back to an older version restore its backup."));
        }
        catch (UpgradeOpsException ex)
        {
            report.Checks.Add(pathCheck.Fail(ex.ErrorId, ex.Message, "Check the versions with Test-UpgradePath."));
        }
        report.Checks.Add(ReleaseNotesCheck(request, path));

        activity.Report("Backup", 30);
        report.Checks.Add(await BackupCheckAsync(request, deployment, target.DumpReader, context).ConfigureAwait(false));
        report.Checks.Add(WindowCheck(request, path));
        report.Checks.Add(await DiskSpaceCheckAsync(request, deployment, target, ct).ConfigureAwait(false));
        report.Checks.Add(HealthCheck(deployment, target.HealthProblem(deployment)));
        var needs = target.ConfigurationNeeds(request.To);
        report.Checks.Add(ConfigurationCheck(needs, request.To, target.ConfigurationRemedy(needs.Where(n => n.State == SettingState.Missing).ToList(), request.To)));
        activity.Report("Background tasks", 80);
        report.Checks.Add(await BackgroundTasksCheckAsync(target, request.ApiEndpoint, ct).ConfigureAwait(false));
        report.Checks.Add(RehearsalCoverage.Check(request.Rehearsal, deployment.Version, request.To, DateTimeOffset.UtcNow, request.MaximumRehearsalAge));
        activity.Complete();
        return report;
    }

    private static CheckResult ReleaseNotesCheck(ReadinessRequest request, UpgradePath? path)
    {
        var check = CheckTimer.Start("ReleaseNotes");
        if (request.ReleaseNotes is null)
            return check.Finish(CheckStatus.Warning, "No release notes were given, so nothing was reviewed here.",
                "Read them: Get-UpgradeReleaseNote -Path CHANGELOG.md -From <current> -To <target>, and give -ReleaseNotePath.");
        var breaking = (path?.ReleaseNotes ?? Array.Empty<ReleaseNote>()).Where(n => n.Category == ReleaseNoteCategory.BreakingChange).ToList();
        if (breaking.Count == 0)
            return check.Finish(CheckStatus.Passed, $"{path?.ReleaseNotes.Count ?? 0} notes between the versions, no breaking change");
        var titles = string.Join("; ", breaking.Take(5).Select(n => $"{n.Version}: {n.Title}")) + (breaking.Count > 5 ? $"; and {breaking.Count - 5} more" : "");
        return request.AcknowledgeBreakingChange
            ? check.Finish(CheckStatus.Passed, $"{breaking.Count} breaking change(s), acknowledged: {titles}")
            : check.Finish(CheckStatus.Failed, $"{breaking.Count} breaking change(s) not acknowledged: {titles}",
                "Read them (Get-UpgradeReleaseNote ... -Category BreakingChange), then run again with -AcknowledgeBreakingChange.", "BreakingChangeNotAcknowledged");
    }

    private static async Task<CheckResult> BackupCheckAsync(ReadinessRequest request, Deployment deployment, Deployment? dumpReader, EngineContext context)
    {
        var check = CheckTimer.Start("Backup");
        var backup = request.Backup;
        if (backup is null && request.BackupPath is not null && Directory.Exists(request.BackupPath))
            backup = BackupCatalog.List(request.BackupPath, deployment.Name, context).FirstOrDefault();
        const string remedy = "Take one: $d | New-DeploymentBackup -Path <folder>, then Test-DeploymentBackup -RestoreTest.";
        if (backup is null)
            return check.Finish(CheckStatus.Failed, request.BackupPath is null ? "No backup was given (-Backup or -BackupPath)." : $"No backup of {deployment.Name} in {request.BackupPath}.",
                remedy, "BackupMissing");
        if (backup.Version != deployment.Version)
            return check.Finish(CheckStatus.Failed, $"The newest backup ({backup.Id}) was taken at {backup.Version}; the deployment runs {deployment.Version}.", remedy, "BackupVersionMismatch");
        BackupVerification verification;
        try
        {
            verification = await BackupVerifier.VerifyAsync(new BackupVerificationRequest
            {
                BackupPath = backup.Path, Deployment = dumpReader,
                DataStores = dumpReader is null ? null : DeploymentPlatforms.Open(dumpReader).OpenDataStoresAsync,
            }, context).ConfigureAwait(false);
        }
        catch (UpgradeOpsException ex) when (ex.ErrorId == "BackupPathNotFound")
        {
            // A backup given by object whose folder is gone is a failed check of the report, not the end of it.
            return check.Finish(CheckStatus.Failed, ex.Message, remedy, ex.ErrorId);
        }
        if (!verification.Passed)
            return check.Finish(CheckStatus.Failed, $"{backup.Id} fails verification: {verification.Checks.First(c => c.Status == CheckStatus.Failed).Detail}",
                remedy, verification.FailureErrorId ?? "BackupVerificationFailed");
        var age = DateTimeOffset.UtcNow - backup.CreatedAt;
        return age > request.MaximumBackupAge
            ? check.Finish(CheckStatus.Warning, $"{backup.Id} is verified but {age.TotalHours:N0} h old: data written since would be lost by a rollback.", remedy)
            : check.Finish(CheckStatus.Passed, $"{backup.Id}, {age.TotalMinutes:N0} min old, verified");
    }

    private static CheckResult WindowCheck(ReadinessRequest request, UpgradePath? path)
    {
        var check = CheckTimer.Start("MaintenanceWindow");
        // A rehearsal of this very path measured the window: plan with that rather than the profile's estimate.
        var estimate = path?.MeasuredWindow is { } measured
            ? new MinuteRange((int)Math.Ceiling(measured.TotalMinutes), (int)Math.Ceiling(measured.TotalMinutes))
            : path?.EstimatedDowntime ?? default;
        if (request.WindowStart is null || request.WindowEnd is null)
            return check.Finish(CheckStatus.Warning, $"No maintenance window was given; the estimate is {estimate}.",
                "Give -Window <start>,<end> to check that it is long enough.");
        var length = request.WindowEnd.Value - request.WindowStart.Value;
        if (request.WindowEnd.Value < DateTimeOffset.Now)
            return check.Finish(CheckStatus.Failed, $"The window ended at {request.WindowEnd.Value:g}.", "Plan a window in the future.", "WindowInThePast");
        if (length.TotalMinutes < estimate.Min)
            return check.Finish(CheckStatus.Failed, $"The window is {length.TotalMinutes:N0} min; the upgrade takes {estimate}.",
                $"Plan at least {estimate.Max} min, or upgrade one hop per window.", "WindowTooShort");
        if (length.TotalMinutes < estimate.Max)
            return check.Finish(CheckStatus.Warning, $"The window is {length.TotalMinutes:N0} min; the upgrade takes {estimate}, a rollback would not fit.",
                $"Plan {estimate.Max} min or more.");
        return check.Finish(CheckStatus.Passed, $"{length.TotalMinutes:N0} min from {request.WindowStart.Value:g}, estimate {estimate}");
    }

    private static async Task<CheckResult> DiskSpaceCheckAsync(ReadinessRequest request, Deployment deployment, IReadinessTarget target, CancellationToken ct)
    {
        var check = CheckTimer.Start("DiskSpace");
        var problems = new List<string>();
        var facts = new List<string>();
        var backupFolder = request.BackupPath ?? (request.Backup is { } b ? Path.GetDirectoryName(b.Path) : null);
        if (backupFolder is not null && Directory.Exists(backupFolder))
        {
            var free = new DriveInfo(Path.GetFullPath(backupFolder)).AvailableFreeSpace;
            var need = deployment.DatabaseSizeBytes ?? 0;
            facts.Add($"{free / 1e9:N1} GB free for backups");
            if (free < need) problems.Add($"the backup folder has {free / 1e9:N1} GB free, the database is {need / 1e9:N1} GB");
        }
        var (imageFact, imageProblem, notApplicable) = await target.ImageSpaceAsync(ct).ConfigureAwait(false);
        if (imageFact is not null) facts.Add(imageFact);
        if (imageProblem is not null) problems.Add(imageProblem);
        return DiskSpaceResult(check, facts, problems, notApplicable, target.DiskSpaceRemedy);
    }

    /// <param name="notApplicable">Why the image store is not checked on this platform (a clause), or null.</param>
    internal static CheckResult DiskSpaceResult(CheckTimer check, IReadOnlyList<string> facts, IReadOnlyList<string> problems, string? notApplicable, string remedy)
    {
        if (facts.Count == 0)
            return check.Finish(CheckStatus.Skipped, notApplicable is null
                ? "Neither the backup folder nor the Docker root is visible from here."
                : $"No backup folder to check (give -BackupPath or -Backup); {notApplicable}.");
        var note = notApplicable is null ? "" : $" ({notApplicable})";
        return problems.Count == 0
            ? check.Finish(CheckStatus.Passed, string.Join(", ", facts) + note)
            : check.Finish(CheckStatus.Failed, string.Join("; ", problems) + note, remedy, "DiskSpaceLow");
    }

    /// <summary>Healthy now: every service (or workload) at its replicas, and on Helm a release that is not left pending-*.</summary>
    internal static CheckResult HealthCheck(Deployment deployment, (string ErrorId, string Detail, string Remedy)? platformProblem = null)
    {
        var health = CheckTimer.Start("DeploymentHealthy");
        if (platformProblem is { } problem) return health.Fail(problem.ErrorId, problem.Detail, problem.Remedy);
        return deployment.Healthy
            ? health.Pass($"{deployment.Services.Count} services healthy")
            : health.Fail("DeploymentHealthyNotReady",
                "Not healthy now: " + string.Join(", ", deployment.Services.Where(s => !s.Healthy).Select(s => $"{s.Name} ({s.Replicas} of {s.ExpectedReplicas} running" +
                    string.Concat(s.Containers.Where(c => !c.IsHealthy).Select(c => $"; {c.Name} {c.State}{(c.Health is { } h ? $"/{h}" : "")}")) + ")")),
                "Bring the deployment back to health before upgrading (Get-UpgradeDiagnostic shows why it is not).");
    }

    internal static CheckResult ConfigurationCheck(IReadOnlyList<SettingNeed> needs, string to, string remedy)
    {
        var check = CheckTimer.Start("Configuration");
        string List(SettingState state) => string.Join("; ", needs.Where(n => n.State == state).Select(n => $"{n.Setting} ({n.Description})"));
        if (needs.Any(n => n.State == SettingState.Missing))
            return check.Finish(CheckStatus.Failed, $"{to} needs: {List(SettingState.Missing)}", remedy, "ConfigurationValueMissing");
        var will = new List<string>();
        if (needs.Any(n => n.State == SettingState.Generated)) will.Add($"the upgrade will generate {List(SettingState.Generated)}");
        if (needs.Any(n => n.State == SettingState.Defaulted)) will.Add($"the upgrade will write the profile's default for {List(SettingState.Defaulted)}");
        if (needs.Any(n => n.State == SettingState.Moved))
            will.Add("the upgrade will move " + string.Join("; ", needs.Where(n => n.State == SettingState.Moved).Select(n => $"{n.From} to {n.Setting}")));
        return check.Pass(will.Count > 0 ? string.Join("; ", will) : $"nothing {to} needs is missing");
    }

    private static async Task<CheckResult> BackgroundTasksCheckAsync(IReadinessTarget target, string? apiEndpoint, CancellationToken ct)
    {
        var check = CheckTimer.Start("BackgroundTasks");
        var validation = target.Profile.Validation;
        if (validation.RunningTasksQuery is null)
            return check.Finish(CheckStatus.Skipped, "The profile declares no query for running tasks (validation.runningTasksQuery).");
        try
        {
            // A Helm release's API is inside the cluster: without -ApiEndpoint it is reached through a port-forward.
            var answer = await target.Api(apiEndpoint).GraphQLAsync(validation.RunningTasksQuery, ct).ConfigureAwait(false);
            if (answer.Errors.Count > 0)
                return check.Finish(CheckStatus.Warning, $"The query failed: {string.Join("; ", answer.Errors)}", "Check the tasks in the product's UI.");
            var running = RunningTasksGate.Count(answer, validation);
            return running == 0
                ? check.Finish(CheckStatus.Passed, "no background task pending or running")
                : check.Finish(CheckStatus.Warning, $"{running} background task(s) pending or running: the upgrade would interrupt them.",
                    "Wait until they finish, or accept that they are retried after the upgrade.");
        }
        catch (HttpRequestException ex)
        {
            return check.Finish(CheckStatus.Warning, $"The API did not answer: {ex.Message}", "Check the tasks in the product's UI.");
        }
        catch (UpgradeOpsException ex) when (target.ApiFailuresAreWarnings)
        {
            // The port-forward could not be opened or used: the item says why, the other items stand.
            return check.Finish(CheckStatus.Warning, $"The API could not be asked: {ex.Message}", "Check the tasks in the product's UI, or give -ApiEndpoint.", ex.ErrorId);
        }
    }
}

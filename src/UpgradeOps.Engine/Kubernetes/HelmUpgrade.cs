using UpgradeOps.Backups;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;
using UpgradeOps.Upgrades;
using UpgradeOps.Versioning;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Upgrades a Helm release one hop: refuses (or, with Force, repairs) a release left pending by a killed helm, runs
/// "helm upgrade --wait" with the version set where the profile says (version.helmValuesKey), watches the rollout, and
/// records the revision to return to and the backup taken before in a journal like Compose's.
/// </summary>
public static class HelmUpgrade
{
    public static async Task<UpgradeResult> UpgradeAsync(HelmUpgradeRequest request, HelmUpgradeOptions options, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmUpgrade));
        var deployment = request.Deployment;
        var (ns, releaseName) = HelmDeployment.Locate(deployment);
        var profile = ProfileLoader.Load(deployment.Profile);
        var helm = HelmCli.Locate(options.HelmPath, deployment.Kubeconfig, deployment.KubeContext);
        using var client = KubernetesDiscovery.Connect(deployment.Kubeconfig, deployment.KubeContext);
        using var activity = context.StartActivity($"Upgrading Helm release {ns}/{releaseName} to {request.To}");

        var revisions = await HelmReleaseReader.ListAsync(client, ns, releaseName, ct).ConfigureAwait(false);
        var latest = revisions.LastOrDefault()
            ?? throw new UpgradeOpsException("HelmReleaseNotFound", ErrorKind.ObjectNotFound, deployment.Location,
                $"No Helm release {deployment.Location}. Check the names with 'helm list -A' and read it again with Get-UpgradeDeployment.");
        // The values migration is planned first: a rule without a value stops the upgrade before anything changes.
        var (configuration, changes) = HelmValuesMigration.PlanConfiguration(deployment, profile, HelmValuesMigration.ValuesBase(revisions), request.From, request.To,
            options, request.ConfigurationValues);
        if (changes.Where(c => c.Action == ConfigurationAction.Missing).ToList() is { Count: > 0 } missing)
            throw ConfigurationRules.MissingValues(missing, request.To, missing[0].File, "the values file");
        var ruleValuesFile = HelmValuesMigration.RuleValuesFile(configuration, changes, options);
        // helm prints values back (NOTES, errors): the release's values, the values files given and the values the rules add are masked in what it says.
        var redactor = Redactor(latest, options, configuration);
        // The revision to return to: the newest one that was deployed (a pending one never finished).
        var deployed = HelmReleaseReader.LastDeployed(revisions);
        if (latest.IsPending && deployed is null) throw NeverDeployed(latest, ns);
        var previous = deployed ?? latest;
        if (latest.IsPending && !request.Force)
            throw new UpgradeOpsException("HelmReleasePending", ErrorKind.ResourceBusy, deployment.Location,
                $"Release {releaseName} is {latest.Status} at revision {latest.Revision}: a helm operation did not finish (a killed client leaves this), " +
                $"and helm refuses to upgrade it. Repair it with 'helm rollback {releaseName} {previous.Revision} -n {ns}' (its last deployed revision), " +
                "or run Invoke-Upgrade -Resume (or Invoke-Upgrade again with -Force), which does that first.");
        var anchor = HelmStateFolder.Anchor(ns, releaseName);
        var started = DateTimeOffset.UtcNow;
        var id = $"{releaseName}-{started:yyyyMMdd-HHmmss}-upgrade-{request.From}-to-{request.To}";
        using var upgradeLock = UpgradeLock.Acquire(anchor, id, request.Force);
        var journal = new UpgradeJournal
        {
            Path = Path.Combine(UpgradeJournal.JournalFolder(anchor), id + ".json"),
            Profile = deployment.Profile,
            Hops = new List<string> { $"{request.From}→{request.To}" },
            Target = request.Target ?? request.To,
            Result = new UpgradeResult
            {
                Platform = DeploymentPlatform.Kubernetes,
                Id = id, DeploymentName = deployment.Name, From = request.From, To = request.To, Strategy = UpgradeStrategy.Helm, Started = started,
                Deployment = deployment, Location = deployment.Location, BackupId = request.BackupId, BackupPath = request.BackupPath,
            },
        };
        journal.Result.JournalPath = journal.Path;
        var result = journal.Result;

        async Task<UpgradeStepResult> StepAsync(string name, Func<Task<string?>> action)
        {
            var step = new UpgradeStepResult { Name = name, Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
            result.Steps.Add(step);
            journal.Current = name;
            journal.Save();
            activity.Report(name, Math.Min(100, 100 * result.Steps.Count / 5));
            try
            {
                step.Detail = await action().ConfigureAwait(false);
                step.Status = StepStatus.Succeeded;
                journal.Completed.Add(name);
                return step;
            }
            catch
            {
                step.Status = StepStatus.Failed;
                throw;
            }
            finally
            {
                step.Duration = DateTimeOffset.UtcNow - step.Started!.Value;
                journal.Save();
            }
        }

        RolloutWatch? watch = null;
        // The API probed from the first change (helm upgrade) to the end of the rollout, or of the rollback after a failure.
        ApiProbe? probe = null;
        async Task StopWatchAsync()
        {
            if (watch is null) return;
            await watch.DisposeAsync().ConfigureAwait(false);
            result.Rollout = watch.Records();
        }

        try
        {
            journal.PreviousRevision = request.ReturnRevision ?? previous.Revision;
            if (latest.IsPending)
            {
                await StepAsync("repair pending release", async () =>
                {
                    var repair = await helm.RunAsync(RepairArguments(releaseName, ns, previous.Revision, request.HealthTimeout), redactor, ct).ConfigureAwait(false);
                    if (repair.ExitCode != 0)
                        throw new UpgradeOpsException("HelmRepairFailed", ErrorKind.InvalidOperation, deployment.Location,
                            $"helm rollback {releaseName} {previous.Revision} failed: {repair.Error} Look at 'helm history {releaseName} -n {ns}'.");
                    return $"{latest.Status} revision {latest.Revision} rolled back to revision {previous.Revision}, the last deployed one";
                }).ConfigureAwait(false);
            }

            if (options.Chart.Contains('/') && !Directory.Exists(options.Chart) && !File.Exists(options.Chart))
                await StepAsync("repo update", async () =>
                {
                    var update = await helm.RunAsync(new[] { "repo", "update" }, redactor, ct).ConfigureAwait(false);
                    return update.ExitCode == 0 ? "repositories updated" : $"helm repo update failed ({update.Error}); using the cached index";
                }).ConfigureAwait(false);

            // How the migration runs, from what the chart renders for this hop: a Job that is not rendered refuses the upgrade
            // here, before anything changes, rather than start the new version on a database nothing migrated.
            var way = await HelmMigrationRender.DecideAsync(helm, deployment, profile, request.To, options, request.HealthTimeout, redactor, ct).ConfigureAwait(false);
            if (way.Plan.Length > 0) log.LogInformation("Migration to {To}: {Plan}", request.To, way.Plan);

            if (changes.Count > 0)
                await StepAsync("configuration", () =>
                {
                    // The rules' own values file holds given and generated secrets: owner-only, as a backup's files (Apply keeps the mode).
                    if (ruleValuesFile is not null) KeepPrivate(ruleValuesFile);
                    configuration?.Apply();
                    journal.AddedVariables.AddRange(changes.Where(c => c.Action is ConfigurationAction.Added or ConfigurationAction.Moved).Select(c => c.Setting).Except(journal.AddedVariables));
                    return Task.FromResult<string?>($"{configuration?.Path ?? "values"}: " +
                        string.Join("; ", changes.Select(c => $"{c.Setting}: {c.Action}{(c.MovedFrom is null ? "" : $" from {c.MovedFrom}")}")));
                }).ConfigureAwait(false);

            // The workloads as they are before helm changes them; then polled through helm upgrade and after it, each changed one
            // shown with its progress and its time to ready recorded.
            watch = await RolloutWatch.StartAsync(client, ns, releaseName, profile, redactor, context, activity, log).ConfigureAwait(false);
            probe = ApiProbe.Start(request.ApiEndpoint, profile.Api.Info);
            var execService = way.ExecService;
            var helmStarted = DateTimeOffset.UtcNow;
            var deadline = helmStarted + request.HealthTimeout;
            await StepAsync("helm upgrade", async () =>
            {
                HelmRun run;
                // The Job's log is read while helm runs it: its hook policy may delete it as soon as it succeeds.
                var recorder = way.Job is { } job ? await HelmJobLogRecorder.StartAsync(client, ns, job, redactor, ct).ConfigureAwait(false) : null;
                try
                {
                    run = await helm.RunAsync(HelmArguments.UpgradeArguments(deployment, profile, request.To, options, request.HealthTimeout, ruleValuesFile,
                        execMigration: execService is not null), redactor, ct).ConfigureAwait(false);
                }
                finally
                {
                    if (recorder is not null) await recorder.DisposeAsync().ConfigureAwait(false);
                }
                result.MigrationOutput.Add(run.Output);
                // The chart's migration Job ran inside helm upgrade (a pre-upgrade hook): its outcome and logs are the migration's record.
                var migration = await ReadMigrationAsync(client, ns, releaseName, profile, helmStarted, redactor, log, ct).ConfigureAwait(false);
                // Deleted by its hook policy before it could be read again: helm upgrade waits for a hook to succeed, so it did when helm did.
                if (way.Job is not null && recorder is not null && (migration is null || migration.Output.Length == 0) && recorder.Output.Length > 0)
                    migration = new MigrationJobOutcome(way.Job, run.ExitCode == 0 ? true : migration?.Succeeded, recorder.Output);
                if (way.Job is not null && migration is null && run.ExitCode == 0)
                {
                    // A product whose migration exits 0 after a failure (migration.failurePatterns) tells success only in its log:
                    // without the log the upgrade is not reported done, since the new version may be running on a half-migrated database.
                    if (profile.Migration.FailurePatterns.Count > 0)
                        throw new UpgradeOpsException("MigrationOutcomeUnknown", ErrorKind.InvalidResult, way.Job,
                            $"The migration Job {ns}/{way.Job} ran and helm deleted it (its hook policy) before its log could be read, and " +
                            $"'{string.Join(' ', profile.Migration.Command)}' exits 0 even when a migration fails, so whether it succeeded is not known. " +
                            $"Run '{string.Join(' ', profile.Migration.CheckCommand.Count > 0 ? profile.Migration.CheckCommand : profile.Migration.Command)}' in a server pod to see, " +
                            "or Invoke-Rollback to return to the backup.");
                    log.LogWarning("The migration Job {Job} ran (helm waits for its hooks) but left no log that could be read: its hook policy deleted it first.", way.Job);
                }
                if (migration is not null) result.MigrationOutput.Add(migration.Text(request.From, request.To));
                if (run.ExitCode != 0 && migration is { Succeeded: not true })
                    throw new UpgradeOpsException("MigrationFailed", ErrorKind.InvalidOperation, migration.Job,
                        $"The migration Job {ns}/{migration.Job} {(migration.Succeeded == false ? "failed" : "did not finish")}, so helm upgrade stopped before changing the workloads " +
                        $"({LastLine(run.Error)}). Its log is in the result's MigrationOutput (Get-UpgradeHistory shows it later). The release's workloads stay on revision {previous.Revision}; " +
                        "Invoke-Rollback returns to the backup if the migration changed data before it failed.");
                if (run.ExitCode != 0)
                {
                    // helm --wait gave up at its timeout: the watch names the workloads that did not roll out and what their pods say.
                    if (execService is null && DateTimeOffset.UtcNow >= deadline - TimeSpan.FromSeconds(2))
                        await watch.WaitRolledOutAsync(DateTimeOffset.MinValue, request.HealthTimeout, LastLine(run.Error), ct).ConfigureAwait(false);
                    throw new UpgradeOpsException("HelmUpgradeFailed", ErrorKind.InvalidOperation, deployment.Location,
                        $"helm upgrade failed after {run.Duration.TotalSeconds:N0} s: {run.Error} " +
                        "Get-UpgradeDiagnostic and 'helm history' show what ran; Invoke-Rollback returns to the previous revision.");
                }
                // The Job succeeded, yet its command may say it failed (a product that exits 0 after a failed migration): the
                // workloads now run on that database, so the upgrade fails and -RollbackOnFailure can return to the backup.
                if (migration is { Succeeded: true } && MigrationRun.FailureLine(profile.Migration, migration.Output) is { } failure)
                    throw MigrationRun.FailedInOutput(profile.Migration.Command, request.To, failure, migration.Output, $" (Job {ns}/{migration.Job})");
                return $"done in {run.Duration.TotalSeconds:N1} s" + ((migration?.Job ?? way.Job) is { } ranJob ? $"; migration Job {ranJob} succeeded (pre-upgrade hook)" : "") +
                       (execService is null ? "" : "; applied without --wait: the migration runs by pod exec next, then the rollout is waited for");
            }).ConfigureAwait(false);

            // The time the migration command itself takes does not count against the rollout's -HealthTimeout.
            var rolloutDeadline = deadline;
            if (execService is not null)
                await StepAsync("migration", async () =>
                {
                    var (detail, ran) = await HelmMigrationExec.RunAsync(client, ns, watch, profile, request.From, request.To, deadline, request.HealthTimeout,
                        request.MigrationTimeout, redactor, result.MigrationOutput, context, activity, log).ConfigureAwait(false);
                    rolloutDeadline = deadline + ran;
                    return detail;
                }).ConfigureAwait(false);

            await StepAsync("rollout", async () =>
            {
                await watch.WaitRolledOutAsync(rolloutDeadline, request.HealthTimeout, null, ct).ConfigureAwait(false);
                return watch.Summary();
            }).ConfigureAwait(false);

            await StepAsync("verify release", async () =>
            {
                var now = await HelmReleaseReader.GetLatestAsync(client, ns, releaseName, ct).ConfigureAwait(false);
                if (now is null || now.Status != "deployed")
                    throw new UpgradeOpsException("HelmUpgradeFailed", ErrorKind.InvalidOperation, deployment.Location,
                        $"After helm upgrade the release is {now?.Status ?? "gone"}. Invoke-Rollback returns to revision {previous.Revision}.");
                return $"revision {now.Revision} deployed (chart {now.ChartName} {now.ChartVersion}, app {now.AppVersion})";
            }).ConfigureAwait(false);
            result.Status = UpgradeStatus.Succeeded;
            journal.Current = null;
        }
        catch (Exception ex) when (ex is UpgradeOpsException or OperationCanceledException)
        {
            await StopWatchAsync().ConfigureAwait(false);
            result.Status = ex is OperationCanceledException ? UpgradeStatus.Interrupted : UpgradeStatus.Failed;
            result.RecordError(ex, "UpgradeInterrupted", ErrorKind.OperationStopped);
            log.LogWarning("Upgrade {Id} {Status}: {Message}", id, result.Status, ex.Message);
            if (request.RollbackOnFailure && ex is not OperationCanceledException && journal.PreviousRevision is { } back &&
                result.Steps.Any(s => s.Name == "helm upgrade"))
            {
                // Invoke-Rollback's own code path, under the lock this upgrade holds: the journalled backup verified, the
                // workloads down, its data restored, helm rollback to the journalled revision, the workloads ready again.
                journal.Save();
                var rollbackStep = new UpgradeStepResult { Name = "rollback", Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
                result.Steps.Add(rollbackStep);
                try
                {
                    var rollback = await HelmRollback.RollBackJournalAsync(journal, back, request.BackupPath, new HelmRollbackRequest
                    {
                        Deployment = deployment, UpgradeId = id, BackupPath = request.BackupPath, Passphrase = request.Passphrase,
                        HelmPath = options.HelmPath, HealthTimeout = request.HealthTimeout,
                    }, new EngineContext(context.Sink, CancellationToken.None)).ConfigureAwait(false);
                    rollbackStep.Status = StepStatus.Succeeded;
                    rollbackStep.Detail = string.Join("; ", rollback.Steps.Select(s => $"{s.Name}: {s.Detail}"));
                    result.Status = UpgradeStatus.RolledBack;
                }
                catch (Exception rollbackError)
                {
                    var rollbackId = rollbackError is UpgradeOpsException u2 ? u2.ErrorId : "RollbackFailed";
                    rollbackStep.Status = StepStatus.Failed;
                    rollbackStep.Detail = $"{rollbackId}: {redactor.Redact(rollbackError.Message)}";
                    result.Error += $" The rollback failed too ({rollbackStep.Detail}) Run Invoke-Rollback when the cause is fixed.";
                    log.LogWarning("Rollback of {Id} to revision {Revision} failed: {Message}", id, back, rollbackStep.Detail);
                }
                finally
                {
                    rollbackStep.Duration = DateTimeOffset.UtcNow - rollbackStep.Started!.Value;
                }
            }
        }
        finally
        {
            await StopWatchAsync().ConfigureAwait(false);
            if (probe is not null)
            {
                await probe.DisposeAsync().ConfigureAwait(false);
                result.Downtime = probe.Downtime;
            }
            result.Duration = DateTimeOffset.UtcNow - started;
            journal.Save();
        }
        if (result.Status == UpgradeStatus.Succeeded) activity.Complete();
        return result;
    }

    /// <summary>The helm rollback that repairs a release left pending-*, the same for -WhatIf and for the run.</summary>
    internal static string[] RepairArguments(string release, string ns, int revision, TimeSpan timeout) =>
        ["rollback", release, revision.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", ns, "--wait", "--timeout", $"{(int)timeout.TotalSeconds}s"];

    /// <summary>A release left pending-install: nothing was ever deployed, so no rollback can bring it back.</summary>
    internal static UpgradeOpsException NeverDeployed(HelmRelease latest, string ns) =>
        new("HelmReleaseNeverDeployed", ErrorKind.InvalidOperation, $"{ns}/{latest.Name}",
            $"Release {latest.Name} is {latest.Status} at revision {latest.Revision} and no revision of it was ever deployed, so there is nothing to roll back to. " +
            $"Remove it with 'helm uninstall {latest.Name} -n {ns}' (PersistentVolumeClaims of its StatefulSets stay) and install it again with helm install.");

    /// <summary>Makes a values file readable by its owner only, creating it empty when it does not exist yet.</summary>
    private static void KeepPrivate(string path)
    {
        if (!File.Exists(path)) BackupFiles.CreatePrivateFile(path).Dispose();
        else if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? text;

    /// <summary>The migration Job's record, or null; an API failure while reading it is logged, never fails the upgrade.</summary>
    private static async Task<MigrationJobOutcome?> ReadMigrationAsync(k8s.IKubernetes client, string ns, string release, ProductProfile profile, DateTimeOffset since,
        SecretRedactor redactor, ILogger log, CancellationToken ct)
    {
        try
        {
            return await HelmMigrationJob.ReadAsync(client, ns, release, profile, since, redactor, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException)
        {
            log.LogWarning("The migration Job of {Release} could not be read: {Message}", release, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// What helm may print back (NOTES, errors, a dry-run's manifest) masked: the release's values, the values files given and
    /// the values the configuration rules add. The plan (-WhatIf) renders the chart too, so it masks the same.
    /// </summary>
    internal static SecretRedactor Redactor(HelmRelease? latest, HelmUpgradeOptions options, FileEdit? configuration) =>
        new((latest?.FlatValues() ?? Array.Empty<KeyValuePair<string, string>>()).Concat(options.ValuesFiles.SelectMany(HelmValuesFile.Flatten))
            .Concat((configuration?.SecretValues ?? Array.Empty<string>()).Select(v => KeyValuePair.Create("SECRET", v))));
}

/// <summary>The common part of an upgrade request a Helm upgrade uses.</summary>
public sealed class HelmUpgradeRequest
{
    public required Deployment Deployment { get; init; }
    public required string From { get; init; }
    public required string To { get; init; }
    public bool Force { get; init; }
    public bool RollbackOnFailure { get; init; }
    /// <summary>The API's base URL (an ingress or a Service reached from here), probed during the hop for its downtime; null: not measured.</summary>
    public string? ApiEndpoint { get; init; }
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>How long the migration may run when the profile runs it by pod exec (migration.kubernetesExec).</summary>
    public TimeSpan MigrationTimeout { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>Values for configuration rules (-ConfigurationValue), by values key; written to the values file, never shown.</summary>
    public IReadOnlyDictionary<string, string>? ConfigurationValues { get; init; }
    /// <summary>The verified backup taken before the upgrade, recorded in the journal for Invoke-Rollback.</summary>
    public string? BackupId { get; init; }
    public string? BackupPath { get; init; }
    /// <summary>The passphrase of an encrypted backup, for -RollbackOnFailure to restore it.</summary>
    public byte[]? Passphrase { get; init; }
    /// <summary>
    /// The revision the journal records to return to; null: the newest deployed one before this hop. A later hop of a path
    /// gives the revision before the path's first hop, which matches the backup taken at the path's start.
    /// </summary>
    public int? ReturnRevision { get; init; }
    /// <summary>The version the whole path goes to, journalled for -Resume (a hop's journal names only its own To); null: this hop's To.</summary>
    public string? Target { get; init; }
}

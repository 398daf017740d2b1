using UpgradeOps.Backups;
using Microsoft.Extensions.Logging;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Kubernetes;

/// <summary>What Invoke-Upgrade needs beyond the common request for a Helm release.</summary>
public sealed class HelmUpgradeOptions
{
    /// <summary>The chart: a local path, a packaged .tgz, or repo/chart (then "helm repo update" runs first).</summary>
    public required string Chart { get; init; }
    /// <summary>Chart version (--version); null keeps helm's choice (the newest, or the local chart's own).</summary>
    public string? ChartVersion { get; init; }
    public IReadOnlyList<string> ValuesFiles { get; init; } = Array.Empty<string>();
    public string? HelmPath { get; init; }

    /// <summary>
    /// The options of one hop: a chart version the user gave (-ChartVersion) wins; otherwise the hop installs the chart version
    /// its path gives it (the profile's version.helmCharts); without either, helm's choice as before. A local chart (a folder
    /// or a .tgz) is installed as it is whatever --version says, so it must be the hop's version (ChartVersionMismatch).
    /// </summary>
    public HelmUpgradeOptions ForStep(UpgradeStep? step)
    {
        if (ChartVersion is not null || step?.ToChartVersion is not { } chart) return this;
        if (HelmConfiguration.LocalChartVersion(Chart) is { } local && !SameVersion(local, chart))
            throw new UpgradeOpsException("ChartVersionMismatch", ErrorKind.InvalidArgument, Chart,
                $"The hop {step.From} → {step.To} installs chart {chart} (the profile's version.helmCharts), but the chart at {Chart} is version {local}, " +
                $"and helm installs a local chart as it is, whatever --version says. Nothing was changed. Give -Chart with the chart of version {chart} " +
                $"(a folder, a .tgz, or repo/chart), or -ChartVersion {local} to install this one anyway.");
        return new HelmUpgradeOptions { Chart = Chart, ChartVersion = chart, ValuesFiles = ValuesFiles, HelmPath = HelmPath };
    }

    /// <summary>A warning when -ChartVersion replaces chart versions the path gives its hops; null when it replaces none.</summary>
    public string? OverrideWarning(UpgradePath path) =>
        ChartVersion is not null && path.Steps.Where(s => s.ToChartVersion is not null && !SameVersion(s.ToChartVersion, ChartVersion)).ToList() is { Count: > 0 } replaced
            ? $"-ChartVersion {ChartVersion} replaces the chart version the path gives {string.Join(", ", replaced.Select(s => $"hop {s.From} → {s.To} ({s.ToChartVersion})"))}."
            : null;

    private static bool SameVersion(string a, string b) =>
        ProductVersion.TryParse(a, out var x) && ProductVersion.TryParse(b, out var y) ? x!.Equals(y) : string.Equals(a.Trim(), b.Trim(), StringComparison.Ordinal);
}

/// <summary>
/// Upgrades a Helm release: refuses (or, with Force, repairs) a release left pending by a killed helm, runs
/// "helm upgrade --wait" with the version set where the profile says (version.helmValuesKey), and records the
/// revision to return to and the backup taken before (New-DeploymentBackup on the release) in a journal like Compose's.
/// Rollback is "helm rollback" to that revision plus the restore of that backup's data — the part helm alone never does.
/// </summary>
public static class HelmUpgradeService
{
    /// <summary>Where a release's journal and lock live (no compose folder to keep them beside): the user's local data folder.</summary>
    public static string StateAnchor(string ns, string release) => Path.Combine(NamespaceStateFolder(ns), release, "release");

    /// <summary>The folder of the state of every release of a namespace (a rehearsal copy's is removed with its namespace).</summary>
    internal static string NamespaceStateFolder(string ns) =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "UpgradeOps", "helm", ns);

    private static (string Namespace, string Release) Split(Deployment deployment) =>
        deployment.Platform == DeploymentPlatform.Kubernetes && deployment.Location?.Split('/', 2) is [{ Length: > 0 } ns, { Length: > 0 } release]
            ? (ns, release)
            : throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, deployment.Name,
                $"'{deployment.Name}' is not a Helm release read with Get-UpgradeDeployment -Namespace -Release. Get it again that way.");

    /// <summary>The helm arguments the upgrade would run, for -WhatIf; <paramref name="ruleValuesFile"/> is the file of values the rules added when no -ValuesFile was given.</summary>
    public static IReadOnlyList<string> UpgradeArguments(Deployment deployment, ProductProfile profile, string to, HelmUpgradeOptions options, TimeSpan timeout,
        string? ruleValuesFile = null)
    {
        var (ns, release) = Split(deployment);
        // A migration by pod exec runs after helm has applied the release, in a pod of the new version that may wait for it
        // to become ready: helm must not wait for readiness first. The rollout watch waits for it then.
        var wait = HelmMigrationExec.Service(profile) is null ? new[] { "--wait" } : Array.Empty<string>();
        var arguments = new List<string> { "upgrade", release, options.Chart, "-n", ns };
        arguments.AddRange(wait);
        arguments.AddRange(new[] { "--timeout", $"{(int)timeout.TotalSeconds}s", "--reset-then-reuse-values" });
        if (options.ChartVersion is not null) arguments.AddRange(new[] { "--version", options.ChartVersion });
        foreach (var file in options.ValuesFiles.Append(ruleValuesFile).OfType<string>().Distinct()) arguments.AddRange(new[] { "-f", file });
        if (profile.Version.HelmValuesKey is { } key) arguments.AddRange(new[] { "--set", $"{key}={to}" });
        return arguments;
    }

    /// <summary>For -WhatIf: the migration Invoke-Upgrade runs itself after helm upgrade (migration.kubernetesExec), or null.</summary>
    public static string? MigrationPlan(ProductProfile profile) => HelmMigrationExec.Plan(profile);

    /// <summary>
    /// The values migration of a hop: the profile's Helm rules applied to the last -ValuesFile (or, with none, to a values
    /// file of the release's own in its state folder, passed with -f and kept by helm in the release). A key counts as set
    /// when an earlier values file or the release's values (reused by helm upgrade) set it.
    /// </summary>
    public static (FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes) PlanConfiguration(Deployment deployment, ProductProfile profile, HelmRelease? release,
        string from, string to, HelmUpgradeOptions options, IReadOnlyDictionary<string, string>? givenValues)
    {
        var (ns, releaseName) = Split(deployment);
        var file = options.ValuesFiles.LastOrDefault() ?? Path.Combine(UpgradeJournal.StateFolder(StateAnchor(ns, releaseName)), "rule-values.yaml");
        var lookup = HelmConfiguration.ValuesLookup(options.ValuesFiles.SkipLast(1), key => release?.Value(key));
        return HelmConfiguration.Plan(file, profile, ProductVersion.Parse(from), ProductVersion.Parse(to),
            release?.ChartVersion ?? deployment.ChartVersion, options.ChartVersion ?? HelmConfiguration.LocalChartVersion(options.Chart), givenValues, lookup);
    }

    /// <summary>
    /// <see cref="PlanConfiguration"/> against the release's current values, read from the cluster (for -WhatIf). The local
    /// inputs (profile, values files) are checked first, so their faults are not reported as the cluster's.
    /// </summary>
    public static async Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanConfigurationAsync(HelmUpgradeRequest request, HelmUpgradeOptions options,
        EngineContext context)
    {
        var (ns, releaseName) = Split(request.Deployment);
        var profile = ProfileLoader.Load(request.Deployment.Profile);
        HelmConfiguration.CheckValuesFiles(options.ValuesFiles);
        using var client = KubernetesDiscovery.Connect(request.Deployment.Kubeconfig, request.Deployment.KubeContext);
        HelmRelease? latest;
        try
        {
            latest = await HelmReleaseReader.GetLatestAsync(client, ns, releaseName, context.CancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw KubernetesDiscovery.Unreachable(client, ex);
        }
        return PlanConfiguration(request.Deployment, profile, latest, request.From, request.To, options, request.ConfigurationValues);
    }

    public static async Task<UpgradeResult> UpgradeAsync(HelmUpgradeRequest request, HelmUpgradeOptions options, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmUpgradeService));
        var deployment = request.Deployment;
        var (ns, releaseName) = Split(deployment);
        var profile = ProfileLoader.Load(deployment.Profile);
        var helm = HelmCli.Locate(options.HelmPath, deployment.Kubeconfig, deployment.KubeContext);
        using var client = KubernetesDiscovery.Connect(deployment.Kubeconfig, deployment.KubeContext);
        using var activity = context.StartActivity($"Upgrading Helm release {ns}/{releaseName} to {request.To}");

        var revisions = await HelmReleaseReader.ListAsync(client, ns, releaseName, ct).ConfigureAwait(false);
        var latest = revisions.LastOrDefault()
            ?? throw new UpgradeOpsException("HelmReleaseNotFound", ErrorKind.ObjectNotFound, deployment.Location,
                $"No Helm release {deployment.Location}. Check the names with 'helm list -A' and read it again with Get-UpgradeDeployment.");
        // The values migration is planned first: a rule without a value stops the upgrade before anything changes.
        var (configuration, changes) = PlanConfiguration(deployment, profile, latest, request.From, request.To, options, request.ConfigurationValues);
        if (changes.Where(c => c.Action == "Missing").ToList() is { Count: > 0 } missing)
            throw ConfigurationRules.MissingValues(missing, request.To, missing[0].File, "the values file");
        var ruleValuesFile = configuration is not null && !options.ValuesFiles.Contains(configuration.Path) ? configuration.Path : null;
        // helm prints values back (NOTES, errors): the release's values, the values files given and the values the rules add are masked in what it says.
        var redactor = new SecretRedactor(latest.FlatValues().Concat(options.ValuesFiles.SelectMany(HelmValuesFile.Flatten))
            .Concat((configuration?.SecretValues ?? Array.Empty<string>()).Select(v => KeyValuePair.Create("SECRET", v))));
        // The revision to return to: the newest one that was deployed (a pending one never finished).
        var previous = revisions.LastOrDefault(r => r.Status is "deployed" or "superseded") ?? latest;
        if (latest.IsPending && !request.Force)
            throw new UpgradeOpsException("HelmReleasePending", ErrorKind.ResourceBusy, deployment.Location,
                $"Release {releaseName} is {latest.Status} at revision {latest.Revision}: a helm operation did not finish (a killed client leaves this), " +
                $"and helm refuses to upgrade it. Repair it with 'helm rollback {releaseName} {previous.Revision} -n {ns}', or run Invoke-Upgrade again with -Force, which does that first.");
        var anchor = StateAnchor(ns, releaseName);
        var started = DateTimeOffset.UtcNow;
        var id = $"{releaseName}-{started:yyyyMMdd-HHmmss}-upgrade-{request.From}-to-{request.To}";
        using var upgradeLock = UpgradeLock.Acquire(anchor, id, request.Force);
        var journal = new UpgradeJournal
        {
            Path = Path.Combine(UpgradeJournal.JournalFolder(anchor), id + ".json"),
            Profile = deployment.Profile,
            Hops = new List<string> { $"{request.From}→{request.To}" },
            Result = new UpgradeResult
            {
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
                    var repair = await helm.RunAsync(new[] { "rollback", releaseName, previous.Revision.ToString(), "-n", ns, "--wait" }, redactor, ct).ConfigureAwait(false);
                    if (repair.ExitCode != 0)
                        throw new UpgradeOpsException("HelmRepairFailed", ErrorKind.InvalidOperation, deployment.Location,
                            $"helm rollback {releaseName} {previous.Revision} failed: {repair.Error} Look at 'helm history {releaseName} -n {ns}'.");
                    return $"{latest.Status} revision {latest.Revision} rolled back to revision {previous.Revision}";
                }).ConfigureAwait(false);
            }

            if (options.Chart.Contains('/') && !Directory.Exists(options.Chart) && !File.Exists(options.Chart))
                await StepAsync("repo update", async () =>
                {
                    var update = await helm.RunAsync(new[] { "repo", "update" }, redactor, ct).ConfigureAwait(false);
                    return update.ExitCode == 0 ? "repositories updated" : $"helm repo update failed ({update.Error}); using the cached index";
                }).ConfigureAwait(false);

            if (changes.Count > 0)
                await StepAsync("configuration", () =>
                {
                    // The rules' own values file holds given and generated secrets: owner-only, as a backup's files (Apply keeps the mode).
                    if (ruleValuesFile is not null) KeepPrivate(ruleValuesFile);
                    configuration?.Apply();
                    journal.AddedVariables.AddRange(changes.Where(c => c.Action is "Added" or "Moved").Select(c => c.Setting).Except(journal.AddedVariables));
                    return Task.FromResult<string?>($"{configuration?.Path ?? "values"}: " +
                        string.Join("; ", changes.Select(c => $"{c.Setting}: {c.Action}{(c.MovedFrom is null ? "" : $" from {c.MovedFrom}")}")));
                }).ConfigureAwait(false);

            // The workloads as they are before helm changes them; then polled through helm upgrade and after it, each changed one
            // shown with its progress and its time to ready recorded.
            watch = await RolloutWatch.StartAsync(client, ns, releaseName, profile, redactor, context, activity, log).ConfigureAwait(false);
            var execService = HelmMigrationExec.Service(profile);
            var helmStarted = DateTimeOffset.UtcNow;
            var deadline = helmStarted + request.HealthTimeout;
            await StepAsync("helm upgrade", async () =>
            {
                var run = await helm.RunAsync(UpgradeArguments(deployment, profile, request.To, options, request.HealthTimeout, ruleValuesFile), redactor, ct).ConfigureAwait(false);
                result.MigrationOutput.Add(run.Output);
                // The chart's migration Job ran inside helm upgrade (a pre-upgrade hook): its outcome and logs are the migration's record.
                var migration = await ReadMigrationAsync(client, ns, releaseName, profile, helmStarted, redactor, log, ct).ConfigureAwait(false);
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
                return $"done in {run.Duration.TotalSeconds:N1} s" + (migration is null ? "" : $"; migration Job {migration.Job} succeeded (pre-upgrade hook)") +
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
            result.ErrorId = ex is UpgradeOpsException u ? u.ErrorId : "UpgradeInterrupted";
            result.Error = ex.Message;
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
                    var rollback = await RollBackJournalAsync(journal, back, request.BackupPath, new HelmRollbackRequest
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
            result.Duration = DateTimeOffset.UtcNow - started;
            journal.Save();
        }
        if (result.Status == UpgradeStatus.Succeeded) activity.Complete();
        return result;
    }

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

    /// <summary>What a rollback would do, for -WhatIf: the upgrade's journal, the revision to return to, the backup whose data returns (or null).</summary>
    public static (UpgradeJournal Journal, int Revision, string? BackupPath) PlanRollback(HelmRollbackRequest request)
    {
        var deployment = request.Deployment;
        var (ns, releaseName) = Split(deployment);
        var journals = UpgradeJournal.List(StateAnchor(ns, releaseName)).Where(j => j.Result.Operation == "Upgrade").ToList();
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
        var (ns, releaseName) = Split(request.Deployment);
        var (journal, revision, backupPath) = PlanRollback(request);
        using var upgradeLock = UpgradeLock.Acquire(StateAnchor(ns, releaseName), journal.Result.Id + "-rollback", force: true);
        return await RollBackJournalAsync(journal, revision, backupPath, request, context).ConfigureAwait(false);
    }

    /// <summary>
    /// Rolls the journal's upgrade back to <paramref name="revision"/>, restoring <paramref name="backupPath"/>'s data when
    /// there is one; the caller holds the release's lock (Invoke-Rollback, or Invoke-Upgrade -RollbackOnFailure after a failed hop).
    /// </summary>
    internal static async Task<UpgradeResult> RollBackJournalAsync(UpgradeJournal journal, int revision, string? backupPath, HelmRollbackRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmUpgradeService));
        var deployment = request.Deployment;
        var (ns, releaseName) = Split(deployment);
        var helm = HelmCli.Locate(request.HelmPath, deployment.Kubeconfig, deployment.KubeContext);
        var profile = ProfileLoader.Load(deployment.Profile);
        using var source = KubernetesBackupSource.Open(deployment);
        var client = source.Client;
        using var activity = context.StartActivity($"Rolling back {ns}/{releaseName} to revision {revision}");
        var started = DateTimeOffset.UtcNow;
        var result = new UpgradeResult
        {
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
                await HelmRestoreService.RestoreDataAsync(source, backup, request.Passphrase, request.HealthTimeout, context, activity, HelmRollbackAsync).ConfigureAwait(false);
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

/// <summary>The common part of an upgrade request a Helm upgrade uses.</summary>
public sealed class HelmUpgradeRequest
{
    public required Deployment Deployment { get; init; }
    public required string From { get; init; }
    public required string To { get; init; }
    public bool Force { get; init; }
    public bool RollbackOnFailure { get; init; }
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
}

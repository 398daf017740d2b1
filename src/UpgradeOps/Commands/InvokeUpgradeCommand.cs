using System.Collections;
using System.Management.Automation;
using System.Security;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Kubernetes;
using UpgradeOps.Validation;
using UpgradeOps.Upgrades;
using UpgradeOps.Versioning;
using UpgradeOps.Commands.Completion;

using UpgradeOps.Planning;

using UpgradeOps.Compose;

using UpgradeOps.Platforms;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Upgrades a Compose deployment or a Helm release along a checked path, hop by hop, with its migrations, and never leaves it half-done.</para>
/// <para type="description">Invoke-Upgrade takes an upgrade path from Test-UpgradePath (or -Deployment and -To) and, for each hop:
/// pulls the new images first (if that fails nothing has been stopped), applies the profile's configuration migrations to .env
/// (for example a value a new major version requires, generated or given with -ConfigurationValue; the diff is shown with
/// secrets masked), stops the workers (background tasks pause) and the API, runs the migration command in a one-off container
/// of the new image (its log streams to progress and Verbose, -MigrationTimeout is enforced, its output is kept in the result),
/// recreates every product container from its own configuration with only the image changed (ports, networks and aliases,
/// mounts, environment, labels, healthcheck, restart policy, user and command carry over), waits until they are healthy, and
/// finally edits the compose file or .env so they name the new version, changing no other byte.</para>
/// <para type="description">-Strategy Rolling replaces the API containers one at a time, each healthy before the next, so the
/// load balancer always has a healthy backend; it is refused unless the profile marks the hop's migrations safe for old and
/// new servers side by side.</para>
/// <para type="description">Safety: an unsupported path is refused; without -SkipBackup a verified backup of the deployment at the
/// starting version is required (-Backup). A journal is written before each step beside the compose file (.upgradeops/journal)
/// with the backup, the previous image ids and file hashes; a lock lets only one upgrade run per deployment (ErrorId
/// UpgradeInProgress; a lock left by a dead process is StaleUpgradeLock). -Resume continues an interrupted upgrade from its
/// journal (a Helm release: see -Resume). When a step fails the previous containers are started again so the old version serves; with -RollbackOnFailure the
/// data is restored from the backup too (Invoke-Rollback does the same later).</para>
/// <para type="description">A Helm release (from Get-UpgradeDeployment -Namespace -Release) is upgraded with helm upgrade
/// (-Chart, -ChartVersion, -ValuesFile). When the path's hops carry chart versions (Test-UpgradePath on a release whose profile
/// lists them in version.helmCharts) and -ChartVersion is not given, each hop runs helm upgrade --version with its own chart
/// version; a local chart of another version is refused (ChartVersionMismatch), since helm would install it regardless. Before it, the profile's Helm configuration rules are applied to the last -ValuesFile,
/// as Convert-UpgradeConfiguration does (a required key added, a renamed key moved, comments and layout kept), in a journalled
/// 'configuration' step; without -ValuesFile the values are written to a file in the release's state folder and passed with -f.
/// -WhatIf shows the helm command and the masked diff. A required value with no default stops it before anything changes
/// (ConfigurationValueRequired): give it with -ConfigurationValue @{ 'dotted.key' = '...' }. -RequireReadiness checks the release as
/// Test-UpgradeReadiness does (its BackgroundTasks item asks the API through a port-forward, or at -ApiEndpoint). With -RollbackOnFailure a failed hop is undone as
/// Invoke-Rollback does it: the workloads scale to 0, the backup's databases are restored, helm rollback returns the release to the
/// revision journalled before the path, and the workloads must be ready again (Status RolledBack).</para>
/// <para type="description">On a Helm release the rollout is watched: the release's Deployments and StatefulSets are read once a
/// second from before helm upgrade starts, each one the upgrade changes shows its own progress ("Rollout of NAME (Role): 1/2 updated,
/// 1/2 ready", with its pods' waiting reasons such as CrashLoopBackOff; mirrored to Verbose), and a 'rollout' step waits until every
/// replica is updated and ready, recording each workload's time from its new spec to ready in the result's Rollout property and the
/// journal. A rollout that does not finish within -HealthTimeout fails with ErrorId RolloutTimedOut, naming each workload that did not
/// roll out and what its pods say (ImagePullBackOff and its message, restarts and last exit code, a crashing pod's last log line).
/// The migration is the chart's pre-upgrade Job when the profile names migration.kubernetesJob (its outcome and log are recorded); when
/// it names migration.kubernetesExec, helm upgrade runs without --wait and the migration command then runs by pod exec in a running pod
/// of the new version of that service's workload (as Infrahub's guide runs 'infrahub upgrade' in a server pod), its output streamed to
/// progress and kept, masked, in MigrationOutput; a non-zero exit is MigrationFailed and -MigrationTimeout applies.</para>
/// <para type="description">The result is an UpgradeOps.UpgradeResult with per-step timings, the API downtime measured by probing
/// the API every 20 ms, the migration output and the backup used. A failed upgrade also writes an error with its ErrorId
/// (MigrationFailed, MigrationTimedOut, ServicesUnhealthy, RolloutTimedOut, RegistryUnreachable, ConfigurationValueRequired, ...).</para>
/// </summary>
/// <example>
/// <code>$d = Get-UpgradeDeployment -ComposeFile /srv/app/docker-compose.yml
/// $b = $d | New-DeploymentBackup -Path /backups
/// $d | Test-UpgradePath -To 1.8.0 | Invoke-Upgrade -Backup $b -RollbackOnFailure</code>
/// <para>Upgrades the deployment through every hop the path lists, restoring the backup if any hop fails.</para>
/// </example>
/// <example>
/// <code>$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $b -WhatIf</code>
/// <para>Prints the plan: images to pull, configuration changes, the migration command, the containers to recreate, the diff
/// of the compose file or .env, and the estimated downtime. Changes nothing.</para>
/// </example>
/// <example>
/// <code>Invoke-Upgrade -Deployment $d -To 1.7.6 -Backup $b -Strategy Rolling -Force</code>
/// <para>Upgrades one API server at a time behind the load balancer, without a confirmation prompt.</para>
/// </example>
/// <example>
/// <code>$release = Get-UpgradeDeployment -Namespace infrahub -Release infrahub -Profile ./infrahub-charts.yml
/// $release | Test-UpgradePath -To 1.1.8 | Invoke-Upgrade -Chart opsmill/infrahub -Backup $b -ValuesFile ./values.yaml</code>
/// <para>Upgrades a Helm release hop by hop, each hop with helm upgrade --version set to the chart version the path gives it (the profile lists its charts in version.helmCharts); -WhatIf prints each helm command.</para>
/// </example>
/// <example>
/// <code>Invoke-Upgrade -Deployment $d -Resume -Force</code>
/// <para>Continues the upgrade that was interrupted (a killed session, a reboot) from the step its journal records.</para>
/// </example>
/// <example>
/// <code>$release = Get-UpgradeDeployment -Namespace infrahub -Release infrahub   # warns: pending-upgrade
/// Invoke-Upgrade -Deployment $release -Resume -Chart opsmill/infrahub -ValuesFile ./values.yaml -WhatIf
/// Invoke-Upgrade -Deployment $release -Resume -Chart opsmill/infrahub -ValuesFile ./values.yaml</code>
/// <para>A helm killed mid-upgrade left the release pending-upgrade, and every helm upgrade now fails with "another operation is in
/// progress". -WhatIf names the revision it rolls back to (the last deployed one) and the helm upgrade that follows; the run does both,
/// continuing to the version the interrupted upgrade's journal names.</para>
/// </example>
/// <example>
/// <code>$r = Get-UpgradeDeployment -Namespace infrahub -Release infrahub | Test-UpgradePath -To 1.7.6 |
///     Invoke-Upgrade -Chart opsmill/infrahub -ValuesFile ./values.yaml -Backup $b -HealthTimeout 00:10:00 -Verbose
/// $r.Rollout | Format-Table Workload, Role, Replicas, Ready, TimeToReady</code>
/// <para>Upgrades a Helm release, showing each workload's rollout as it goes (Verbose keeps it in a job's log), and lists how long each
/// took to be ready. A workload still not ready after ten minutes fails the upgrade with RolloutTimedOut and what its pods say.</para>
/// </example>
/// <returns>An UpgradeOps.UpgradeResult: Id, From, To, Strategy, Status (Succeeded, Failed, RolledBack, Interrupted), Steps, Downtime, Duration, BackupId, MigrationOutput, Rollout (Helm: each workload's time to ready), JournalPath, ErrorId, ErrorCategory (the kind of failure: the category of the error written for it), Error.</returns>
/// <seealso cref="TestUpgradePathCommand"/>
/// <seealso cref="InvokeRollbackCommand"/>
[Cmdlet(VerbsLifecycle.Invoke, "Upgrade", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(UpgradeResult))]
public sealed class InvokeUpgradeCommand : EngineCmdlet
{
    private const string PathSet = "Path";
    private const string VersionSet = "Version";
    private const string ResumeSet = "Resume";

    /// <summary>
    /// <para type="description">The checked path from Test-UpgradePath; it carries the deployment.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [Rehydrate(typeof(UpgradePath))]
    public UpgradePath? UpgradePath { get; set; }

    /// <summary>
    /// <para type="description">The deployment to upgrade, from Get-UpgradeDeployment (with -To, or with -Resume); it can be piped.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = VersionSet, ValueFromPipeline = true)]
    [Parameter(Mandatory = true, ParameterSetName = ResumeSet, ValueFromPipeline = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The version to upgrade to; the path is checked as Test-UpgradePath would. With -Resume (a Helm release only): the version to continue to instead of the one the interrupted upgrade's journal names.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = VersionSet)]
    [Parameter(ParameterSetName = ResumeSet)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string To { get; set; } = "";

    /// <summary>
    /// <para type="description">Released versions to plan hops through (with -To, or with -Resume on a Helm release), as for Test-UpgradePath.</para>
    /// </summary>
    [Parameter(ParameterSetName = VersionSet)]
    [Parameter(ParameterSetName = ResumeSet)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string[] AvailableVersion { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">The verified backup of the deployment at the starting version, from New-DeploymentBackup.</para>
    /// </summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = VersionSet)]
    [Rehydrate(typeof(DeploymentBackup))]
    public DeploymentBackup? Backup { get; set; }

    /// <summary>
    /// <para type="description">Upgrade without a backup. The upgrade then cannot be rolled back with its data.</para>
    /// </summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = VersionSet)]
    public SwitchParameter SkipBackup { get; set; }

    /// <summary>
    /// <para type="description">Standard (stop, migrate, recreate) or Rolling (one API container at a time; only for hops the profile marks safe).</para>
    /// <para type="default">Standard</para>
    /// </summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = VersionSet)]
    [ValidateSet("Standard", "Rolling")]
    public string Strategy { get; set; } = "Standard";

    /// <summary>
    /// <para type="description">When a migration fails, a health wait times out or a step fails, restore the backup's data and the previous images automatically (Status RolledBack). On a Helm release Invoke-Rollback's steps run: the backup's databases restored and helm rollback to the revision the journal recorded; with -SkipBackup only helm rollback.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter RollbackOnFailure { get; set; }

    /// <summary>
    /// <para type="description">How long one migration may run before it is stopped and the upgrade fails (on a Helm release, the migration run by pod exec; the command may go on in the pod, which exec cannot stop).</para>
    /// <para type="default">00:30:00</para>
    /// </summary>
    [Parameter]
    public TimeSpan MigrationTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// <para type="description">How long recreated containers may take to become healthy. On a Helm release: helm upgrade's --timeout, and how long the rollout may take from the start of helm upgrade until every workload is updated and ready (the time a migration by exec runs is not counted); then RolloutTimedOut.</para>
    /// <para type="default">00:03:00</para>
    /// </summary>
    [Parameter]
    public TimeSpan HealthTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// <para type="description">Values for configuration rules, such as @{ APP_SIGNING_KEY = '...' } (Compose, written to .env) or @{ 'auth.signingKey' = '...' } (Helm, written to the values file); never shown.</para>
    /// </summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = VersionSet)]
    public Hashtable? ConfigurationValue { get; set; }

    /// <summary>
    /// <para type="description">Continue the interrupted upgrade recorded in the deployment's journal. Compose: from the step it stopped at. Helm: a release left pending-upgrade, pending-install or pending-rollback by a killed or disconnected helm is first rolled back to its last deployed revision (helm rollback), then the upgrade runs again from that revision's version to the target the journal names (or -To), with the journal's backup; give the -Chart and -ValuesFile of the interrupted run. Without an interrupted upgrade in the journal it stops with NothingToResume; -WhatIf prints the rollback and the helm upgrade.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = ResumeSet)]
    public SwitchParameter Resume { get; set; }

    /// <summary>
    /// <para type="description">The passphrase of an encrypted backup (to verify it and, on rollback, restore it).</para>
    /// </summary>
    [Parameter]
    public SecureString? EncryptionKey { get; set; }

    /// <summary>
    /// <para type="description">Helm: the chart to upgrade the release with — a local folder, a .tgz, or repo/chart (then 'helm repo update' runs first).</para>
    /// </summary>
    [Parameter]
    public string? Chart { get; set; }

    /// <summary>
    /// <para type="description">Helm: the chart version (helm upgrade --version) for every hop. Without it, each hop installs the chart version its path gives it (ToChartVersion, from the profile's version.helmCharts), and with neither helm chooses (the newest, or a local chart's own). When it replaces the path's chart versions a warning says so. A local chart (a folder or .tgz) is installed as it is, whatever --version says: when it is not the hop's chart version the upgrade stops before anything changes (ChartVersionMismatch).</para>
    /// </summary>
    [Parameter]
    public string? ChartVersion { get; set; }

    /// <summary>
    /// <para type="description">Helm: values files passed to helm upgrade (-f), in order. The profile's configuration rules edit the last one.</para>
    /// </summary>
    [Parameter]
    public string[] ValuesFile { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">Helm: the helm binary. Default: helm on PATH.</para>
    /// </summary>
    [Parameter]
    public string? HelmPath { get; set; }

    /// <summary>
    /// <para type="description">Run Test-UpgradeReadiness first (with -Backup, -AcknowledgeBreakingChange and -ApiEndpoint), on a Compose deployment or a Helm release, and refuse to start when an item fails (ErrorId NotReady; nothing is changed).</para>
    /// </summary>
    [Parameter]
    public SwitchParameter RequireReadiness { get; set; }

    /// <summary>
    /// <para type="description">The API's base URL (an absolute http or https URL, without a user name or password). It is probed every 20 ms during the upgrade, and the time it did not answer is the result's Downtime: on a Helm release give the URL users reach (an ingress, or a Service reached from here), since a release has no API endpoint of its own and without -ApiEndpoint its Downtime is not measured (0); a Compose deployment's own published API port is used when it is not given. With -RequireReadiness it is also the API the BackgroundTasks item asks, as for Test-UpgradeReadiness -ApiEndpoint; without it, on a Helm release, the readiness check reaches the API through a port-forward to a ready API pod, opened and closed before the upgrade starts.</para>
    /// </summary>
    [Parameter]
    public string? ApiEndpoint { get; set; }

    /// <summary>
    /// <para type="description">With -RequireReadiness: the breaking changes between the versions have been read.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter AcknowledgeBreakingChange { get; set; }

    /// <summary>
    /// <para type="description">Do not ask for confirmation, and take over a lock left by a dead process.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing() => CheckParameters(() =>
    {
        ParameterChecks.Positive(nameof(MigrationTimeout), MigrationTimeout);
        ParameterChecks.Positive(nameof(HealthTimeout), HealthTimeout);
        ParameterChecks.ApiEndpoint(ApiEndpoint);
    });

    protected override void ProcessRecord()
    {
        WithPassphrase(EncryptionKey, passphrase =>
        {
            var deployment = Deployment ?? UpgradePath?.Deployment
                ?? throw new UpgradeOpsException("DeploymentRequired", ErrorKind.InvalidArgument, UpgradePath,
                    "The upgrade path does not carry a deployment: make it with Get-UpgradeDeployment ... | Test-UpgradePath, or use -Deployment and -To.");
            var path = UpgradePath ?? (Resume ? null : UpgradePathService.Test(new UpgradePathRequest
            {
                From = deployment.Version ?? "", To = To, Profile = deployment.Profile, AvailableVersions = AvailableVersion, Deployment = deployment,
            }));
            var request = new UpgradeRequest
            {
                Deployment = deployment,
                Path = path ?? new UpgradePath { From = deployment.Version ?? "", To = deployment.Version ?? "", IsSupported = true, Reason = "resume" },
                BackupPath = Backup?.Path,
                BackupId = Backup?.Id,
                SkipBackup = SkipBackup,
                Resume = Resume,
                ResumeTo = Resume && To.Length > 0 ? To : null,
                AvailableVersions = AvailableVersion,
                Strategy = Enum.Parse<UpgradeStrategy>(Strategy),
                RollbackOnFailure = RollbackOnFailure,
                ApiEndpoint = ApiEndpoint,
                MigrationTimeout = MigrationTimeout,
                HealthTimeout = HealthTimeout,
                Force = Force,
                ConfigurationValues = ConfigurationValues(ConfigurationValue),
                Passphrase = passphrase,
                Helm = Chart is null ? null : new HelmUpgradeOptions
                {
                    Chart = ChartArgument(SessionState.Path, Chart),
                    ChartVersion = ChartVersion,
                    ValuesFiles = ValuesFile.Select(f => SessionState.Path.GetUnresolvedProviderPathFromPSPath(f)).ToList(),
                    HelmPath = HelmPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(HelmPath),
                },
            };
            var platform = DeploymentPlatforms.Open(deployment);
            // What the platform cannot do, and its local inputs, before readiness asks the engine or the cluster.
            platform.CheckUpgradeRequest(request);

            if (Resume)
            {
                var resumePlan = RunEngine(context => platform.PlanResumeAsync(request, context));
                if (!ShouldChange(deployment.Name, resumePlan, "Resume upgrade", Force)) return;
                foreach (var result in RunEngine(context => platform.ResumeAsync(request, context))) Emit(result);
                return;
            }

            // A missing backup is then readiness's Backup item (NotReady), not BackupRequired.
            if (RequireReadiness) CheckReadiness(deployment, request.Path.To);

            var plan = RunEngine(context => platform.PlanUpgradeAsync(request, context));
            foreach (var warning in plan.Warnings) WriteWarning(warning);
            if (!ShouldChange(deployment.Name, plan.Description, "Upgrade", Force)) return;
            foreach (var result in RunEngine(context => platform.UpgradeAsync(request, context))) Emit(result);
        });
    }

    /// <summary>-RequireReadiness: Test-UpgradeReadiness's checks (Compose or Helm), and NotReady before anything changes when one fails.</summary>
    private void CheckReadiness(Deployment deployment, string to)
    {
        var readiness = RunEngine(context => UpgradeReadinessChecker.CheckAsync(new ReadinessRequest
        {
            Deployment = deployment, To = to, Profile = deployment.Profile, AvailableVersions = AvailableVersion,
            Backup = Backup, AcknowledgeBreakingChange = AcknowledgeBreakingChange, ApiEndpoint = ApiEndpoint,
        }, context));
        if (readiness.Ready) return;
        var failed = readiness.Checks.Where(c => c.Status == CheckStatus.Failed).ToList();
        throw new UpgradeOpsException("NotReady", ErrorKind.InvalidOperation, readiness,
            $"Not ready to upgrade {deployment.Name} to {to}: " +
            string.Join(" ", failed.Select(c => $"{c.Name}: {c.Detail} {c.Remedy}")) + " Nothing was changed.");
    }

    /// <summary>-Chart as helm takes it: a local chart (folder or .tgz) as a full path; anything else (repo/chart, oci://...) as given.</summary>
    internal static string ChartArgument(PathIntrinsics paths, string chart)
    {
        var local = paths.GetUnresolvedProviderPathFromPSPath(chart);
        return Directory.Exists(local) || File.Exists(local) ? local : chart;
    }

    private void Emit(UpgradeResult result)
    {
        WriteObject(result);
        if (result.Status is UpgradeStatus.Failed or UpgradeStatus.RolledBack or UpgradeStatus.Interrupted)
            WriteEngineError(new UpgradeOpsException(result.ErrorId ?? "UpgradeFailed",
                // Without a recorded category (a result that did not record its error with it): what its ErrorId tells.
                result.ErrorCategory ?? (result.ErrorId == "DockerEngineUnreachable" ? ErrorKind.ConnectionError : ErrorKind.InvalidOperation), result,
                $"Upgrade {result.From} → {result.To} {result.Status}: {result.Error} " +
                (result.Status != UpgradeStatus.RolledBack ? "Journal: " + result.JournalPath
                    : result.BackupId is null ? "The previous version serves again; the data was not restored (no backup: -SkipBackup)."
                    : $"Backup {result.BackupId}'s data was restored and the previous version serves again.")));
    }
}

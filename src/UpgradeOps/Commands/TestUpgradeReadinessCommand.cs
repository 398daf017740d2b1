using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Hosting;
using UpgradeOps.ReleaseNotes;
using UpgradeOps.Validation;
using UpgradeOps.Commands.Completion;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">The guide's pre-upgrade checklist as objects: each item Passed, Warning or Failed, with its remedy.</para>
/// <para type="description">Test-UpgradeReadiness checks, before a maintenance window, what the upgrade guide asks an admin to check by
/// hand: the upgrade path is supported (UpgradePath); the breaking changes between the versions were read
/// (ReleaseNotes: Failed until -AcknowledgeBreakingChange is given, Warning when no release notes are given); a backup
/// at the current version exists, verifies and is recent (Backup, from -Backup or the newest in -BackupPath); the
/// maintenance window (-Window) is long enough for the estimate (MaintenanceWindow); there is disk space for the backup
/// and the new images (DiskSpace); the deployment is healthy now (DeploymentHealthy); the configuration the target
/// version needs is there or will be generated (Configuration, from the profile's rules); no background task is running
/// (BackgroundTasks, from the profile's query); and the upgrade was tested in non-production (Rehearsal: Passed when -Rehearsal
/// is a passed rehearsal from the current version to the target, at most 30 days old; Failed when that rehearsal failed; a Warning
/// without one, or for other versions, or when older). A rehearsal of this path also replaces the profile's estimate with the window
/// it measured, for the MaintenanceWindow item.</para>
/// <para type="description">On a Helm release (Get-UpgradeDeployment -Namespace -Release) the same items are checked: the backup's dumps are
/// read by the release's database pod (as Test-DeploymentBackup does); DiskSpace checks the backup folder only (the cluster's nodes pull
/// the images, so the Docker root does not apply); DeploymentHealthy reads the release's workloads afresh and fails while the release is
/// pending-* (ErrorId HelmReleasePending; the remedy names its last deployed revision and Invoke-Upgrade -Resume); Configuration checks the profile's Helm rules (requiresValuesKey, movedFrom, defaultValue, generate)
/// against the release's values; BackgroundTasks asks the release's API through a port-forward to a ready API pod that the command
/// opens through the Kubernetes API and closes when it ends (as Test-PostUpgrade does; -Verbose names the pod and port), or at
/// -ApiEndpoint when given; when the forward cannot be made the item is a Warning with the ErrorId that says why (ApiPodNotReady,
/// ApiWorkloadNotFound, PortForwardRefused, PortForwardFailed). Verified against the tests' in-memory API server only.</para>
/// <para type="description">It changes nothing. Ready is true when no item failed; Invoke-Upgrade -RequireReadiness runs the same checks and
/// refuses to start when one fails.</para>
/// </summary>
/// <example>
/// <code>$d | Test-UpgradeReadiness -To 1.8.0 -BackupPath /backups -Window '2026-12-01 22:00','2026-12-01 23:00'</code>
/// <para>Checks the checklist for tonight's window, using the newest backup in /backups.</para>
/// </example>
/// <example>
/// <code>$r = $d | Test-UpgradeReadiness -To 2.0.0 -Backup $b -ReleaseNotePath ./CHANGELOG.md
/// $r.Checks | Where-Object Status -ne Passed | Format-Table Name, Status, Detail, Remedy -Wrap</code>
/// <para>Lists what is not ready yet, and what to do about it.</para>
/// </example>
/// <example>
/// <code>$rehearsal = $b | Invoke-UpgradeRehearsal -To 1.8.0
/// $d | Test-UpgradeReadiness -To 1.8.0 -Backup $b -Rehearsal $rehearsal -Window '2026-12-01 22:00','2026-12-01 23:00'</code>
/// <para>The Rehearsal item passes with the rehearsal on record, and the window is checked against the window it measured.</para>
/// </example>
/// <returns>An UpgradeOps.ReadinessReport: DeploymentName, From, To, Ready, Checks (Name, Status, Detail, Remedy, ErrorId), Path.</returns>
/// <example>
/// <code>Get-UpgradeDeployment -Namespace infrahub -Release infrahub | Test-UpgradeReadiness -To 1.8.0 -BackupPath /backups</code>
/// <para>Checks a Helm release, asking its API for running tasks through a port-forward to a ready API pod that the command opens and closes itself.</para>
/// </example>
/// <seealso cref="TestUpgradePathCommand"/>
/// <seealso cref="TestPostUpgradeCommand"/>
/// <seealso cref="InvokeUpgradeCommand"/>
[Cmdlet(VerbsDiagnostic.Test, "UpgradeReadiness")]
[OutputType(typeof(ReadinessReport))]
public sealed class TestUpgradeReadinessCommand : EngineCmdlet
{
    private ReleaseNoteDocument? _releaseNotes;

    /// <summary>
    /// <para type="description">The deployment to upgrade, from Get-UpgradeDeployment.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The version to upgrade to.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string To { get; set; } = "";

    /// <summary>
    /// <para type="description">The backup the upgrade will rely on, from New-DeploymentBackup or Get-DeploymentBackup.</para>
    /// </summary>
    [Parameter]
    [Rehydrate(typeof(DeploymentBackup))]
    public DeploymentBackup? Backup { get; set; }

    /// <summary>
    /// <para type="description">A backup folder: the newest backup of this deployment in it is checked, and its free space.</para>
    /// </summary>
    [Parameter]
    public string? BackupPath { get; set; }

    /// <summary>
    /// <para type="description">The maintenance window: start and end.</para>
    /// </summary>
    [Parameter]
    [ValidateCount(2, 2)]
    public DateTimeOffset[]? Window { get; set; }

    /// <summary>
    /// <para type="description">The release notes (a CHANGELOG.md or a release JSON file) to look for breaking changes in.</para>
    /// </summary>
    [Parameter]
    public string? ReleaseNotePath { get; set; }

    /// <summary>
    /// <para type="description">The breaking changes between the versions have been read and are accepted.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter AcknowledgeBreakingChange { get; set; }

    /// <summary>
    /// <para type="description">Versions that exist besides the profile's catalog (e.g. a release the catalog does not list yet).</para>
    /// </summary>
    [Parameter]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string[] AvailableVersion { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">How old the backup may be before it is a Warning.</para>
    /// <para type="default">1.00:00:00 (24 hours)</para>
    /// </summary>
    [Parameter]
    public TimeSpan MaximumBackupAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// <para type="description">The rehearsal of this upgrade, from Invoke-UpgradeRehearsal: the Rehearsal item passes when it passed from the deployment's current version to -To within the last 30 days, and its measured window is used for the MaintenanceWindow item.</para>
    /// </summary>
    [Parameter]
    [Rehydrate(typeof(RehearsalReport))]
    public RehearsalReport? Rehearsal { get; set; }

    /// <summary>
    /// <para type="description">The API's base URL, without a user name or password, when the one found from the profile is not reachable from here (e.g. http://127.0.0.1:8000): the BackgroundTasks item asks it for running tasks. Optional on a Helm release: without it the API is reached through a port-forward to a ready API pod that the command opens and closes itself; with it (an ingress URL) no port-forward is opened.</para>
    /// </summary>
    [Parameter]
    public string? ApiEndpoint { get; set; }

    protected override void BeginProcessing()
    {
        CheckParameters(() =>
        {
            ParameterChecks.Window(Window);
            ParameterChecks.Positive(nameof(MaximumBackupAge), MaximumBackupAge);
            ParameterChecks.ApiEndpoint(ApiEndpoint);
        });
        _releaseNotes = LoadReleaseNotes(ReleaseNotePath);
    }

    protected override void ProcessRecord()
    {
        var request = new ReadinessRequest
        {
            Deployment = Deployment!,
            To = To,
            Profile = ResolveProfile(Deployment!.Profile),
            AvailableVersions = AvailableVersion,
            ReleaseNotes = _releaseNotes,
            AcknowledgeBreakingChange = AcknowledgeBreakingChange,
            Backup = Backup,
            BackupPath = BackupPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(BackupPath),
            MaximumBackupAge = MaximumBackupAge,
            WindowStart = Window?[0],
            WindowEnd = Window?[1],
            Rehearsal = Rehearsal,
            ApiEndpoint = ApiEndpoint,
        };
        RunEngineOrWriteError(context => UpgradeReadinessChecker.CheckAsync(request, context), report => WriteObject(report));
    }
}

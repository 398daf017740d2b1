using System.Collections;
using System.Management.Automation;
using System.Security;
using UpgradeOps.Commands.Completion;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Rehearsals;

using UpgradeOps.Kubernetes;

using UpgradeOps.Platforms;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Rehearses an upgrade on a disposable copy of the deployment restored from its production backup, and reports what it measured.</para>
/// <para type="description">Invoke-UpgradeRehearsal does what the upgrade guide advises before a production upgrade, so nobody skips it:
/// it verifies the backup, makes a copy of the deployment on the same Docker Engine — the production containers' own configuration under
/// its own project name, with fresh volumes, its own ports (the same offset for every port, checked free first) and the backup's compose
/// file and .env in a folder of its own, at the backup's version — restores the backup's databases and volumes into it, runs the whole
/// upgrade path with the settings Invoke-Upgrade uses (-Strategy, -ConfigurationValue, timeouts), validates the result as Test-PostUpgrade
/// does, reads the copy's logs, and removes the copy (unless -Keep).</para>
/// <para type="description">Production is only read: its containers are inspected, never stopped, changed or recreated, and its files
/// are not written. Everything the copy creates is labelled io.upgradeops.rehearsal.id; a rehearsal killed half-way leaves a copy whose
/// owning process is gone, and the next rehearsal of the same deployment removes it (a copy of a rehearsal still running, and other
/// deployments' copies, are left alone).</para>
/// <para type="description">The result is an UpgradeOps.RehearsalReport: each hop's measured duration, migration time and API
/// outage, the downtime probed during the upgrade, the time to create and restore the copy, the validation report, error and warning
/// lines from the logs (secrets masked), and the maintenance window to plan — backup, upgrade and validation as measured, times the
/// profile's rehearsal.windowSafetyFactor. Give it to Test-UpgradeReadiness and Test-UpgradePath (-Rehearsal), and to
/// Export-UpgradeReport for the change ticket. A Compose copy is made for deployments on the host network only; it moves every TCP port
/// production's containers listen on (read in each container), and refuses one that nothing in the container's settings names
/// (RehearsalPortNotMovable). The report's PortMap lists production's ports and the copy's.</para>
/// <para type="description">The backup of a Helm release (New-DeploymentBackup on Get-UpgradeDeployment -Namespace -Release) is rehearsed
/// on a copy release in a namespace of its own, RELEASE-rehearsal-XXXXXX, labelled io.upgradeops.rehearsal.id (the owning process in an
/// annotation, so the next rehearsal deletes a namespace whose process is gone): helm install from -Chart at the backup's chart version
/// (a local chart as it is) with the backup's values at the backup's version, then -ValuesFile, then -CopyValue; the backup's databases,
/// volumes and ConfigMaps restored into the copy; helm upgrade hop by hop as Invoke-Upgrade runs it (no backup step); Test-PostUpgrade's
/// checks through a port-forward to the copy; its pods' logs; then helm uninstall and the namespace deleted (with -Keep, the report says
/// the commands that remove it). A backup taken without -EncryptionKey holds its secret values masked: the copy gets fresh random values
/// for those not set by -ValuesFile or -CopyValue (never shown), and the report's warnings name them. Give -CopyValue for whatever the
/// copy must not share with production, such as its ingress host, or ports on host-network workloads. Production's namespace, release,
/// Secrets and data are only read. Verified against the test API server of this repository only, never on a real cluster.</para>
/// </summary>
/// <example>
/// <code>$b = $d | New-DeploymentBackup -Path /backups
/// $r = $b | Invoke-UpgradeRehearsal -To 1.8.0
/// $r.Hops; $r.Validation.Checks; $r.EstimatedWindow</code>
/// <para>Rehearses the upgrade to 1.8.0 on a copy restored from the fresh backup, then shows each hop's timings, the validation and the window to plan.</para>
/// </example>
/// <example>
/// <code>Invoke-UpgradeRehearsal -Path /backups/sandbox-20261127-010000 -To 2.0.0 -ConfigurationValue @{ APP_SIGNING_KEY = $key } -Keep -Force</code>
/// <para>Rehearses a major upgrade that needs a new configuration value, without a prompt, and keeps the copy running to look at (the report says how to remove it).</para>
/// </example>
/// <example>
/// <code>$b | Invoke-UpgradeRehearsal -To 1.7.6 -WhatIf</code>
/// <para>Says which copy would be made from which backup and which path it would be upgraded along. Creates nothing.</para>
/// </example>
/// <example>
/// <code>$release = Get-UpgradeDeployment -Namespace infrahub -Release infrahub -Profile infrahub
/// $b = $release | New-DeploymentBackup -Path /backups -EncryptionKey $key
/// $b | Invoke-UpgradeRehearsal -To 1.1.8 -Deployment $release -Chart opsmill/infrahub -EncryptionKey $key -CopyValue @{ 'ingress.host' = 'rehearsal.example.com' }</code>
/// <para>Rehearses a Helm release's upgrade on a copy release in namespace infrahub-rehearsal-XXXXXX, installed from the chart at the backup's chart version with
/// the backup's values and its own ingress host, restored from the encrypted backup, upgraded and validated, then uninstalled with its namespace.</para>
/// </example>
/// <returns>An UpgradeOps.RehearsalReport: Id, DeploymentName, CopyName, From, To, Route, Status, Hops, Downtime, Restore, Validation, LogErrors, LogWarnings, Errors, Warnings, EstimatedWindow, EstimateBasis.</returns>
/// <seealso cref="InvokeUpgradeCommand"/>
/// <seealso cref="TestPostUpgradeCommand"/>
[Cmdlet(VerbsLifecycle.Invoke, "UpgradeRehearsal", DefaultParameterSetName = BackupSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(RehearsalReport))]
public sealed class InvokeUpgradeRehearsalCommand : EngineCmdlet
{
    private const string BackupSet = "Backup";
    private const string PathSet = "Path";

    /// <summary>
    /// <para type="description">The production backup to restore into the copy, from New-DeploymentBackup or Get-DeploymentBackup.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = BackupSet, ValueFromPipeline = true)]
    [Rehydrate(typeof(DeploymentBackup))]
    public DeploymentBackup? Backup { get; set; }

    /// <summary>
    /// <para type="description">The backup folder (the one holding manifest.json), instead of -Backup.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [ArgumentCompleter(typeof(BackupPathCompleter))]
    public string Path { get; set; } = "";

    /// <summary>
    /// <para type="description">The version to rehearse the upgrade to; the path from the backup's version is checked as Test-UpgradePath would.</para>
    /// </summary>
    [Parameter(Mandatory = true)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string To { get; set; } = "";

    /// <summary>
    /// <para type="description">The production deployment, from Get-UpgradeDeployment. Default: found again from the compose file and profile the backup records.</para>
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">Released versions to plan hops through, as for Test-UpgradePath.</para>
    /// </summary>
    [Parameter]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string[] AvailableVersion { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">Standard or Rolling, as Invoke-Upgrade will be run.</para>
    /// <para type="default">Standard</para>
    /// </summary>
    [Parameter]
    [ValidateSet("Standard", "Rolling")]
    public string Strategy { get; set; } = "Standard";

    /// <summary>
    /// <para type="description">Values for configuration rules, as Invoke-Upgrade -ConfigurationValue; written to the copy's .env only, never shown.</para>
    /// </summary>
    [Parameter]
    public Hashtable? ConfigurationValue { get; set; }

    /// <summary>
    /// <para type="description">The passphrase the backup was encrypted with.</para>
    /// </summary>
    [Parameter]
    public SecureString? EncryptionKey { get; set; }

    /// <summary>
    /// <para type="description">How long one migration may run on the copy.</para>
    /// <para type="default">00:30:00</para>
    /// </summary>
    [Parameter]
    public TimeSpan MigrationTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// <para type="description">How long the copy's containers may take to become healthy (after the restore, and after each hop).</para>
    /// <para type="default">00:03:00</para>
    /// </summary>
    [Parameter]
    public TimeSpan HealthTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// <para type="description">Leave the copy running after the rehearsal; the report's warnings say how to remove it.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Keep { get; set; }

    /// <summary>
    /// <para type="description">The folder copies are made in. Default: UpgradeOps/rehearsals in the user's data folder.</para>
    /// </summary>
    [Parameter]
    public string? WorkingDirectory { get; set; }

    /// <summary>
    /// <para type="description">Helm: the chart to install the copy from and upgrade it with, as Invoke-Upgrade -Chart takes it — a local folder, a .tgz, or repo/chart. Required for a Helm release's backup.</para>
    /// </summary>
    [Parameter]
    public string? Chart { get; set; }

    /// <summary>
    /// <para type="description">Helm: the chart version of the upgrade's hops, as Invoke-Upgrade -ChartVersion. The copy itself is installed at the chart version the backup's release ran (a local chart as it is).</para>
    /// </summary>
    [Parameter]
    public string? ChartVersion { get; set; }

    /// <summary>
    /// <para type="description">Helm: the helm binary. Default: helm on PATH.</para>
    /// </summary>
    [Parameter]
    public string? HelmPath { get; set; }

    /// <summary>
    /// <para type="description">Helm: values files for the copy's install, applied after the backup's values (before -CopyValue). Use it for the real values of secrets an unencrypted backup masked.</para>
    /// </summary>
    [Parameter]
    public string[] ValuesFile { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">Helm: values of the copy only, by dotted key, such as @{ 'ingress.host' = 'rehearsal.example.com' }; they win over the backup's values and -ValuesFile. Give whatever the copy must not share with production: its ingress host, or the ports of workloads on the host network. A value keeps the type of the value it replaces (a port stays a number).</para>
    /// </summary>
    [Parameter]
    public Hashtable? CopyValue { get; set; }

    /// <summary>
    /// <para type="description">Do not ask for confirmation, and rehearse even from a backup that fails verification.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing() => CheckParameters(() =>
    {
        ParameterChecks.Positive(nameof(MigrationTimeout), MigrationTimeout);
        ParameterChecks.Positive(nameof(HealthTimeout), HealthTimeout);
    });

    protected override void ProcessRecord()
    {
        WithPassphrase(EncryptionKey, passphrase =>
        {
            var request = new RehearsalRequest
            {
                BackupPath = Backup?.Path ?? SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path),
                To = To,
                Deployment = Deployment,
                AvailableVersions = AvailableVersion,
                Strategy = Enum.Parse<UpgradeStrategy>(Strategy),
                ConfigurationValues = ConfigurationValues(ConfigurationValue),
                Passphrase = passphrase,
                MigrationTimeout = MigrationTimeout,
                HealthTimeout = HealthTimeout,
                Keep = Keep,
                Force = Force,
                Root = WorkingDirectory is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(WorkingDirectory),
                Helm = HelmOptions(),
            };
            var plan = RunEngine(context => RehearsalService.PlanAsync(request, context));
            var description = plan.Creates is not null ? $"Rehearse {plan.Route} of '{plan.DeploymentName}' on a disposable copy: {plan.Creates}" : $"Rehearse {plan.Route} of '{plan.DeploymentName}' on a disposable copy: create its containers, volumes and a folder under {plan.CopyRoot}, " +
                              $"restore backup {plan.BackupId} into it, upgrade it ({Strategy}), validate it, then " +
                              (Keep ? "keep it running (-Keep)." : "remove it.") + $" '{plan.DeploymentName}' itself is not changed.";
            if (!ShouldChange(plan.DeploymentName, description, "Rehearse upgrade", Force)) return;

            var report = RunEngine(context => RehearsalService.RunAsync(request, context));
            WriteObject(report);
            if (report.Status != RehearsalStatus.Passed)
                WriteEngineError(new UpgradeOpsException("RehearsalFailed", ErrorKind.InvalidOperation, report,
                    $"The rehearsal of {report.Route} {report.Status}: {string.Join(" ", report.Errors)} Fix this before upgrading production; the report has the details."));
        });
    }

    /// <summary>The Helm options when any Helm parameter is given (a local chart or file as a full path); null otherwise.</summary>
    private HelmRehearsalOptions? HelmOptions()
    {
        if (Chart is null && ChartVersion is null && HelmPath is null && ValuesFile.Length == 0 && CopyValue is null) return null;
        string Full(string path) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        return new HelmRehearsalOptions
        {
            Chart = Chart is null ? null : InvokeUpgradeCommand.ChartArgument(SessionState.Path, Chart),
            ChartVersion = ChartVersion,
            HelmPath = HelmPath is null ? null : Full(HelmPath),
            ValuesFiles = ValuesFile.Select(Full).ToList(),
            CopyValues = ConfigurationValues(CopyValue) ?? new Dictionary<string, string>(),
        };
    }
}

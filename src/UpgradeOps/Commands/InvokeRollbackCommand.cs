using System.Management.Automation;
using System.Security;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Upgrades;

using UpgradeOps.Compose;

using UpgradeOps.Platforms;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Rolls a deployment (Compose or Helm) back from an upgrade, data included.</para>
/// <para type="description">Invoke-Rollback undoes an upgrade recorded in the deployment's journal — finished, failed or
/// interrupted (even a killed session): it stops the product containers, restores the databases, volumes, compose file and .env
/// from the backup taken before the upgrade, puts every product container back on the exact image id it ran before (recorded in
/// the journal), removes what the upgrade added to the containers' environment, and waits until every container is healthy.
/// With -Backup and no journal, it returns to that backup: its version and image ids come from the backup's manifest.</para>
/// <para type="description">On a Helm release it verifies the backup the upgrade's journal records (or -Backup), scales the
/// application workloads to 0, restores the databases from the backup through exec in the database pod, runs
/// 'helm rollback RELEASE REVISION --wait' to the revision recorded before the upgrade, scales the workloads back and waits until
/// they are ready, showing each workload's progress (Write-Progress and Verbose) and recording its time to ready in the result's
/// Rollout. An upgrade that ran with -SkipBackup is rolled back with helm only, and the result says so.</para>
/// <para type="description">Everything written since the backup is lost. The command asks for confirmation (ConfirmImpact High);
/// -Force skips the question. The result is an UpgradeOps.UpgradeResult whose Operation is Rollback; the upgrade it undid is
/// marked RolledBack in the history.</para>
/// </summary>
/// <example>
/// <code>$result = $path | Invoke-Upgrade -Backup $b
/// $result | Invoke-Rollback -Deployment $d -Force</code>
/// <para>Rolls back the upgrade just made, without a prompt.</para>
/// </example>
/// <example>
/// <code>Invoke-Rollback -Deployment $d</code>
/// <para>Rolls back the latest upgrade recorded for the deployment (for example one interrupted at 2 a.m.).</para>
/// </example>
/// <example>
/// <code>Invoke-Rollback -Deployment $d -Backup (Get-DeploymentBackup -Path /backups | Select-Object -First 1) -Force</code>
/// <para>Returns the deployment to the newest backup, images included, when no journal is left.</para>
/// </example>
/// <returns>An UpgradeOps.UpgradeResult with Operation Rollback: Steps, Duration, From, To, BackupId, JournalPath, Status.</returns>
/// <seealso cref="InvokeUpgradeCommand"/>
/// <seealso cref="GetUpgradeHistoryCommand"/>
[Cmdlet(VerbsLifecycle.Invoke, "Rollback", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(UpgradeResult))]
public sealed class InvokeRollbackCommand : EngineCmdlet
{
    /// <summary>
    /// <para type="description">The deployment to roll back, from Get-UpgradeDeployment; it can be piped.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The upgrade to undo (an UpgradeResult's Id, from Invoke-Upgrade or Get-UpgradeHistory). Default: the latest one not yet rolled back.</para>
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    public string? UpgradeId { get; set; }

    /// <summary>
    /// <para type="description">Return to this backup (when no journal names one, or to pick another backup).</para>
    /// </summary>
    [Parameter]
    [Rehydrate(typeof(DeploymentBackup))]
    public DeploymentBackup? Backup { get; set; }

    /// <summary>
    /// <para type="description">The passphrase of an encrypted backup.</para>
    /// </summary>
    [Parameter]
    public SecureString? EncryptionKey { get; set; }

    /// <summary>
    /// <para type="description">How long the containers may take to become healthy after the rollback.</para>
    /// <para type="default">00:03:00</para>
    /// </summary>
    [Parameter]
    public TimeSpan HealthTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// <para type="description">Helm: the helm binary. Default: helm on PATH.</para>
    /// </summary>
    [Parameter]
    public string? HelmPath { get; set; }

    /// <summary>
    /// <para type="description">Do not ask for confirmation.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing() => CheckParameters(() => ParameterChecks.Positive(nameof(HealthTimeout), HealthTimeout));

    protected override void ProcessRecord()
    {
        WithPassphrase(EncryptionKey, passphrase =>
        {
            var request = new RollbackRequest
            {
                Deployment = Deployment!, UpgradeId = UpgradeId, BackupPath = Backup?.Path, BackupId = Backup?.Id, Passphrase = passphrase, HealthTimeout = HealthTimeout,
                HelmPath = HelmPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(HelmPath),
            };
            var platform = DeploymentPlatforms.Open(Deployment!);
            var description = RunEngine(context => platform.PlanRollbackAsync(request, context));
            if (!ShouldChange(Deployment!.Name, description, "Roll back", Force)) return;
            WriteObject(RunEngine(context => platform.RollBackAsync(request, context)));
        });
    }
}

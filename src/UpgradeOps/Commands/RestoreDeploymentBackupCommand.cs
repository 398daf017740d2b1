using System.Management.Automation;
using System.Security;
using UpgradeOps.Backups;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Commands.Completion;

using UpgradeOps.Kubernetes;

using UpgradeOps.Compose;

using UpgradeOps.Platforms;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Restores a backup onto a deployment: databases, volumes and configuration.</para>
/// <para type="description">Restore-DeploymentBackup first verifies the backup (Test-DeploymentBackup without -RestoreTest) and
/// refuses one that fails, with the failing check's ErrorId, unless -Force is given. It also refuses a backup taken at another
/// version than the deployment runs, because the data would not match the running images: use Invoke-Rollback for that, which
/// returns the containers to the backup's images too.</para>
/// <para type="description">It then stops the application containers (the database containers keep running) while it
/// restores each dump with pg_restore inside the database container into a staging database beside the live one, and, once
/// they are stopped, meanwhile extracts each volume's archive beside that volume's content. Only when every copy is complete
/// does it put the staged databases and volumes in place of the live ones, put the compose file and .env back — into the
/// deployment's own compose file and the .env beside it, never to a path the manifest names — start the containers again
/// (always, also after a failure) and wait until every container is healthy. A failure before that leaves every database and
/// volume as it was.</para>
/// <para type="description">A manifest that names a file outside the backup folder (BackupPathOutsideBackup), or that the
/// -EncryptionKey of an encrypted backup proves was changed (BackupManifestTampered), is refused before anything is contacted,
/// and -Force does not override it.</para>
/// <para type="description">On a Helm release it scales the application workloads (the profile's Api, Worker, TaskManager and
/// LoadBalancer services) to 0, restores each dump into a staging database through exec in the database pod and only then puts
/// it in place of the live one, scales the workloads back (always) and waits until they report ready. Each volume archive whose
/// data store has kubernetesWorkload and path is extracted back into that path (emptied first) through tar in that workload's pod,
/// with the other workloads already at 0. The ConfigMaps of the backup's resources component are re-applied, and its Secrets only
/// from an encrypted backup (a redacted Secret is left as it is, with a warning). The release's values and manifest in the backup
/// are not applied: Invoke-Rollback returns the release to its revision with helm rollback.</para>
/// <para type="description">This replaces the deployment's current data: everything written since the backup is lost. The
/// command asks for confirmation (ConfirmImpact High); -Force skips the question, -WhatIf shows the containers that would stop
/// and what would be restored.</para>
/// </summary>
/// <example>
/// <code>$b | Restore-DeploymentBackup -Deployment $d</code>
/// <para>Restores the backup onto the deployment after asking for confirmation.</para>
/// </example>
/// <example>
/// <code>Restore-DeploymentBackup -Path /backups/infrahub-20261126-101500-1.7.5 -Deployment $d -EncryptionKey $key -Force</code>
/// <para>Restores an encrypted backup without a prompt, as an unattended runbook would.</para>
/// </example>
/// <example>
/// <code>$b | Restore-DeploymentBackup -Deployment $d -WhatIf</code>
/// <para>Shows which containers would stop and what would be restored, and changes nothing.</para>
/// </example>
/// <returns>The UpgradeOps.DeploymentBackup that was restored.</returns>
/// <seealso cref="TestDeploymentBackupCommand"/>
/// <seealso cref="NewDeploymentBackupCommand"/>
[Cmdlet(VerbsData.Restore, "DeploymentBackup", DefaultParameterSetName = BackupSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(DeploymentBackup))]
public sealed class RestoreDeploymentBackupCommand : EngineCmdlet
{
    private const string BackupSet = "Backup";
    private const string PathSet = "Path";

    /// <summary>
    /// <para type="description">The backup to restore, from New-DeploymentBackup or Get-DeploymentBackup.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = BackupSet, ValueFromPipeline = true)]
    [Rehydrate(typeof(DeploymentBackup))]
    public DeploymentBackup? Backup { get; set; }

    /// <summary>
    /// <para type="description">The backup folder (the one holding manifest.json).</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [ArgumentCompleter(typeof(BackupPathCompleter))]
    public string Path { get; set; } = "";

    /// <summary>
    /// <para type="description">The deployment to restore onto, from Get-UpgradeDeployment.</para>
    /// </summary>
    [Parameter(Mandatory = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The passphrase the backup was encrypted with.</para>
    /// </summary>
    [Parameter]
    public SecureString? EncryptionKey { get; set; }

    /// <summary>
    /// <para type="description">Do not ask for confirmation, and restore even a backup that fails verification or was taken at another version.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        WithPassphrase(EncryptionKey, passphrase =>
        {
            var request = new RestoreRequest
            {
                BackupPath = Backup?.Path ?? SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path),
                Deployment = Deployment!,
                Passphrase = passphrase,
                Force = Force,
            };
            var platform = DeploymentPlatforms.Open(Deployment!);
            var plan = RunEngine(context => platform.PlanRestoreAsync(request, context));
            var description = $"Restore backup {request.BackupPath} onto deployment '{Deployment!.Name}' (data written since the backup is lost):" +
                              $"\n  {plan.StopVerb}: {(plan.StopContainers.Count == 0 ? "nothing" : string.Join(", ", plan.StopContainers))}" +
                              string.Concat(plan.Actions.Select(a => $"\n  {a}")) +
                              $"\n  {plan.Ending}";
            if (!ShouldChange(Deployment.Name, description, "Restore", Force)) return;

            WriteObject(RunEngine(context => platform.RestoreAsync(request, context)));
        });
    }
}

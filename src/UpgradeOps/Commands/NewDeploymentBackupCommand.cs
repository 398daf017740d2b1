using System.Management.Automation;
using System.Security;
using UpgradeOps.Backups;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Commands.Completion;

using UpgradeOps.Kubernetes;

using UpgradeOps.Compose;

using UpgradeOps.Platforms;
using UpgradeOps.Validation;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Backs up a deployment's databases, volumes and configuration into one verified folder.</para>
/// <para type="description">New-DeploymentBackup captures what the product profile declares: each PostgreSQL database with
/// pg_dump -Fc run inside its container through the Docker Engine's exec API and streamed into the backup file (nothing is
/// staged in the container and no local pg_dump or docker CLI is used), each volume through the Engine's archive API, and the
/// compose file and .env. Workers are paused while it runs (and the API too when the profile says a data store must be backed
/// up offline) and are always resumed, also after a failure or Ctrl+C.</para>
/// <para type="description">On a Helm release (Get-UpgradeDeployment -Namespace -Release) pg_dump runs in the database pod through the
/// Kubernetes API's exec (no local binaries, no kubectl), with the user and password from the pod's environment (Secret keys read
/// through the API; the password is handed to pg_dump from the pod's own variable and never crosses the API). The configuration
/// component is the release's user-supplied values (config/values.json) and its rendered manifest (config/manifest.yaml), with
/// values whose key says secret and every Secret's data redacted unless -EncryptionKey is given. A Volume data store whose profile
/// entry has kubernetesWorkload and path is archived with tar in that workload's pod through exec (NAME.tar; without those keys it is
/// skipped with a warning). The ConfigMaps and Secrets of the profile's kubernetesResources go to config/resources.json, each
/// Secret's values masked (keys kept) unless -EncryptionKey is given, so they are never written in clear.</para>
/// <para type="description">The backup is one folder named DEPLOYMENT-DATE-TIME-VERSION under -Path, readable by its owner only,
/// with a schema-versioned manifest.json: deployment, version, image ids, every component's size and SHA-256, the database
/// server and pg_dump versions and the row count of every table at dump time. The folder appears only when it is complete; a
/// backup that fails leaves no manifest and no partial files; one killed outright (kill -9) leaves its hidden .partial folder,
/// which the next backup into the same folder removes. On Compose one backup or restore stops a deployment's application at a
/// time (another is OperationInProgress), recording what it stops in .upgradeops/hold.json beside the compose file: the next
/// backup or restore brings back what a killed one left stopped or paused (a Neo4j server held stopped included, then
/// Neo4jLeftStopped).</para>
/// <para type="description">When the profile counts the product's background tasks (validation.runningTasksQuery, as Infrahub's
/// does), the backup first asks the API and refuses to start while any is pending or running (BackgroundTasksRunning: wait, or give
/// -Force), as Infrahub's own backup tool checks; an API that cannot be asked is a warning, not a refusal.</para>
/// <para type="description">With -EncryptionKey every file is encrypted as OpenPGP (AES-256 with integrity protection, key from an iterated and salted SHA-256 S2K), so gpg --decrypt opens it without UpgradeOps; the passphrase is never written anywhere. Keep it: without it the backup cannot be restored.</para>
/// </summary>
/// <example>
/// <code>$d = Get-UpgradeDeployment -ComposeFile /srv/app/docker-compose.yml
/// $b = $d | New-DeploymentBackup -Path /backups
/// $b.Components | Format-Table</code>
/// <para>Backs up the deployment into /backups and lists what was captured with sizes and checksums.</para>
/// </example>
/// <example>
/// <code>$key = Read-Host -AsSecureString -Prompt 'Backup passphrase'
/// $d | New-DeploymentBackup -Path /backups -EncryptionKey $key -Component database</code>
/// <para>Backs up only the database component, encrypted.</para>
/// </example>
/// <example>
/// <code>$r = Get-UpgradeDeployment -Namespace infrahub -Release infrahub
/// $r | New-DeploymentBackup -Path /backups -EncryptionKey $key</code>
/// <para>Backs up a Helm release: the database through pod exec, and the release's values and manifest unredacted because encrypted.</para>
/// </example>
/// <example>
/// <code>$d | New-DeploymentBackup -Path /backups -WhatIf</code>
/// <para>Lists the components that would be captured and where they come from, and captures nothing.</para>
/// </example>
/// <returns>An UpgradeOps.DeploymentBackup: Id, Path, CreatedAt, DeploymentName, Version, Components (Name, Kind, File, SizeBytes, Sha256, RowCounts), Encrypted, ImageDigests.</returns>
/// <seealso cref="TestDeploymentBackupCommand"/>
/// <seealso cref="RestoreDeploymentBackupCommand"/>
[Cmdlet(VerbsCommon.New, "DeploymentBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(DeploymentBackup))]
public sealed class NewDeploymentBackupCommand : EngineCmdlet
{
    /// <summary>
    /// <para type="description">The deployment to back up, from Get-UpgradeDeployment.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The folder that receives the backup's own folder. Created when missing.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string Path { get; set; } = "";

    /// <summary>
    /// <para type="description">A passphrase that encrypts every file of the backup (OpenPGP, AES-256). It is never written; keep it safe.</para>
    /// </summary>
    [Parameter]
    public SecureString? EncryptionKey { get; set; }

    /// <summary>
    /// <para type="description">Only these components: data store names from the profile (such as database) or config. Default: all.</para>
    /// </summary>
    [Parameter]
    [ArgumentCompleter(typeof(ComponentCompleter))]
    public string[] Component { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">Back up without asking for confirmation, even when $ConfirmPreference asks, and even while the product
    /// reports background tasks pending or running (without -Force that is refused with BackgroundTasksRunning).</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        WithPassphrase(EncryptionKey, passphrase =>
        {
            var request = new BackupRequest
            {
                Deployment = Deployment!,
                Path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path),
                Passphrase = passphrase,
                Components = Component,
                IgnoreRunningTasks = Force,
            };
            var platform = DeploymentPlatforms.Open(Deployment!);
            var plan = RunEngine(context => platform.PlanBackupAsync(request, context));
            var description = $"Back up deployment '{Deployment!.Name}' ({Deployment.Version}) into {request.Path}" +
                              (passphrase is null ? "" : ", encrypted") + ":" +
                              string.Concat(plan.Select(p => $"\n  {p.Name} ({p.Kind}) from {p.Source} -> {p.File}")) +
                              (RunningTasksGate.DescribeBeforeBackup(Deployment, Force) is { } tasks ? $"\n  {tasks}" : "");
            if (!ShouldChange(Deployment.Name, description, "Back up", Force)) return;
            request.Planned = plan;

            WriteObject(RunEngine(context => RunningTasksGate.BackUpAsync(platform, request, context)));
        });
    }
}

using System.Management.Automation;
using System.Security;
using UpgradeOps.Backups;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Commands.Completion;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Proves that a backup is complete, intact and — with -RestoreTest — that it restores.</para>
/// <para type="description">Test-DeploymentBackup checks a backup the way a restore would need it: the manifest's schema, its
/// integrity hash (an accidentally changed manifest is caught) and every field it must have, every file it names a plain name
/// inside the backup folder (a name with '..', an absolute path or a symbolic link leading out is refused, and the file is never
/// read), every component present, complete and matching its recorded SHA-256, each volume archive readable, the encryption key
/// (when the backup is encrypted and -EncryptionKey is given), and, with -Deployment, each database dump's table of contents read
/// by pg_restore --list inside the target database container. It warns when a dump was made by a pg_dump newer than the target
/// server, whose pg_restore cannot read it.</para>
/// <para type="description">Anyone can recompute the integrity hash of an edited manifest. The manifest of an encrypted backup
/// also carries a MAC keyed by its passphrase: with -EncryptionKey the ManifestAuthenticity check proves the manifest is as the
/// backup wrote it and fails (BackupManifestTampered) when it is not; without -EncryptionKey, or for a backup written before
/// manifests had a MAC, that check is a warning saying the manifest's authenticity could not be proven.</para>
/// <para type="description">-RestoreTest goes further: each dump is restored into a scratch database on the same server, the
/// row count of every table is compared with the counts recorded at dump time, and the scratch database is dropped. The
/// deployment's own database is not touched.</para>
/// <para type="description">The result is an UpgradeOps.BackupVerification whose Passed property scripts can test; each
/// failed check carries a stable ErrorId (BackupManifestMissing, BackupManifestInvalid, BackupManifestTampered,
/// BackupPathOutsideBackup, BackupComponentMissing, BackupTruncated, BackupChecksumMismatch, BackupWrongKey, BackupNotEncrypted,
/// BackupEncryptionParametersRefused, BackupDumpUnreadable, BackupRestoreTestFailed, ...). A -Path that is not a folder is an error, BackupPathNotFound.</para>
/// </summary>
/// <example>
/// <code>$b | Test-DeploymentBackup -Deployment $d -RestoreTest</code>
/// <para>Verifies the backup just taken and restores its dumps into a scratch database to compare row counts.</para>
/// </example>
/// <example>
/// <code>Get-DeploymentBackup -Path /backups | Test-DeploymentBackup | Where-Object { -not $_.Passed }</code>
/// <para>Checks every backup in /backups and lists those that would not restore.</para>
/// </example>
/// <returns>An UpgradeOps.BackupVerification: BackupId, Path, Passed, RestoreTested, Checks (Name, Status, Detail, ErrorId, Duration), FailureErrorId.</returns>
/// <seealso cref="NewDeploymentBackupCommand"/>
/// <seealso cref="RestoreDeploymentBackupCommand"/>
[Cmdlet(VerbsDiagnostic.Test, "DeploymentBackup", DefaultParameterSetName = BackupSet)]
[OutputType(typeof(BackupVerification))]
public sealed class TestDeploymentBackupCommand : EngineCmdlet
{
    private const string BackupSet = "Backup";
    private const string PathSet = "Path";

    /// <summary>
    /// <para type="description">The backup, from New-DeploymentBackup or Get-DeploymentBackup.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = BackupSet, ValueFromPipeline = true)]
    [Rehydrate(typeof(DeploymentBackup))]
    public DeploymentBackup? Backup { get; set; }

    /// <summary>
    /// <para type="description">The backup folder (the one holding manifest.json).</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BackupPathCompleter))]
    public string Path { get; set; } = "";

    /// <summary>
    /// <para type="description">Restore each database dump into a scratch database, compare row counts with those recorded, and drop it.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter RestoreTest { get; set; }

    /// <summary>
    /// <para type="description">The deployment whose database server reads the dumps (pg_restore runs in its database container, or in its database pod through the Kubernetes exec API for a Helm release). Without it the dumps' contents are not read.</para>
    /// </summary>
    [Parameter]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The passphrase the backup was encrypted with; needed to read an encrypted backup's contents.</para>
    /// </summary>
    [Parameter]
    public SecureString? EncryptionKey { get; set; }

    protected override void ProcessRecord()
    {
        if (RestoreTest && Deployment is null)
        {
            ThrowEngineError(new UpgradeOpsException("DeploymentRequired", ErrorKind.InvalidArgument, Backup?.Path ?? SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path),
                "-RestoreTest restores into a scratch database on the deployment's own server: give -Deployment (from Get-UpgradeDeployment)."));
        }
        WithPassphrase(EncryptionKey, passphrase =>
        {
            var request = new BackupVerificationRequest
            {
                BackupPath = Backup?.Path ?? SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path),
                Passphrase = passphrase,
                RestoreTest = RestoreTest,
                Deployment = Deployment,
                DataStores = Deployment is null ? null : Platforms.DeploymentPlatforms.Open(Deployment).OpenDataStoresAsync,
            };
            var verification = RunEngine(context => BackupVerifier.VerifyAsync(request, context));
            foreach (var warning in verification.Checks.Where(c => c.Status == CheckStatus.Warning)) WriteWarning($"{warning.Name}: {warning.Detail}");
            WriteObject(verification);
        });
    }
}

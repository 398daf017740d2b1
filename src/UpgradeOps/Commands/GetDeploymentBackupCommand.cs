using System.Management.Automation;
using UpgradeOps.Backups;
using UpgradeOps.Commands.Hosting;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Lists the backups in a folder, newest first.</para>
/// <para type="description">Get-DeploymentBackup reads the manifest.json of every backup folder under -Path and returns one
/// UpgradeOps.DeploymentBackup per backup, newest first, optionally only those of one deployment. Unfinished backups (which
/// have no manifest) are never listed; a folder whose manifest is damaged or edited is reported as a warning and skipped, so
/// the list only holds backups that can be used. It only reads.</para>
/// </summary>
/// <example>
/// <code>Get-DeploymentBackup -Path /backups</code>
/// <para>Lists every backup in /backups, newest first.</para>
/// </example>
/// <example>
/// <code>$latest = Get-DeploymentBackup -Path /backups -DeploymentName infrahub | Select-Object -First 1
/// $latest | Test-DeploymentBackup</code>
/// <para>Takes the newest backup of the infrahub deployment and verifies it.</para>
/// </example>
/// <returns>UpgradeOps.DeploymentBackup objects, newest first.</returns>
/// <seealso cref="NewDeploymentBackupCommand"/>
[Cmdlet(VerbsCommon.Get, "DeploymentBackup")]
[OutputType(typeof(DeploymentBackup))]
public sealed class GetDeploymentBackupCommand : EngineCmdlet
{
    /// <summary>
    /// <para type="description">The folder New-DeploymentBackup wrote to, or one backup folder.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string Path { get; set; } = "";

    /// <summary>
    /// <para type="description">Only backups of this deployment (its compose project name). Binds from the Name of a piped deployment.</para>
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    public string? DeploymentName { get; set; }

    protected override void ProcessRecord()
    {
        var path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        RunEngineOrWriteError(context => Task.FromResult(BackupCatalog.List(path, DeploymentName, context)), backups => WriteObject(backups, enumerateCollection: true));
    }
}

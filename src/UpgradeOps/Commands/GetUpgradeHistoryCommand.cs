using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Upgrades;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Lists the upgrades and rollbacks of a deployment from its journal, newest first.</para>
/// <para type="description">Get-UpgradeHistory reads the journal folder beside the deployment's compose file (.upgradeops/journal)
/// and returns one UpgradeOps.UpgradeResult per upgrade or rollback: when, from which version to which, with which backup,
/// each step's timing, the measured downtime, and how it ended (Succeeded, Failed, RolledBack, Interrupted). An upgrade whose
/// session died shows InProgress with the step it was at: continue it with Invoke-Upgrade -Resume or undo it with
/// Invoke-Rollback. It only reads. A journal that cannot be read (damaged, or edited by hand) is named in a warning
/// and the others are still listed.</para>
/// </summary>
/// <example>
/// <code>Get-UpgradeDeployment -ComposeFile ./docker-compose.yml | Get-UpgradeHistory</code>
/// <para>Lists every upgrade and rollback of the deployment.</para>
/// </example>
/// <example>
/// <code>$d | Get-UpgradeHistory | Where-Object Status -eq 'Failed' | Select-Object -First 1 | Format-List *</code>
/// <para>Shows everything recorded about the latest failed upgrade.</para>
/// </example>
/// <returns>UpgradeOps.UpgradeResult objects, newest first.</returns>
/// <seealso cref="InvokeUpgradeCommand"/>
/// <seealso cref="InvokeRollbackCommand"/>
[Cmdlet(VerbsCommon.Get, "UpgradeHistory")]
[OutputType(typeof(UpgradeResult))]
public sealed class GetUpgradeHistoryCommand : EngineCmdlet
{
    /// <summary>
    /// <para type="description">The deployment, from Get-UpgradeDeployment.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    protected override void ProcessRecord() => RunOrWriteError(() =>
    {
        var (results, unreadable) = UpgradeHistory.List(Deployment!);
        // One damaged journal hides nothing else: the readable ones are listed, each damaged one is named.
        foreach (var problem in unreadable) WriteWarning(problem.Message);
        WriteObject(results, enumerateCollection: true);
    });
}

using UpgradeOps.Hosting;
using UpgradeOps.Journal;

namespace UpgradeOps.Platforms;

/// <summary>
/// One kind of deployment (Docker Compose, a Helm release): how one of its deployments is opened, and what the kind does
/// the same way for all of them. An implementation lives in its platform's folder and is found by
/// <see cref="DeploymentPlatforms"/> at first use, so a new platform is one folder with one class implementing this.
/// </summary>
public interface IPlatform
{
    DeploymentPlatform Kind { get; }

    /// <summary>Whether an upgrade installs chart versions, so planning gives each hop its chart.</summary>
    bool InstallsCharts { get; }

    /// <summary>How an admin goes on with an upgrade that stopped, for diagnostics' guidance (a sentence fragment).</summary>
    string ContinueUpgradeAdvice { get; }

    /// <summary>Whether Restore-DeploymentBackup can put a backup's data back on its own (a report's rollback plan offers it).</summary>
    bool RestoresDataAlone { get; }

    /// <summary>The command that reads the deployment again, for reports: from the deployment when known, else its name.</summary>
    string DescribeCommand(Deployment? deployment, string name);

    /// <summary>
    /// The secret values of the deployment at <paramref name="location"/> that a text made later (a report) must mask, read
    /// locally; none when they cannot be read without asking the engine or cluster.
    /// </summary>
    IEnumerable<KeyValuePair<string, string>> SecretsAt(string location);

    /// <summary>A deployment of this kind; nothing remote is asked until an operation needs it.</summary>
    IDeploymentPlatform Open(Deployment deployment);

    /// <summary>The deployment a journal of this kind was written for, read again; null when the journal is not of this kind.</summary>
    Task<Deployment?> DeploymentOfJournalAsync(UpgradeJournal journal, EngineContext context);

    /// <summary>What a rehearsal from a backup of this kind will do (-WhatIf); nothing is created.</summary>
    Task<RehearsalPlan> PlanRehearsalAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context);

    /// <summary>Rehearses an upgrade on a disposable copy restored from a backup of this kind; production is only read.</summary>
    Task<RehearsalReport> RehearseAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context);
}

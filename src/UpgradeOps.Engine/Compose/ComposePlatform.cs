using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Compose;

/// <summary>Docker Compose deployments: their containers on a Docker Engine, reached through its API, and their compose file and .env.</summary>
public sealed class ComposePlatform : IPlatform
{
    public DeploymentPlatform Kind => DeploymentPlatform.Compose;
    public bool InstallsCharts => false;
    public string ContinueUpgradeAdvice => "Invoke-Upgrade -Deployment $d -Resume continues from the failed step";
    public bool RestoresDataAlone => true;

    public string DescribeCommand(Deployment? deployment, string name) =>
        deployment?.Location is { } composeFile ? $"Get-UpgradeDeployment -ComposeFile {Quote(composeFile)}" : $"Get-UpgradeDeployment -ProjectName {Quote(name)}";

    /// <summary>The .env beside the compose file, and the secrets written in the file itself.</summary>
    public IEnumerable<KeyValuePair<string, string>> SecretsAt(string location) =>
        File.Exists(location) ? ComposeFile.SecretsAt(location) : Array.Empty<KeyValuePair<string, string>>();

    public IDeploymentPlatform Open(Deployment deployment) => new ComposeDeploymentPlatform(deployment);

    public Task<Deployment?> DeploymentOfJournalAsync(UpgradeJournal journal, EngineContext context) => ComposeDiagnostics.DeploymentOfJournalAsync(journal, context);

    public Task<RehearsalPlan> PlanRehearsalAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context) =>
        ComposeRehearsal.PlanAsync(request, backup, context);

    public Task<RehearsalReport> RehearseAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context) =>
        ComposeRehearsal.RunAsync(request, backup, context);

    internal static string Quote(string text) => "'" + text.Replace("'", "''") + "'";
}

/// <summary>One Compose deployment: each operation opens the Docker Engine when it needs it, after its local inputs.</summary>
internal sealed class ComposeDeploymentPlatform(Deployment deployment) : IDeploymentPlatform
{
    public Deployment Deployment { get; } = deployment;

    public string StateAnchor => Deployment.Location
        ?? throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, Deployment.Name,
            $"Deployment '{Deployment.Name}' has no compose file to find its journal beside. Get it with Get-UpgradeDeployment -ComposeFile.");

    public Task<IReadOnlyList<PlannedComponent>> PlanBackupAsync(BackupRequest request, EngineContext context) => ComposeBackup.PlanAsync(request, context);
    public Task<DeploymentBackup> BackUpAsync(BackupRequest request, EngineContext context) => ComposeBackup.BackupAsync(request, context);
    public Task<RestorePlan> PlanRestoreAsync(RestoreRequest request, EngineContext context) => ComposeRestore.PlanAsync(request, context);
    public Task<DeploymentBackup> RestoreAsync(RestoreRequest request, EngineContext context) => ComposeRestore.RestoreAsync(request, context);

    public async Task<IDataStoreHost> OpenDataStoresAsync(CancellationToken ct) => await ComposeDeployment.OpenAsync(Deployment, ct).ConfigureAwait(false);

    /// <summary>Everything a Compose upgrade can be asked is checked while it is planned.</summary>
    public void CheckUpgradeRequest(UpgradeRequest request)
    {
        // A Compose upgrade resumes the very steps its journal lists; another target would be another upgrade.
        if (request.Resume && request.ResumeTo is not null)
            throw new UpgradeOpsException("ResumeTargetNotSupported", ErrorKind.InvalidArgument, request.ResumeTo,
                $"-To with -Resume is for Helm releases. '{Deployment.Name}' resumes the path its journal records: run Invoke-Upgrade -Resume without -To, " +
                "then Invoke-Upgrade -To for a later version.");
    }

    public async Task<UpgradePlan> PlanUpgradeAsync(UpgradeRequest request, EngineContext context) =>
        new(Describe(request, await ComposeUpgrade.PlanAsync(request, context).ConfigureAwait(false)), Array.Empty<string>());

    public async Task<IReadOnlyList<UpgradeResult>> UpgradeAsync(UpgradeRequest request, EngineContext context) =>
        new[] { await ComposeUpgrade.UpgradeAsync(request, context).ConfigureAwait(false) };

    public Task<string> PlanResumeAsync(UpgradeRequest request, EngineContext context) =>
        Task.FromResult($"Resume the interrupted upgrade of '{Deployment.Name}' from its journal.");

    public async Task<IReadOnlyList<UpgradeResult>> ResumeAsync(UpgradeRequest request, EngineContext context) =>
        new[] { await ComposeUpgrade.ResumeAsync(request, context).ConfigureAwait(false) };

    public Task<string> PlanRollbackAsync(RollbackRequest request, EngineContext context) => Task.FromResult(
        $"Roll deployment '{Deployment.Name}' back " +
        (request.UpgradeId is not null ? $"from upgrade {request.UpgradeId}" : request.BackupPath is not null ? $"to backup {request.BackupId ?? request.BackupPath}" : "from its latest upgrade") +
        ": stop the product containers, restore databases, volumes, compose file and .env from the backup (data written since is lost), " +
        "recreate the containers on their previous images, wait until healthy.");

    public Task<UpgradeResult> RollBackAsync(RollbackRequest request, EngineContext context) => ComposeRollback.RollBackAsync(request, context);

    public Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanConfigurationAsync(ConfigurationRequest request, EngineContext context)
    {
        if (Deployment.Location is null)
            throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, Deployment,
                $"Deployment '{Deployment.Name}' has no compose file. Get it again with Get-UpgradeDeployment -ComposeFile.");
        var profile = ProfileLoader.Load(Deployment.Profile);
        return Task.FromResult(ComposeConfiguration.Plan(ComposeFile.Load(Deployment.Location), profile,
            ProductVersion.Parse(request.From), ProductVersion.Parse(request.To), request.ConfigurationValues));
    }

    public async Task<IValidationTarget> OpenValidationTargetAsync(EngineContext context) =>
        await ComposeValidationTarget.OpenAsync(Deployment, context).ConfigureAwait(false);

    public async Task<IReadinessTarget> OpenReadinessTargetAsync(EngineContext context) =>
        await ComposeReadinessTarget.OpenAsync(Deployment, context).ConfigureAwait(false);

    public Task<DiagnosticReport> CollectDiagnosticsAsync(DiagnosticRequest request, UpgradeJournal? journal, EngineContext context) =>
        ComposeDiagnostics.CollectAsync(request, Deployment, journal, context);

    /// <summary>-WhatIf of a Compose upgrade: per hop the images to pull, the configuration changes, the migration, the containers to recreate, the file diffs.</summary>
    internal static string Describe(UpgradeRequest request, IReadOnlyList<PlannedHop> plan)
    {
        var text = new System.Text.StringBuilder();
        text.Append($"Upgrade '{request.Deployment.Name}' {request.Path.From} → {request.Path.To} ({request.Path.Route}), strategy {request.Strategy}, ");
        text.Append($"estimated downtime {request.Path.EstimatedDowntime}; backup: {(request.SkipBackup ? "none (-SkipBackup)" : request.BackupPath ?? "none given")}.");
        foreach (var hop in plan)
        {
            text.Append($"\n  Hop {hop.From} → {hop.To}:");
            text.Append($"\n    pull: {string.Join(", ", hop.ImagesToPull)}");
            foreach (var change in hop.ConfigurationChanges) text.Append($"\n    configuration: {change.RuleId}: {change.Setting} {change.Action}");
            if (hop.MigrationCommand is not null) text.Append($"\n    migrate: {hop.MigrationCommand} (one-off container of the new image)");
            text.Append($"\n    recreate: {string.Join(", ", hop.ContainersToRecreate)}");
            foreach (var diff in hop.FileDiffs.Where(d => d.Length > 0))
                text.Append("\n    ").Append(diff.TrimEnd('\n').Replace("\n", "\n    "));
        }
        return text.ToString();
    }
}

using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;

namespace UpgradeOps.Platforms;

/// <summary>
/// One deployment on its platform: everything the runbook's steps ask of it. Opening it reads nothing remote (local inputs
/// are checked first, the engine or cluster asked only by an operation that needs it); each operation opens and closes
/// what it uses.
/// </summary>
public interface IDeploymentPlatform
{
    Deployment Deployment { get; }

    /// <summary>Where the deployment's journal folder and lock are anchored (beside its compose file, or a release's state folder).</summary>
    string StateAnchor { get; }

    /// <summary>The components a backup would capture, for -WhatIf; nothing is written.</summary>
    Task<IReadOnlyList<PlannedComponent>> PlanBackupAsync(BackupRequest request, EngineContext context);
    Task<DeploymentBackup> BackUpAsync(BackupRequest request, EngineContext context);

    /// <summary>What a restore would stop and put back, for -WhatIf; nothing is changed.</summary>
    Task<RestorePlan> PlanRestoreAsync(RestoreRequest request, EngineContext context);
    Task<DeploymentBackup> RestoreAsync(RestoreRequest request, EngineContext context);

    /// <summary>Where the deployment's data stores run, for verifying a backup's dumps with its servers' own tools.</summary>
    Task<IDataStoreHost> OpenDataStoresAsync(CancellationToken ct);

    /// <summary>Refuses what this platform cannot do at all (before readiness is checked or anything planned).</summary>
    void CheckUpgradeRequest(UpgradeRequest request);

    /// <summary>What the upgrade would do, as -WhatIf prints it; a missing value or chart stops it here, before anything changes.</summary>
    Task<UpgradePlan> PlanUpgradeAsync(UpgradeRequest request, EngineContext context);

    /// <summary>Upgrades along the path; one result per journal written (a Helm release journals each hop).</summary>
    Task<IReadOnlyList<UpgradeResult>> UpgradeAsync(UpgradeRequest request, EngineContext context);

    /// <summary>What -Resume would do, as -WhatIf prints it; nothing is changed.</summary>
    Task<string> PlanResumeAsync(UpgradeRequest request, EngineContext context);

    /// <summary>Continues the interrupted upgrade its journal records; one result per journal written (a Helm release journals each hop).</summary>
    Task<IReadOnlyList<UpgradeResult>> ResumeAsync(UpgradeRequest request, EngineContext context);

    /// <summary>What a rollback would do, for -WhatIf; nothing is changed.</summary>
    Task<string> PlanRollbackAsync(RollbackRequest request, EngineContext context);
    Task<UpgradeResult> RollBackAsync(RollbackRequest request, EngineContext context);

    /// <summary>The configuration migrations from the deployment's version to <paramref name="request"/>'s, planned without writing.</summary>
    Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanConfigurationAsync(ConfigurationRequest request, EngineContext context);

    /// <summary>What the post-upgrade checks read (described afresh); dispose it to close what it opened (a port-forward).</summary>
    Task<IValidationTarget> OpenValidationTargetAsync(EngineContext context);

    /// <summary>What the readiness checklist reads beyond what is the same everywhere.</summary>
    Task<IReadinessTarget> OpenReadinessTargetAsync(EngineContext context);

    /// <summary>Troubleshooting: every instance's state and log tail, and what the journal says went wrong.</summary>
    Task<DiagnosticReport> CollectDiagnosticsAsync(DiagnosticRequest request, UpgradeJournal? journal, EngineContext context);
}

/// <summary>What an upgrade would do, for -WhatIf and the confirmation prompt.</summary>
/// <param name="Description">The exact changes, masked: files and their diffs, containers or helm commands.</param>
/// <param name="Warnings">What the admin should know before confirming (a chart version that replaces the path's).</param>
public sealed record UpgradePlan(string Description, IReadOnlyList<string> Warnings);

/// <summary>What Convert-UpgradeConfiguration asks: the target version and, on Helm, the values file the rules edit.</summary>
public sealed class ConfigurationRequest
{
    public required string From { get; init; }
    public required string To { get; init; }
    public string? ValuesFile { get; init; }
    public string? ChartVersion { get; init; }
    public IReadOnlyDictionary<string, string>? ConfigurationValues { get; init; }
}

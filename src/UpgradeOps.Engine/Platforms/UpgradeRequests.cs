namespace UpgradeOps.Platforms;

/// <summary>What Invoke-Upgrade asks.</summary>
public sealed class UpgradeRequest
{
    public required Deployment Deployment { get; init; }
    public required UpgradePath Path { get; init; }
    public string? BackupPath { get; init; }
    /// <summary>The backup's id, for what -WhatIf says.</summary>
    public string? BackupId { get; init; }
    /// <summary>Continue the interrupted upgrade the journal records (-Resume).</summary>
    public bool Resume { get; init; }
    /// <summary>Helm, with -Resume: the version to continue to instead of the one the interrupted upgrade's journal names (-To).</summary>
    public string? ResumeTo { get; init; }
    /// <summary>Helm, with -Resume: released versions to plan the continued path through (-AvailableVersion), as for Test-UpgradePath.</summary>
    public IReadOnlyList<string> AvailableVersions { get; init; } = Array.Empty<string>();
    /// <summary>A Helm release's chart, values files and helm; null when none was given.</summary>
    public HelmUpgradeOptions? Helm { get; init; }
    public bool SkipBackup { get; init; }
    public UpgradeStrategy Strategy { get; init; } = UpgradeStrategy.Standard;
    public bool RollbackOnFailure { get; init; }
    /// <summary>
    /// The API's base URL, probed during the upgrade for its downtime (the result's Downtime); null: the deployment's own
    /// (a Compose deployment's published API port; a Helm release has none, so nothing is measured without one).
    /// </summary>
    public string? ApiEndpoint { get; init; }
    public TimeSpan MigrationTimeout { get; init; } = TimeSpan.FromMinutes(30);
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>Take a stale lock left by a dead process.</summary>
    public bool Force { get; init; }
    /// <summary>Configuration values given by the admin (name → value) for configuration rules.</summary>
    public IReadOnlyDictionary<string, string>? ConfigurationValues { get; init; }
    public byte[]? Passphrase { get; init; }
    /// <summary>After a failed step, start the previous containers again (a rehearsal's disposable copy skips this: it is removed).</summary>
    public bool ServePreviousOnFailure { get; init; } = true;
}

/// <summary>What one hop would do, for -WhatIf.</summary>
public sealed record PlannedHop(string From, string To, IReadOnlyList<string> ImagesToPull, IReadOnlyList<string> ContainersToRecreate,
    IReadOnlyList<ConfigurationChange> ConfigurationChanges, string? MigrationCommand, IReadOnlyList<string> FileDiffs);

/// <summary>What Invoke-Rollback asks.</summary>
public sealed class RollbackRequest
{
    public required Deployment Deployment { get; init; }
    /// <summary>The upgrade to undo (its journal); null: the latest upgrade of the deployment.</summary>
    public string? UpgradeId { get; init; }
    /// <summary>Roll back to this backup when no journal names one.</summary>
    public string? BackupPath { get; init; }
    /// <summary>That backup's id, for what -WhatIf says.</summary>
    public string? BackupId { get; init; }
    public byte[]? Passphrase { get; init; }
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>Helm: the helm binary (helm rollback is the one thing done with it).</summary>
    public string? HelmPath { get; init; }
}

/// <summary>What Invoke-Upgrade needs beyond the common request for a Helm release.</summary>
public sealed class HelmUpgradeOptions
{
    /// <summary>The chart: a local path, a packaged .tgz, or repo/chart (then "helm repo update" runs first).</summary>
    public required string Chart { get; init; }
    /// <summary>Chart version (--version); null keeps helm's choice (the newest, or the local chart's own).</summary>
    public string? ChartVersion { get; init; }
    public IReadOnlyList<string> ValuesFiles { get; init; } = Array.Empty<string>();
    public string? HelmPath { get; init; }
}

namespace UpgradeOps;

public enum UpgradeStrategy { Standard, Rolling, Helm }

public enum UpgradeStatus { InProgress, Succeeded, Failed, RolledBack, Interrupted }

public enum StepStatus { Pending, Running, Succeeded, Failed, Skipped }

/// <summary>One step of an upgrade or rollback, with its timing.</summary>
public sealed class UpgradeStepResult
{
    public required string Name { get; set; }
    public StepStatus Status { get; set; } = StepStatus.Pending;
    public DateTimeOffset? Started { get; set; }
    public TimeSpan Duration { get; set; }
    public string? Detail { get; set; }

    public override string ToString() => $"{Name}: {Status}";
}

/// <summary>What an upgrade did: per-step timings, the measured API downtime, the migration output, the backup used.</summary>
public sealed class UpgradeResult
{
    public required string Id { get; set; }
    /// <summary>The deployment's name (compose project or release).</summary>
    public required string DeploymentName { get; set; }
    /// <summary>The deployment as it was described before the upgrade.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Deployment? Deployment { get; set; }
    public required string From { get; set; }
    public required string To { get; set; }
    public UpgradeStrategy Strategy { get; set; }
    public UpgradeStatus Status { get; set; } = UpgradeStatus.InProgress;
    /// <summary>"Upgrade" or "Rollback".</summary>
    public string Operation { get; set; } = "Upgrade";
    public List<UpgradeStepResult> Steps { get; set; } = new();
    /// <summary>How long the API did not answer, measured by probing it during the upgrade.</summary>
    public TimeSpan Downtime { get; set; }
    /// <summary>The API's latencies measured just before the upgrade stopped anything: Test-PostUpgrade compares with them.</summary>
    public PerformanceBaseline? Baseline { get; set; }
    public TimeSpan Duration { get; set; }
    public DateTimeOffset Started { get; set; }
    public string? BackupId { get; set; }
    public string? BackupPath { get; set; }
    /// <summary>The output of each migration command (secrets redacted), in hop order.</summary>
    public List<string> MigrationOutput { get; set; } = new();
    public string? JournalPath { get; set; }
    public string? Error { get; set; }
    public string? ErrorId { get; set; }
    /// <summary>Set when an upgrade was rolled back (automatically or by Invoke-Rollback).</summary>
    public string? RolledBackBy { get; set; }

    public override string ToString() => $"{Id} {From} → {To}: {Status}";
}

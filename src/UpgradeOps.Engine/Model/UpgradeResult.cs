using UpgradeOps.Profiles;

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
    /// <summary>
    /// Where the deployment is: its compose file, or namespace/release. Kept in the journal (it is no secret), so a result read back
    /// by Get-UpgradeHistory still tells a report where the deployment's secrets are to mask them.
    /// </summary>
    public string? Location { get; set; }
    /// <summary>The kind of deployment upgraded (Compose, Kubernetes), so a result read back from history is reported as its platform says.</summary>
    public DeploymentPlatform Platform { get; set; }
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
    /// <summary>Helm: each workload of the release as the upgrade rolled it out (time to ready), in the journal too.</summary>
    public List<WorkloadRollout> Rollout { get; set; } = new();
    public string? JournalPath { get; set; }
    public string? Error { get; set; }
    public string? ErrorId { get; set; }
    /// <summary>
    /// What kind of failure <see cref="ErrorId"/> is: the category of the error Invoke-Upgrade writes for it. Null without
    /// one, and in results journalled by versions that did not keep it.
    /// </summary>
    public ErrorKind? ErrorCategory { get; set; }
    /// <summary>Set when an upgrade was rolled back (automatically or by Invoke-Rollback).</summary>
    public string? RolledBackBy { get; set; }

    /// <summary>
    /// Records why the operation ended: an engine error's own ErrorId and kind, else (an exception the engine did not raise
    /// itself) <paramref name="errorId"/> and <paramref name="kind"/>; the message is the exception's unless one is given.
    /// </summary>
    public void RecordError(Exception ex, string errorId, ErrorKind kind, string? message = null)
    {
        (ErrorId, ErrorCategory) = ex is UpgradeOpsException known ? (known.ErrorId, known.Kind) : (errorId, kind);
        Error = message ?? ex.Message;
    }

    public override string ToString() => $"{Id} {From} → {To}: {Status}";
}

/// <summary>
/// One workload of a Helm release during an upgrade's rollout, as its status said when polled (once a second): whether
/// the upgrade changed it, and how long it took from its new spec to all replicas updated and ready.
/// </summary>
public sealed class WorkloadRollout
{
    /// <summary>The Deployment or StatefulSet.</summary>
    public required string Workload { get; set; }
    public string Kind { get; set; } = "Deployment";
    public ServiceRole Role { get; set; } = ServiceRole.Other;
    public int Replicas { get; set; }
    public int Updated { get; set; }
    public int Ready { get; set; }
    /// <summary>Whether the upgrade changed its spec (a new generation); an unchanged workload only had to stay ready.</summary>
    public bool Changed { get; set; }
    /// <summary>When its new spec was first seen.</summary>
    public DateTimeOffset? Started { get; set; }
    /// <summary>From its new spec to all replicas updated and ready; null while (or when) it did not get there.</summary>
    public TimeSpan? TimeToReady { get; set; }
    /// <summary>What its pods said when it did not roll out (waiting reasons, exit codes, restarts, last log line).</summary>
    public string? Detail { get; set; }

    /// <summary>A short sentence for a step's detail.</summary>
    public override string ToString() =>
        $"{Workload} ({Role}) {Updated}/{Replicas} updated, {Ready}/{Replicas} ready" +
        (TimeToReady is { } t ? $" {t.TotalSeconds:N1} s after its new spec" : Changed ? ", not rolled out" : ", unchanged");
}

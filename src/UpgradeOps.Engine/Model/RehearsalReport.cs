namespace UpgradeOps;

public enum RehearsalStatus { Passed, Failed, Interrupted }

/// <summary>One hop of a rehearsed upgrade, timed on the copy.</summary>
public sealed class RehearsalHop
{
    public required string From { get; set; }
    public required string To { get; set; }
    /// <summary>The hop from its first step to its last.</summary>
    public TimeSpan Duration { get; set; }
    /// <summary>The migration command's run time.</summary>
    public TimeSpan Migration { get; set; }
    /// <summary>From stopping the API to the recreated API being healthy (the Standard strategy's outage for this hop).</summary>
    public TimeSpan ApiUnavailable { get; set; }
    public StepStatus Status { get; set; }

    public override string ToString() => $"{From} → {To}: {Status} in {Duration.TotalSeconds:N1} s";
}

/// <summary>
/// What a rehearsal measured on a disposable copy restored from a production backup: every hop's timings, the
/// validation of the upgraded copy, what its logs said, and the maintenance window those measurements call for.
/// </summary>
public sealed class RehearsalReport
{
    public required string Id { get; set; }
    /// <summary>The production deployment the backup came from (never touched by the rehearsal).</summary>
    public required string DeploymentName { get; set; }
    /// <summary>The kind of deployment rehearsed (Compose, Kubernetes).</summary>
    public DeploymentPlatform Platform { get; set; }
    /// <summary>The copy's compose project name.</summary>
    public required string CopyName { get; set; }
    /// <summary>The copy's compose file, while it exists (-Keep).</summary>
    public string? CopyLocation { get; set; }
    /// <summary>Compose: production's ports and the copy's in their place (host networking: each port the copy must not share).</summary>
    public List<PortMapping> PortMap { get; set; } = new();
    public bool Kept { get; set; }
    public required string From { get; set; }
    public required string To { get; set; }
    public string? Route { get; set; }
    public UpgradeStrategy Strategy { get; set; }
    public string? BackupId { get; set; }
    public string? BackupPath { get; set; }
    public DateTimeOffset Started { get; set; }
    public TimeSpan Duration { get; set; }
    public RehearsalStatus Status { get; set; }
    /// <summary>Creating the copy and restoring the backup into it (what a restore during the real window costs).</summary>
    public TimeSpan Restore { get; set; }
    public List<RehearsalHop> Hops { get; set; } = new();
    /// <summary>The API downtime the upgrade measured on the copy, probing every 20 ms.</summary>
    public TimeSpan Downtime { get; set; }
    /// <summary>How long the backup that production needs first took (from its manifest).</summary>
    public TimeSpan Backup { get; set; }
    /// <summary>The window to plan: backup + the measured upgrade + validation, with the profile's safety factor.</summary>
    public TimeSpan EstimatedWindow { get; set; }
    public string? EstimateBasis { get; set; }
    public UpgradeResult? Upgrade { get; set; }
    public ValidationReport? Validation { get; set; }
    /// <summary>Error and warning lines of the copy's logs during the rehearsal (secrets masked).</summary>
    public List<string> LogErrors { get; set; } = new();
    public List<string> LogWarnings { get; set; } = new();
    /// <summary>What went wrong, and what should be looked at before the real upgrade.</summary>
    public List<string> Errors { get; set; } = new();
    public List<string> Warnings { get; set; } = new();
    public bool Passed => Status == RehearsalStatus.Passed;

    /// <summary>
    /// Records how a rehearsal stopped early: interrupted (null: Ctrl+C) or failed with <paramref name="error"/>, whose
    /// message is masked with <paramref name="mask"/> (an error may quote what a tool printed).
    /// </summary>
    internal void Stopped(Exception? error, Func<string, string>? mask = null)
    {
        Status = error is null ? RehearsalStatus.Interrupted : RehearsalStatus.Failed;
        var text = error switch
        {
            null => "The rehearsal was interrupted; its copy is removed.",
            UpgradeOpsException u => $"{u.Message} ({u.ErrorId})",
            _ => error.Message,
        };
        Errors.Add(mask?.Invoke(text) ?? text);
    }

    public override string ToString() => $"{Id}: {From} → {To} {Status}, window {EstimatedWindow}";
}

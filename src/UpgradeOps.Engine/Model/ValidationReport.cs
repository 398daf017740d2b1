namespace UpgradeOps;

/// <summary>What Test-PostUpgrade found: every check, with its status, detail and duration.</summary>
public sealed class ValidationReport
{
    public required string DeploymentName { get; set; }
    public string? ExpectedVersion { get; set; }
    public DateTimeOffset CheckedAt { get; set; }
    /// <summary>No check failed (warnings and skipped checks do not fail a validation).</summary>
    public bool Passed => Checks.All(c => c.Status != CheckStatus.Failed);
    public List<CheckResult> Checks { get; set; } = new();
    public TimeSpan Duration { get; set; }
    /// <summary>The latencies measured by the Performance check, usable as the baseline of a later validation.</summary>
    public PerformanceBaseline? Performance { get; set; }

    public override string ToString() => $"{DeploymentName}: {(Passed ? "Passed" : "Failed")}";
}

/// <summary>Latencies of the profile's requests at one moment (before an upgrade, or after it).</summary>
public sealed class PerformanceBaseline
{
    public required string DeploymentName { get; set; }
    public string? Version { get; set; }
    public DateTimeOffset CapturedAt { get; set; }
    public List<RequestLatency> Requests { get; set; } = new();

    public override string ToString() => $"{DeploymentName} {Version} at {CapturedAt:u}: " +
        string.Join(", ", Requests.Select(r => $"{r.Name} p95 {r.P95Milliseconds:N1} ms"));
}

public sealed class RequestLatency
{
    public required string Name { get; set; }
    public int Samples { get; set; }
    public int Failures { get; set; }
    public double P50Milliseconds { get; set; }
    public double P95Milliseconds { get; set; }
}

/// <summary>What Test-UpgradeReadiness found: the guide's pre-upgrade checklist, each item with its remedy.</summary>
public sealed class ReadinessReport
{
    public required string DeploymentName { get; set; }
    public string? From { get; set; }
    public required string To { get; set; }
    /// <summary>No item failed (warnings do not block an upgrade).</summary>
    public bool Ready => Checks.All(c => c.Status != CheckStatus.Failed);
    public List<CheckResult> Checks { get; set; } = new();
    public UpgradePath? Path { get; set; }

    public override string ToString() => $"{DeploymentName} {From} → {To}: {(Ready ? "Ready" : "Not ready")}";
}


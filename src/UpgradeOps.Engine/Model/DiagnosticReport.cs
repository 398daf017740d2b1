using System.Text.Json.Serialization;
using UpgradeOps.Hosting;

namespace UpgradeOps;

/// <summary>How serious a diagnostic finding is.</summary>
public enum FindingSeverity { Error, Warning, Information }

/// <summary>
/// What Get-UpgradeDiagnostic found on a deployment: the state and last log lines of every container, what the
/// newest (or the given) upgrade journal recorded about a failure, and findings that turn known patterns into
/// guidance. Every text in it is redacted with the deployment's .env values.
/// </summary>
public sealed class DiagnosticReport
{
    public required string DeploymentName { get; set; }
    public DateTimeOffset CollectedAt { get; set; }
    /// <summary>The version the deployment runs (or its files name when the containers disagree).</summary>
    public string? Version { get; set; }
    /// <summary>Compose or Kubernetes: the remedies differ (a Helm upgrade is run again rather than resumed).</summary>
    public DeploymentPlatform Platform { get; set; }
    public List<ServiceDiagnostic> Services { get; set; } = new();
    /// <summary>The upgrade or rollback whose journal was read, if any.</summary>
    public string? UpgradeId { get; set; }
    public string? Operation { get; set; }
    public UpgradeStatus? UpgradeStatus { get; set; }
    /// <summary>The step that failed (name as in the journal), or null.</summary>
    public string? FailedStep { get; set; }
    public string? Error { get; set; }
    public string? ErrorId { get; set; }
    /// <summary>The migration command's output recorded in the journal, in hop order.</summary>
    public List<string> MigrationOutput { get; set; } = new();
    public List<DiagnosticFinding> Findings { get; set; } = new();
    public string? JournalPath { get; set; }
    /// <summary>The bundle written with -OutFile, or null.</summary>
    public string? OutFile { get; set; }

    /// <summary>True when at least one finding is an error.</summary>
    public bool HasErrors => Findings.Any(f => f.Severity == FindingSeverity.Error);

    /// <summary>The journal file's text, redacted (for the bundle; not shown).</summary>
    [JsonIgnore]
    internal string? JournalText { get; set; }

    /// <summary>How the report's texts were masked (the bundle masks once more with it).</summary>
    [JsonIgnore]
    internal Func<string, string>? Mask { get; set; }

    public override string ToString() => $"{DeploymentName} {Version}: {Findings.Count} finding(s)";
}

/// <summary>One container of a service, as Docker reports it, with its last log lines.</summary>
public sealed class ServiceDiagnostic
{
    public required string Service { get; set; }
    public required string Container { get; set; }
    public string? Image { get; set; }
    /// <summary>running, exited, restarting, paused, dead, created.</summary>
    public string? State { get; set; }
    /// <summary>healthy, unhealthy, starting, or null without a healthcheck.</summary>
    public string? Health { get; set; }
    public long? ExitCode { get; set; }
    public long RestartCount { get; set; }
    public bool OomKilled { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    /// <summary>The last log lines (stdout and stderr, each with Docker's timestamp), secrets redacted.</summary>
    public List<string> LogTail { get; set; } = new();

    public override string ToString() => $"{Container}: {State}";
}

/// <summary>A known problem recognised in the logs, the migration output, the journal or the configuration, with what to do.</summary>
public sealed class DiagnosticFinding
{
    public required string Id { get; set; }
    public FindingSeverity Severity { get; set; }
    /// <summary>Where it was found: "logs: &lt;containers&gt;", "migration", "error", "container: &lt;name&gt;", "configuration", "journal".</summary>
    public required string Source { get; set; }
    /// <summary>The first line that matched (redacted), or the fact the finding rests on.</summary>
    public string? Evidence { get; set; }
    public required string Guidance { get; set; }

    public override string ToString() => $"{Severity} {Id}: {Guidance}";
}

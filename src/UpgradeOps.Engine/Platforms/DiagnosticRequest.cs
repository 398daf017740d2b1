namespace UpgradeOps.Platforms;

/// <summary>What Get-UpgradeDiagnostic asks.</summary>
public sealed class DiagnosticRequest
{
    /// <summary>The deployment; when null, it is read again from the journal's compose file, profile and Docker endpoint.</summary>
    public Deployment? Deployment { get; init; }
    /// <summary>The upgrade or rollback to read (its Id); null: the newest.</summary>
    public string? UpgradeId { get; init; }
    /// <summary>The journal file to read, instead of looking it up by id.</summary>
    public string? JournalPath { get; init; }
    /// <summary>How many log lines per container.</summary>
    public int Tail { get; init; } = 50;
    /// <summary>Only log lines written at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }
    /// <summary>Only these compose services; empty means all.</summary>
    public IReadOnlyList<string> Services { get; init; } = Array.Empty<string>();
}

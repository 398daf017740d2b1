namespace UpgradeOps.Platforms;

public sealed class RehearsalRequest
{
    /// <summary>The production backup the copy is restored from.</summary>
    public required string BackupPath { get; init; }
    public required string To { get; init; }
    /// <summary>The production deployment; found again from the backup's compose file and profile when null.</summary>
    public Deployment? Deployment { get; init; }
    public IReadOnlyList<string> AvailableVersions { get; init; } = Array.Empty<string>();
    public UpgradeStrategy Strategy { get; init; } = UpgradeStrategy.Standard;
    public IReadOnlyDictionary<string, string>? ConfigurationValues { get; init; }
    public byte[]? Passphrase { get; init; }
    public TimeSpan MigrationTimeout { get; init; } = TimeSpan.FromMinutes(30);
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>Leave the copy running for a look around; the report says how to remove it.</summary>
    public bool Keep { get; init; }
    /// <summary>Rehearse with a backup that fails verification.</summary>
    public bool Force { get; init; }
    /// <summary>Where copies' folders go; the user's data folder by default.</summary>
    public string? Root { get; init; }
    /// <summary>The rehearsal's id (names the copy); one per request, so -WhatIf names what the run creates.</summary>
    public string Id { get; init; } = NewId();
    /// <summary>A Helm release's copy: the chart, helm and the copy's own values. Null for a Compose backup.</summary>
    public HelmRehearsalOptions? Helm { get; init; }

    /// <summary>A rehearsal id: when, and six random hex digits.</summary>
    public static string NewId() => $"{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
}

/// <summary>What a rehearsal will do, for -WhatIf and the confirmation prompt.</summary>
/// <param name="Creates">What the run creates and removes, when it is said differently from a Compose copy (a Helm release's namespace and commands).</param>
public sealed record RehearsalPlan(string DeploymentName, string From, string To, string Route, string BackupId, string CopyRoot, string? Creates = null);

/// <summary>What Invoke-UpgradeRehearsal needs beyond the common request to rehearse on a copy of a Helm release.</summary>
public sealed class HelmRehearsalOptions
{
    /// <summary>The chart, as Invoke-Upgrade -Chart takes it: a local folder, a .tgz, or repo/chart.</summary>
    public string? Chart { get; init; }
    /// <summary>The chart version of the upgrade's hops (as Invoke-Upgrade -ChartVersion); the copy is installed at the backup's chart version.</summary>
    public string? ChartVersion { get; init; }
    public string? HelmPath { get; init; }
    /// <summary>Values files given to the copy's install after the backup's values (e.g. the real values of secrets an unencrypted backup masked).</summary>
    public IReadOnlyList<string> ValuesFiles { get; init; } = Array.Empty<string>();
    /// <summary>Values of the copy only, by dotted key (ingress host, host ports): they win over the backup's and the files'.</summary>
    public IReadOnlyDictionary<string, string> CopyValues { get; init; } = new Dictionary<string, string>();
}

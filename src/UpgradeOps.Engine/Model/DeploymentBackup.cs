namespace UpgradeOps;

public enum BackupComponentKind { PostgresDump, Neo4jDump, Volume, ConfigFile, KubernetesResources, HelmRelease }

/// <summary>A Neo4j edition, which decides how its database is backed up: Community offline (a dump), Enterprise online (a backup).</summary>
public enum Neo4jEdition { Community, Enterprise }

/// <summary>One file of a backup: a database dump, a volume archive, a configuration file.</summary>
public sealed class BackupComponent
{
    public required string Name { get; set; }
    public required BackupComponentKind Kind { get; set; }
    /// <summary>The file, relative to the backup folder.</summary>
    public required string File { get; set; }
    public long SizeBytes { get; set; }
    public required string Sha256 { get; set; }
    /// <summary>Where the data came from: the database, the volume and path, the original file path.</summary>
    public string? Source { get; set; }
    /// <summary>PostgreSQL: server major version at dump time.</summary>
    public int? ServerMajorVersion { get; set; }
    /// <summary>PostgreSQL: pg_dump major version (pg_restore of an older server cannot read a newer dump).</summary>
    public int? DumpMajorVersion { get; set; }
    /// <summary>PostgreSQL: the row count of every table at dump time, "schema.table" → rows.</summary>
    public Dictionary<string, long>? RowCounts { get; set; }
    /// <summary>Neo4j: the edition that took it: Community, an offline dump; Enterprise, a full online backup artifact (which Community cannot load).</summary>
    public Neo4jEdition? Neo4jEdition { get; set; }

    public override string ToString() => $"{Name} ({Kind}, {SizeBytes} bytes)";
}

/// <summary>A backup of a deployment: one folder with a manifest.json and one file per component.</summary>
public sealed class DeploymentBackup
{
    public required string Id { get; set; }
    /// <summary>The backup folder (where it is now, so not part of the manifest).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Path { get; set; } = "";
    public required DateTimeOffset CreatedAt { get; set; }
    public required string DeploymentName { get; set; }
    public string? Version { get; set; }
    public DeploymentPlatform Platform { get; set; }
    public string? Profile { get; set; }
    /// <summary>The compose file (or namespace/release) the backup was taken from.</summary>
    public string? Location { get; set; }
    public List<BackupComponent> Components { get; set; } = new();
    public bool Encrypted { get; set; }
    /// <summary>Image reference → image id (digest) of every service at backup time, for rollback.</summary>
    public Dictionary<string, string> ImageDigests { get; set; } = new();
    /// <summary>Tool → version (UpgradeOps, pg_dump, Docker Engine).</summary>
    public Dictionary<string, string> ToolVersions { get; set; } = new();
    public TimeSpan Duration { get; set; }
    public long SizeBytes => Components.Sum(c => c.SizeBytes);

    public override string ToString() => $"{Id} ({DeploymentName} {Version})";
}

public enum CheckStatus { Passed, Failed, Warning, Skipped }

/// <summary>One check of a report (backup verification, readiness, validation).</summary>
public sealed class CheckResult
{
    public required string Name { get; set; }
    public required CheckStatus Status { get; set; }
    public string? Detail { get; set; }
    /// <summary>The stable id of the problem when the check failed (e.g. BackupChecksumMismatch).</summary>
    public string? ErrorId { get; set; }
    /// <summary>What to do about a failed or warning check.</summary>
    public string? Remedy { get; set; }
    public TimeSpan Duration { get; set; }

    public override string ToString() => $"{Name}: {Status}";
}

/// <summary>What Test-DeploymentBackup found.</summary>
public sealed class BackupVerification
{
    public required string BackupId { get; set; }
    public required string Path { get; set; }
    public bool Passed => Checks.All(c => c.Status is CheckStatus.Passed or CheckStatus.Warning or CheckStatus.Skipped);
    public bool RestoreTested { get; set; }
    public List<CheckResult> Checks { get; set; } = new();
    public DeploymentBackup? Backup { get; set; }

    /// <summary>The first failed check's ErrorId, for scripts and for refusing a restore.</summary>
    public string? FailureErrorId => Checks.FirstOrDefault(c => c.Status == CheckStatus.Failed)?.ErrorId;

    public override string ToString() => $"{BackupId}: {(Passed ? "Passed" : "Failed")}";
}

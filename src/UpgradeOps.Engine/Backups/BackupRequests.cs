namespace UpgradeOps.Backups;

/// <summary>What New-DeploymentBackup asks.</summary>
public sealed class BackupRequest
{
    public required Deployment Deployment { get; init; }
    /// <summary>The folder that receives the backup's own folder.</summary>
    public required string Path { get; init; }
    /// <summary>UTF-8 bytes of the encryption passphrase, or null for no encryption. Zeroed by the caller.</summary>
    public byte[]? Passphrase { get; init; }
    /// <summary>Only these components (data store names, or "config"); empty means all.</summary>
    public IReadOnlyList<string> Components { get; init; } = Array.Empty<string>();
    /// <summary>Back up even while the product reports background tasks pending or running (-Force).</summary>
    public bool IgnoreRunningTasks { get; init; }
    /// <summary>The plan the user confirmed (ShouldProcess showed it), done as it is; null: planned again by the backup.</summary>
    public IReadOnlyList<PlannedComponent>? Planned { get; set; }
}

/// <summary>One component a backup would capture, for -WhatIf.</summary>
public sealed record PlannedComponent(string Name, BackupComponentKind Kind, string Source, string File);

/// <summary>What Restore-DeploymentBackup asks.</summary>
public sealed class RestoreRequest
{
    public required string BackupPath { get; init; }
    public required Deployment Deployment { get; init; }
    public byte[]? Passphrase { get; init; }
    /// <summary>Restore a backup that fails verification, or was taken at another version.</summary>
    public bool Force { get; init; }
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromMinutes(3);
}

/// <summary>What a restore would do, for -WhatIf.</summary>
/// <param name="StopVerb">What is done to the instances first, as -WhatIf says it ("stop" containers, "scale down" workloads).</param>
/// <param name="Ending">How the restore ends, as -WhatIf says it.</param>
public sealed record RestorePlan(IReadOnlyList<string> StopContainers, IReadOnlyList<string> Actions, string StopVerb, string Ending);

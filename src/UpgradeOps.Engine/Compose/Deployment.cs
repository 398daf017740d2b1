namespace UpgradeOps;

public enum DeploymentPlatform { Compose, Kubernetes }

/// <summary>A deployed product found by Get-UpgradeDeployment: what runs, at which version, where.</summary>
public sealed class Deployment
{
    public required string Name { get; init; }
    public required DeploymentPlatform Platform { get; init; }
    public required string Profile { get; init; }
    public string? Version { get; init; }
    public string? ChartVersion { get; init; }
    public IReadOnlyList<DeploymentService> Services { get; init; } = Array.Empty<DeploymentService>();
    public string? ApiEndpoint { get; init; }
    /// <summary>The compose file, or namespace/release.</summary>
    public string? Location { get; init; }
    /// <summary>Size of the product's databases, when known; scales the time estimates.</summary>
    public long? DatabaseSizeBytes { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();

    public override string ToString() => $"{Name} {Version} ({Platform})";
}

public sealed class DeploymentService
{
    public required string Name { get; init; }
    public Profiles.ServiceRole Role { get; init; }
    public string? Image { get; init; }
    public string? Version { get; init; }
    public int Replicas { get; init; }
    public bool Healthy { get; init; }

    public override string ToString() => Name;
}

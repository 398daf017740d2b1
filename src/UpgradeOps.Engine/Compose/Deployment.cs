namespace UpgradeOps;

public enum DeploymentPlatform { Compose, Kubernetes }

/// <summary>A deployed product found by Get-UpgradeDeployment: what runs, at which version, where.</summary>
public sealed class Deployment
{
    public required string Name { get; set; }
    public required DeploymentPlatform Platform { get; set; }
    public required string Profile { get; set; }
    public string? Version { get; set; }
    public string? ChartVersion { get; set; }
    public IReadOnlyList<DeploymentService> Services { get; set; } = Array.Empty<DeploymentService>();
    public string? ApiEndpoint { get; set; }
    /// <summary>The compose file, or namespace/release.</summary>
    public string? Location { get; set; }
    /// <summary>Size of the product's databases, when known; scales the time estimates.</summary>
    public long? DatabaseSizeBytes { get; set; }
    public IReadOnlyList<string> Warnings { get; set; } = Array.Empty<string>();

    public override string ToString() => $"{Name} {Version} ({Platform})";
}

public sealed class DeploymentService
{
    public required string Name { get; set; }
    public Profiles.ServiceRole Role { get; set; }
    public string? Image { get; set; }
    public string? Version { get; set; }
    public int Replicas { get; set; }
    public bool Healthy { get; set; }

    public override string ToString() => Name;
}

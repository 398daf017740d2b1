namespace UpgradeOps;

public enum DeploymentPlatform { Compose, Kubernetes }

/// <summary>A deployed product found by Get-UpgradeDeployment: what runs, at which version, where.</summary>
public sealed class Deployment
{
    public required string Name { get; set; }
    public required DeploymentPlatform Platform { get; set; }
    public required string Profile { get; set; }
    /// <summary>The version the product runs; null when its containers disagree (see Warnings).</summary>
    public string? Version { get; set; }
    /// <summary>The version the compose file and .env (or Helm values) name.</summary>
    public string? ConfiguredVersion { get; set; }
    /// <summary>The version the running product containers report through their images.</summary>
    public string? RunningVersion { get; set; }
    public string? ChartVersion { get; set; }
    /// <summary>Helm: the chart's name, the release's revision and its status (deployed, failed, pending-upgrade, ...).</summary>
    public string? ChartName { get; set; }
    public int? Revision { get; set; }
    public string? ReleaseStatus { get; set; }
    /// <summary>Helm: the newest revision helm marked deployed (what a release left pending-* is rolled back to); null when none was.</summary>
    public int? DeployedRevision { get; set; }
    /// <summary>Helm: how the cluster was reached (the kubeconfig file and context given to Get-UpgradeDeployment, if any).</summary>
    public string? Kubeconfig { get => _kubeconfig; set => _kubeconfig = Given(value); }
    public string? KubeContext { get => _kubeContext; set => _kubeContext = Given(value); }
    public IReadOnlyList<DeploymentService> Services { get; set; } = Array.Empty<DeploymentService>();
    public string? ApiEndpoint { get; set; }
    /// <summary>The compose file, or namespace/release.</summary>
    public string? Location { get => _location; set => _location = Given(value); }
    /// <summary>Helm: the release's namespace and name (what Location shows as namespace/release).</summary>
    public string? Namespace { get => _namespace; set => _namespace = Given(value); }
    public string? Release { get => _release; set => _release = Given(value); }
    /// <summary>The Docker endpoint (or Kubernetes API server) the deployment was read from.</summary>
    public string? Endpoint { get => _endpoint; set => _endpoint = Given(value); }
    /// <summary>Size of the product's databases, when known; scales the time estimates.</summary>
    public long? DatabaseSizeBytes { get; set; }
    /// <summary>True when every service has its expected containers running and healthy.</summary>
    public bool Healthy => Services.Count > 0 && Services.All(s => s.Healthy);
    public IReadOnlyList<string> Warnings { get; set; } = Array.Empty<string>();

    private string? _location, _namespace, _release, _endpoint, _kubeconfig, _kubeContext;

    /// <summary>
    /// Blank is not given: PowerShell sets a string property it is given $null as "" (a deployment made by hand, or from
    /// a hashtable), and "" is no compose file, endpoint or kubeconfig; as null, each command says what is missing.
    /// </summary>
    private static string? Given(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
    /// <summary>
    /// A rehearsal copy's ports: each port the profile names with the port the copy listens on instead (empty for anything
    /// else). A list of pairs rather than a map keyed by port: ConvertTo-Json takes string keys only.
    /// </summary>
    public IReadOnlyList<PortMapping> PortMap { get; set; } = Array.Empty<PortMapping>();
    /// <summary>True for a disposable copy made by Invoke-UpgradeRehearsal.</summary>
    public bool IsRehearsalCopy => PortMap.Count > 0;

    /// <summary>The port this deployment really uses for one the profile names.</summary>
    public int MapPort(int profilePort) => PortMap.FirstOrDefault(p => p.ProfilePort == profilePort)?.Port ?? profilePort;

    public override string ToString() => $"{Name} {Version} ({Platform})";
}

/// <summary>One port of a rehearsal copy: the port the profile names, and the one the copy listens on instead.</summary>
public sealed class PortMapping
{
    public int ProfilePort { get; set; }
    public int Port { get; set; }

    /// <summary>The pairs of a port → port map, by profile port.</summary>
    public static IReadOnlyList<PortMapping> From(IReadOnlyDictionary<int, int>? map) =>
        map is null ? Array.Empty<PortMapping>() : map.OrderBy(p => p.Key).Select(p => new PortMapping { ProfilePort = p.Key, Port = p.Value }).ToList();

    public override string ToString() => $"{ProfilePort}={Port}";
}

/// <summary>One service of a deployment and its containers (or pods).</summary>
public sealed class DeploymentService
{
    public required string Name { get; set; }
    public ServiceRole Role { get; set; }
    public string? Image { get; set; }
    public string? Version { get; set; }
    /// <summary>Containers running now.</summary>
    public int Replicas { get; set; }
    /// <summary>Containers the compose file (or workload spec) asks for.</summary>
    public int ExpectedReplicas { get; set; }
    public bool Healthy { get; set; }
    public IReadOnlyList<DeploymentContainer> Containers { get; set; } = Array.Empty<DeploymentContainer>();
    /// <summary>Helm: the PersistentVolumeClaims its pods mount, each with the profile's data store kept there (if any).</summary>
    public IReadOnlyList<DeploymentVolume> Volumes { get; set; } = Array.Empty<DeploymentVolume>();

    public override string ToString() => Name;
}

/// <summary>One persistent volume a workload's pods mount: the claim, where, and which data store of the profile it holds.</summary>
public sealed class DeploymentVolume
{
    /// <summary>The PersistentVolumeClaim's name.</summary>
    public required string Claim { get; set; }
    /// <summary>The mount path in the pod's container.</summary>
    public required string Path { get; set; }
    /// <summary>The profile's Volume data store whose kubernetesWorkload is this service and whose path this is; null for none.</summary>
    public string? DataStore { get; set; }

    public override string ToString() => $"{Claim} at {Path}";
}

/// <summary>One container (or pod) of a service.</summary>
public sealed class DeploymentContainer
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public string? Image { get; set; }
    public string? ImageId { get; set; }
    /// <summary>running, exited, restarting, ...</summary>
    public string? State { get; set; }
    /// <summary>healthy, unhealthy, starting, or null when the container has no healthcheck.</summary>
    public string? Health { get; set; }
    public long? ExitCode { get; set; }

    public bool IsHealthy => State == "running" && Health is null or "healthy";
    public override string ToString() => Name;
}

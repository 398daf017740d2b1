using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Platforms;

/// <summary>
/// What the post-upgrade checks need of a deployment, on either platform: the deployment described afresh (its
/// services' containers, or pods), a command run in an instance of a profile service (docker exec, or pod exec through
/// the Kubernetes API), the logs since a moment (the Engine's container logs, or pod logs through the API), and the
/// redactor for the deployment's secrets. One validator (PostUpgradeValidator) runs the same checks over it.
/// </summary>
public interface IValidationTarget : IDisposable
{
    /// <summary>Described afresh; each service's Containers are its containers (Compose) or pods (Kubernetes).</summary>
    Deployment Deployment { get; }
    ProductProfile Profile { get; }
    SecretRedactor Redactor { get; }
    /// <summary>"containers" or "pods", for messages.</summary>
    string InstanceNoun { get; }
    /// <summary>What to do when an instance does not run (a sentence).</summary>
    string StartRemedy { get; }
    /// <summary>Runs a command in a running instance of the profile service; ServiceNotRunning when none runs.</summary>
    Task<ExecResult> ExecAsync(string service, IReadOnlyList<string> command, CancellationToken ct);
    /// <summary>
    /// The product's API: at <paramref name="apiEndpoint"/> when given, else where the deployment publishes it (Compose) or
    /// through a port-forward to a ready API pod that the target opens on first use and closes when disposed (a Helm release).
    /// </summary>
    ProductApi Api(string? apiEndpoint);
    /// <summary>The log of every instance from <paramref name="since"/> (when null: from the start of the newest product instance, less 5 s).</summary>
    Task<(DateTimeOffset From, IReadOnlyList<(string Instance, string Text)> Logs)> LogsSinceAsync(DateTimeOffset? since, CancellationToken ct);
}

/// <summary>How a setting a configuration rule needs stands before the upgrade.</summary>
public enum SettingState { Set, Missing, Generated, Defaulted, Moved }

/// <summary>A setting (a .env variable or a dotted values key) the target version needs, and how it stands.</summary>
public sealed record SettingNeed(string Setting, string Description, SettingState State, string? From = null);

/// <summary>
/// What Test-UpgradeReadiness needs of a deployment beyond what is the same on both platforms: the deployment described
/// afresh, where new images land (the Docker root, or nothing on Kubernetes: the nodes pull them), the settings the
/// target needs and how they stand (.env, or the release's values), and the remedy for a missing one. The checks
/// themselves are one code path (UpgradeReadinessChecker).
/// </summary>
public interface IReadinessTarget : IDisposable
{
    Deployment Deployment { get; }
    ProductProfile Profile { get; }
    /// <summary>The deployment whose data-store host reads a backup's dumps when verifying it; null to check files only.</summary>
    Deployment? DumpReader { get; }
    /// <summary>The free space for the new images (a fact, and a problem when short), or why it does not apply on this platform.</summary>
    Task<(string? Fact, string? Problem, string? NotApplicable)> ImageSpaceAsync(CancellationToken ct);
    string DiskSpaceRemedy { get; }
    IReadOnlyList<SettingNeed> ConfigurationNeeds(string to);
    string ConfigurationRemedy(IReadOnlyList<SettingNeed> missing, string to);
    /// <summary>The product's API (for BackgroundTasks), as <see cref="IValidationTarget.Api"/> finds it: a Helm release's through a port-forward.</summary>
    ProductApi Api(string? apiEndpoint);
    /// <summary>What keeps the deployment from being upgraded whatever its services say (a release left pending by a killed helm), or null.</summary>
    (string ErrorId, string Detail, string Remedy)? HealthProblem(Deployment described);
    /// <summary>Whether an engine error while asking the API (a port-forward that could not open) is a warning of its item rather than a failure of the checklist.</summary>
    bool ApiFailuresAreWarnings { get; }
}

/// <summary>A way to the product's API opened on first use (a port-forward to a ready API pod): its address, and what a broken request means.</summary>
public interface IApiTunnel
{
    Task<Uri> EndpointAsync(CancellationToken ct);

    /// <summary>The tunnel's own reason for a request that failed through it; null when the failure is not the tunnel's.</summary>
    UpgradeOpsException? Explain(Exception ex);
}

using System.Reflection;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;

namespace UpgradeOps.Platforms;

/// <summary>
/// The one place a deployment's platform is chosen. The platforms are the engine's <see cref="IPlatform"/> classes, found
/// once by reflection (no part of the engine names them), so adding one is adding its folder.
/// </summary>
public static class DeploymentPlatforms
{
    private static readonly Lazy<IReadOnlyDictionary<DeploymentPlatform, IPlatform>> Known = new(() =>
        typeof(DeploymentPlatforms).Assembly.GetTypes()
            .Where(t => typeof(IPlatform).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false } && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (IPlatform)Activator.CreateInstance(t)!)
            .ToDictionary(p => p.Kind));

    /// <summary>The platforms this engine knows.</summary>
    public static IReadOnlyCollection<IPlatform> All => Known.Value.Values.ToList();

    public static IPlatform Of(DeploymentPlatform kind) =>
        Known.Value.TryGetValue(kind, out var platform)
            ? platform
            : throw new UpgradeOpsException("PlatformNotSupported", ErrorKind.NotImplemented, kind,
                $"This UpgradeOps has no implementation for {kind} deployments. Use a version of UpgradeOps that supports them.");

    /// <summary>The deployment on its platform; nothing remote is asked yet.</summary>
    public static IDeploymentPlatform Open(Deployment deployment) => Of(deployment.Platform).Open(deployment);

    /// <summary>The deployment a journal was written for, read again by the platform that wrote it; null when no platform knows the journal.</summary>
    public static async Task<Deployment?> DeploymentOfJournalAsync(UpgradeJournal journal, EngineContext context)
    {
        foreach (var platform in Known.Value.Values)
            if (await platform.DeploymentOfJournalAsync(journal, context).ConfigureAwait(false) is { } deployment)
                return deployment;
        return null;
    }
}

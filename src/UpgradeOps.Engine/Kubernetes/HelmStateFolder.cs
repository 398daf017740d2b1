using UpgradeOps.Backups;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>Where UpgradeOps keeps a release's journal and lock: there is no compose folder to keep them beside.</summary>
public static class HelmStateFolder
{
    /// <summary>Where a release's journal and lock live (no compose folder to keep them beside): the user's local data folder.</summary>
    public static string Anchor(string ns, string release) => Path.Combine(OfNamespace(ns), release, "release");

    /// <summary>The folder of the state of every release of a namespace (a rehearsal copy's is removed with its namespace).</summary>
    internal static string OfNamespace(string ns) =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "UpgradeOps", "helm", ns);
}

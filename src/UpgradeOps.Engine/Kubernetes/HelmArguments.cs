using UpgradeOps.Backups;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>The helm command lines an upgrade runs, the same for -WhatIf and for the run.</summary>
public static class HelmArguments
{
    /// <summary>The helm arguments the upgrade would run, for -WhatIf; <paramref name="ruleValuesFile"/> is the file of values the rules added when no -ValuesFile was given.</summary>
    /// <param name="execMigration">Whether the migration runs by pod exec after helm (<see cref="HelmMigrationRender"/> decides it);
    /// null: as the profile says without rendering (kubernetesExec and no kubernetesJob).</param>
    public static IReadOnlyList<string> UpgradeArguments(Deployment deployment, ProductProfile profile, string to, HelmUpgradeOptions options, TimeSpan timeout,
        string? ruleValuesFile = null, bool? execMigration = null)
    {
        var (ns, release) = HelmDeployment.Locate(deployment);
        // A migration by pod exec runs after helm has applied the release, in a pod of the new version that may wait for it
        // to become ready: helm must not wait for readiness first. The rollout watch waits for it then.
        var exec = execMigration ?? (profile.Migration.KubernetesJob is null && HelmMigrationExec.Service(profile) is not null);
        var wait = exec ? Array.Empty<string>() : new[] { "--wait" };
        var arguments = new List<string> { "upgrade", release, options.Chart, "-n", ns };
        arguments.AddRange(wait);
        arguments.AddRange(new[] { "--timeout", $"{(int)timeout.TotalSeconds}s", "--reset-then-reuse-values" });
        if (options.ChartVersion is not null) arguments.AddRange(new[] { "--version", options.ChartVersion });
        foreach (var file in options.ValuesFiles.Append(ruleValuesFile).OfType<string>().Distinct()) arguments.AddRange(new[] { "-f", file });
        if (profile.Version.HelmValuesKey is { } key) arguments.AddRange(new[] { "--set", $"{key}={to}" });
        return arguments;
    }

    /// <summary>For -WhatIf: the migration Invoke-Upgrade runs itself after helm upgrade (migration.kubernetesExec), or null.</summary>
    public static string? MigrationPlan(ProductProfile profile) => HelmMigrationExec.Plan(profile);
}

using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Validation;

using UpgradeOps.Kubernetes;

using UpgradeOps.Platforms;

namespace UpgradeOps.Engine.Tests.Validation;

public class ReadinessLogicTests
{
    private static ProductProfile Profile() => new()
    {
        ConfigurationRules =
        {
            new ConfigurationRule { Id = "cache-host", Description = "cache host", AppVersion = "1.7.6", RequiresValuesKey = "cache.host", MovedFrom = "cache.address", DefaultValue = "127.0.0.1" },
            new ConfigurationRule { Id = "signing", Description = "signing key", AppVersion = "2.0.0", RequiresValuesKey = "auth.signingKey" },
            new ConfigurationRule { Id = "secret", Description = "a secret", AppVersion = "2.0.0", RequiresValuesKey = "auth.secret", Generate = true },
            new ConfigurationRule { Id = "env", Description = "env only", AppVersion = "2.0.0", RequiresVariable = "APP_SIGNING_KEY" },
        },
    };

    [Fact]
    public void Helm_needs_are_the_values_rules_the_hop_crosses_against_the_release_values()
    {
        var values = new Dictionary<string, string> { ["cache.address"] = "redis" };
        var needs = UpgradeOps.Kubernetes.KubernetesReadinessTarget.HelmNeeds(Profile(), "1.7.5", "2.0.0", "0.1.0", k => values.GetValueOrDefault(k));
        Assert.Equal(new[] { "cache.host", "auth.signingKey", "auth.secret" }, needs.Select(n => n.Setting));
        Assert.Equal(new[] { SettingState.Moved, SettingState.Missing, SettingState.Generated }, needs.Select(n => n.State));
        Assert.Equal("cache.address", needs[0].From);

        values["auth.signingKey"] = "set";
        values.Remove("cache.address");
        needs = UpgradeOps.Kubernetes.KubernetesReadinessTarget.HelmNeeds(Profile(), "1.7.5", "2.0.0", "0.1.0", k => values.GetValueOrDefault(k));
        Assert.Equal(new[] { SettingState.Defaulted, SettingState.Set, SettingState.Generated }, needs.Select(n => n.State));
        // Already past the rules' versions: nothing to check.
        Assert.Empty(UpgradeOps.Kubernetes.KubernetesReadinessTarget.HelmNeeds(Profile(), "2.0.0", "2.1.0", null, _ => null));
    }

    [Fact]
    public void A_missing_value_without_default_or_generate_fails_Configuration_with_the_remedy()
    {
        var needs = UpgradeOps.Kubernetes.KubernetesReadinessTarget.HelmNeeds(Profile(), "1.7.5", "2.0.0", null, _ => null);
        var result = UpgradeReadinessChecker.ConfigurationCheck(needs, "2.0.0", "give it");
        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.Equal("ConfigurationValueMissing", result.ErrorId);
        Assert.Contains("auth.signingKey (signing key)", result.Detail);
        Assert.DoesNotContain("cache.host", result.Detail);
        Assert.Equal("give it", result.Remedy);
    }

    [Fact]
    public void Configuration_passes_saying_what_the_upgrade_will_write()
    {
        var values = new Dictionary<string, string> { ["auth.signingKey"] = "x" };
        var result = UpgradeReadinessChecker.ConfigurationCheck(
            UpgradeOps.Kubernetes.KubernetesReadinessTarget.HelmNeeds(Profile(), "1.7.5", "2.0.0", null, k => values.GetValueOrDefault(k)), "2.0.0", "r");
        Assert.Equal(CheckStatus.Passed, result.Status);
        Assert.Contains("generate auth.secret", result.Detail);
        Assert.Contains("default for cache.host", result.Detail);
        Assert.Equal("nothing 2.0.0 needs is missing", UpgradeReadinessChecker.ConfigurationCheck(Array.Empty<SettingNeed>(), "2.0.0", "r").Detail);
    }

    [Fact]
    public void Compose_needs_are_the_env_rules_as_before()
    {
        var needs = UpgradeOps.Compose.ComposeReadinessTarget.ComposeNeeds(Profile(), "1.7.5", "2.0.0", _ => false);
        Assert.Equal("APP_SIGNING_KEY", Assert.Single(needs).Setting);
        Assert.Equal(SettingState.Missing, needs[0].State);
        Assert.Equal(SettingState.Set, UpgradeOps.Compose.ComposeReadinessTarget.ComposeNeeds(Profile(), "1.7.5", "2.0.0", _ => true)[0].State);
    }

    [Fact]
    public void A_pending_release_fails_DeploymentHealthy_with_the_repair()
    {
        var deployment = new Deployment
        {
            // Revision 2 was a failed upgrade: the repair returns to 1, the last deployed revision, not to the pending one − 1.
            Name = "hv", Platform = DeploymentPlatform.Kubernetes, Profile = "test", Location = "hv/hv", Revision = 3, ReleaseStatus = "pending-upgrade", DeployedRevision = 1,
            Services = new[] { new DeploymentService { Name = "hv-server", Healthy = true, Replicas = 1, ExpectedReplicas = 1 } },
        };
        var result = UpgradeReadinessChecker.HealthCheck(deployment, UpgradeOps.Kubernetes.KubernetesReadinessTarget.PendingRelease(deployment));
        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.Equal("HelmReleasePending", result.ErrorId);
        Assert.Contains("pending-upgrade", result.Detail);
        Assert.Contains("helm rollback hv 1 -n hv", result.Remedy);
        Assert.Contains("Invoke-Upgrade -Deployment $d -Resume -Chart <chart> rolls it back to revision 1", result.Remedy);

        deployment.ReleaseStatus = "deployed";
        Assert.Equal(CheckStatus.Passed, UpgradeReadinessChecker.HealthCheck(deployment, UpgradeOps.Kubernetes.KubernetesReadinessTarget.PendingRelease(deployment)).Status);
    }

    [Fact]
    public void DiskSpace_on_a_release_says_the_Docker_root_does_not_apply()
    {
        var skipped = UpgradeReadinessChecker.DiskSpaceResult(CheckTimer.Start("DiskSpace"), Array.Empty<string>(), Array.Empty<string>(), "it does not apply", "r");
        Assert.Equal(CheckStatus.Skipped, skipped.Status);
        Assert.Contains("it does not apply", skipped.Detail);
        var passed = UpgradeReadinessChecker.DiskSpaceResult(CheckTimer.Start("DiskSpace"), new[] { "9 GB free for backups" }, Array.Empty<string>(), "it does not apply", "r");
        Assert.Equal("9 GB free for backups (it does not apply)", passed.Detail);
        Assert.Equal("Neither the backup folder nor the Docker root is visible from here.",
            UpgradeReadinessChecker.DiskSpaceResult(CheckTimer.Start("DiskSpace"), Array.Empty<string>(), Array.Empty<string>(), null, "r").Detail);
    }
}

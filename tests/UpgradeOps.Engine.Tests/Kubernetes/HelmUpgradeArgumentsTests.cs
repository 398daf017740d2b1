using System.Text.Json.Nodes;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Kubernetes;

public class HelmUpgradeArgumentsTests
{
    private static Deployment Release() => new()
    {
        Name = "sbx", Platform = DeploymentPlatform.Kubernetes, Profile = "infrahub", Location = "sandbox/sbx",
    };

    [Fact]
    public void Upgrade_waits_keeps_the_values_and_sets_the_version_where_the_profile_says()
    {
        var profile = new ProductProfile { Version = new VersionLocation { HelmValuesKey = "image.tag" } };
        var arguments = HelmUpgradeService.UpgradeArguments(Release(), profile, "1.7.6",
            new HelmUpgradeOptions { Chart = "./chart", ChartVersion = "4.1.0", ValuesFiles = ["a.yaml", "b.yaml"] }, TimeSpan.FromMinutes(5));
        Assert.Equal(["upgrade", "sbx", "./chart", "-n", "sandbox", "--wait", "--timeout", "300s", "--reset-then-reuse-values",
            "--version", "4.1.0", "-f", "a.yaml", "-f", "b.yaml", "--set", "image.tag=1.7.6"], arguments);
    }

    [Fact]
    public void Without_a_values_key_the_chart_decides_the_version()
    {
        var arguments = HelmUpgradeService.UpgradeArguments(Release(), new ProductProfile(), "1.7.6", new HelmUpgradeOptions { Chart = "repo/app" }, TimeSpan.FromSeconds(90));
        Assert.DoesNotContain("--set", arguments);
        Assert.Contains("90s", arguments);
    }

    [Fact]
    public void A_compose_deployment_is_refused()
    {
        var compose = new Deployment { Name = "x", Platform = DeploymentPlatform.Compose, Profile = "infrahub", Location = "/srv/docker-compose.yml" };
        var ex = Assert.Throws<UpgradeOpsException>(() => HelmUpgradeService.UpgradeArguments(compose, new ProductProfile(), "1.0.0",
            new HelmUpgradeOptions { Chart = "c" }, TimeSpan.FromMinutes(1)));
        Assert.Equal("DeploymentNotSupported", ex.ErrorId);
    }

    [Fact]
    public void Release_values_are_read_by_dotted_key()
    {
        var release = new HelmRelease("sbx", "sandbox", 2, "deployed", "chart", "0.1.0", "1.7.5", null, null, "s")
        {
            Values = JsonNode.Parse("""{"image":{"tag":"1.7.6"},"replicas":2}""") as JsonObject,
        };
        Assert.Equal("1.7.6", release.Value("image.tag"));
        Assert.Equal("2", release.Value("replicas"));
        Assert.Null(release.Value("image.repository"));
    }
}

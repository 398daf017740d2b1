using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;

using UpgradeOps.Platforms;

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
        var arguments = HelmArguments.UpgradeArguments(Release(), profile, "1.7.6",
            new HelmUpgradeOptions { Chart = "./chart", ChartVersion = "4.1.0", ValuesFiles = ["a.yaml", "b.yaml"] }, TimeSpan.FromMinutes(5));
        Assert.Equal(["upgrade", "sbx", "./chart", "-n", "sandbox", "--wait", "--timeout", "300s", "--reset-then-reuse-values",
            "--version", "4.1.0", "-f", "a.yaml", "-f", "b.yaml", "--set", "image.tag=1.7.6"], arguments);
    }

    [Fact]
    public void Without_a_values_key_the_chart_decides_the_version()
    {
        var arguments = HelmArguments.UpgradeArguments(Release(), new ProductProfile(), "1.7.6", new HelmUpgradeOptions { Chart = "repo/app" }, TimeSpan.FromSeconds(90));
        Assert.DoesNotContain("--set", arguments);
        Assert.Contains("90s", arguments);
    }

    [Fact]
    public void A_compose_deployment_is_refused()
    {
        var compose = new Deployment { Name = "x", Platform = DeploymentPlatform.Compose, Profile = "infrahub", Location = "/srv/docker-compose.yml" };
        var ex = Assert.Throws<UpgradeOpsException>(() => HelmArguments.UpgradeArguments(compose, new ProductProfile(), "1.0.0",
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

    [Fact]
    public void The_builtin_infrahub_profile_sets_the_charts_image_tag_so_an_app_bump_within_one_chart_works()
    {
        // opsmill/infrahub-helm 4.1.13: image ...:{{ .Values.global.infrahubTag | default .Chart.AppVersion }}.
        var profile = ProfileLoader.Load("infrahub");
        Assert.Equal("global.infrahubTag", profile.Version.HelmValuesKey);
        Assert.Empty(profile.ConfigurationRules);
        var arguments = HelmArguments.UpgradeArguments(Release(), profile, "1.1.9",
            new HelmUpgradeOptions { Chart = "opsmill/infrahub", ChartVersion = "4.1.13" }, TimeSpan.FromMinutes(5));
        Assert.Equal(["--set", "global.infrahubTag=1.1.9"], arguments.TakeLast(2));
        Assert.Contains("--reset-then-reuse-values", arguments);
        var bumped = new HelmRelease("ih", "infrahub", 3, "deployed", "infrahub", "4.1.13", "1.1.8", null, null, "s")
        {
            Values = JsonNode.Parse("""{"global":{"infrahubTag":"1.1.9"}}""") as JsonObject,
        };
        Assert.Equal("1.1.9", bumped.Value(profile.Version.HelmValuesKey!));
        var plain = bumped with { Values = null };
        Assert.Null(plain.Value(profile.Version.HelmValuesKey!));   // then the chart's appVersion (1.1.8) is the version
    }

    private static UpgradeStep Hop(string from, string to, string? chart) =>
        new() { From = from, To = to, Kind = UpgradeKind.Patch, ToChartVersion = chart };

    [Fact]
    public void A_hop_installs_its_chart_version_unless_the_user_gave_one()
    {
        var options = new HelmUpgradeOptions { Chart = "repo/app", ValuesFiles = ["v.yaml"], HelmPath = "/bin/helm" };
        var hop = options.ForStep(Hop("1.7.5", "1.7.6", "0.4.0"));
        Assert.Equal(("repo/app", "0.4.0", "/bin/helm"), (hop.Chart, hop.ChartVersion, hop.HelmPath));
        Assert.Equal(["v.yaml"], hop.ValuesFiles);
        Assert.Contains("0.4.0", HelmArguments.UpgradeArguments(Release(), new ProductProfile(), "1.7.6", hop, TimeSpan.FromMinutes(1)));

        // No chart map: as before, helm's choice.
        Assert.Same(options, options.ForStep(Hop("1.7.5", "1.7.6", null)));
        Assert.Same(options, options.ForStep(null));
        Assert.Null(options.OverrideWarning(new UpgradePath { From = "1.7.5", To = "1.7.6", IsSupported = true, Reason = "", Steps = [Hop("1.7.5", "1.7.6", "0.4.0")] }));

        // -ChartVersion wins, with a warning naming what it replaces.
        var given = new HelmUpgradeOptions { Chart = "repo/app", ChartVersion = "0.3.9" };
        Assert.Same(given, given.ForStep(Hop("1.7.5", "1.7.6", "0.4.0")));
        var path = new UpgradePath { From = "1.7.5", To = "1.8.0", IsSupported = true, Reason = "", Steps = [Hop("1.7.5", "1.7.6", "0.3.9"), Hop("1.7.6", "1.8.0", "1.0.0")] };
        Assert.Equal("-ChartVersion 0.3.9 replaces the chart version the path gives hop 1.7.6 → 1.8.0 (1.0.0).", given.OverrideWarning(path));
    }

    [Fact]
    public void A_local_chart_must_be_the_hop_s_chart_version_because_helm_ignores_version_for_it()
    {
        var folder = Directory.CreateTempSubdirectory("chart-").FullName;
        try
        {
            var chart = Path.Combine(folder, "app");
            Directory.CreateDirectory(chart);
            File.WriteAllText(Path.Combine(chart, "Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.3.0\nappVersion: \"1.7.5\"\n");
            var package = Path.Combine(folder, "app-0.4.0.tgz");
            using (var gzip = new GZipStream(File.Create(package), CompressionLevel.Fastest))
            using (var tar = new TarWriter(gzip))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, "app/Chart.yaml")
                {
                    DataStream = new MemoryStream("apiVersion: v2\nname: app\nversion: 0.4.0\nappVersion: \"1.7.6\"\n"u8.ToArray()),
                };
                tar.WriteEntry(entry);
            }
            Assert.Equal("0.3.0", HelmConfiguration.LocalChartVersion(chart));
            Assert.Equal("0.4.0", HelmConfiguration.LocalChartVersion(package));
            Assert.Null(HelmConfiguration.LocalChartVersion("repo/app"));

            Assert.Equal("0.3.0", new HelmUpgradeOptions { Chart = chart }.ForStep(Hop("1.7.4", "1.7.5", "0.3.0")).ChartVersion);
            Assert.Equal("0.4.0", new HelmUpgradeOptions { Chart = package }.ForStep(Hop("1.7.5", "1.7.6", "0.4.0")).ChartVersion);
            var error = Assert.Throws<UpgradeOpsException>(() => new HelmUpgradeOptions { Chart = chart }.ForStep(Hop("1.7.5", "1.7.6", "0.4.0")));
            Assert.Equal("ChartVersionMismatch", error.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
            Assert.Equal(chart, error.Target);
            Assert.Contains("installs chart 0.4.0", error.Message);
            Assert.Contains("is version 0.3.0", error.Message);
            Assert.Contains("-ChartVersion 0.3.0 to install this one anyway", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void What_helm_prints_back_is_masked_with_the_release_s_values_as_the_plan_renders_the_chart_too()
    {
        var release = new HelmRelease("ih", "infrahub", 3, "deployed", "infrahub", "4.1.13", "1.1.8", null, null, "s")
        {
            Values = System.Text.Json.Nodes.JsonNode.Parse("""{"neo4j":{"neo4j":{"password":"release-secret-7"}},"image":{"tag":"1.1.8"}}""")!.AsObject(),
        };
        var redactor = HelmUpgrade.Redactor(release, new HelmUpgradeOptions { Chart = "./chart" }, configuration: null);
        Assert.Equal("NEO4J_AUTH: neo4j/***, image tag 1.1.8", redactor.Redact("NEO4J_AUTH: neo4j/release-secret-7, image tag 1.1.8"));
        Assert.Equal("nothing to mask", HelmUpgrade.Redactor(null, new HelmUpgradeOptions { Chart = "./chart" }, null).Redact("nothing to mask"));
    }
}

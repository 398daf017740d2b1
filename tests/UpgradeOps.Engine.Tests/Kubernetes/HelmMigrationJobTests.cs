using UpgradeOps.Platforms;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Kubernetes;

namespace UpgradeOps.Engine.Tests.Kubernetes;

public class HelmMigrationJobTests
{
    [Theory]
    [InlineData("migration", "hv-sandbox-migrate", "migration", true)]   // component label
    [InlineData("sandbox-migrate", "hv-sandbox-migrate", null, true)]    // name without the release prefix
    [InlineData("hv-sandbox-migrate", "hv-sandbox-migrate", null, true)] // full name
    [InlineData("migration", "hv-sandbox-backup", "backup", false)]
    [InlineData(null, "hv-sandbox-migrate", "migration", false)]         // the profile names no Job
    public void The_profiles_Job_is_matched_like_its_workloads(string? wanted, string name, string? component, bool matches)
    {
        var labels = component is null ? null : new Dictionary<string, string> { [HelmMigrationJob.ComponentLabel] = component };
        Assert.Equal(matches, HelmMigrationJob.Matches(wanted, "hv", name, labels));
    }

    [Theory]
    // helm's usual fullname is RELEASE-CHART (or RELEASE alone when it contains the chart's name): Infrahub's chart names
    // its server FULLNAME-infrahub-server, so "infrahub-server" must find it whatever the release is called.
    [InlineData("prod", "prod-infrahub-infrahub-server", "infrahub-4.1.13", true)]
    [InlineData("infrahub", "infrahub-infrahub-server", "infrahub-4.1.13", true)]
    [InlineData("prod", "prod-infrahub-infrahub-server", "infrahub-v4.1.13+build_1", true)]
    [InlineData("prod", "prod-infrahub-infrahub-server", null, false)]                 // no chart label: no guess
    [InlineData("prod", "prod-other-infrahub-server", "infrahub-4.1.13", false)]       // another chart's prefix
    [InlineData("prod", "staging-infrahub-infrahub-server", "infrahub-4.1.13", false)] // another release
    public void A_workload_answers_to_its_name_without_the_release_and_chart_prefix(string release, string name, string? chart, bool matches)
    {
        var labels = chart is null ? null : new Dictionary<string, string> { ["helm.sh/chart"] = chart };
        Assert.Equal(matches, KubernetesDiscovery.AnswersTo("infrahub-server", release, name, labels));
    }

    [Fact]
    public void The_journal_block_says_which_Job_and_how_it_ended_before_its_log()
    {
        Assert.Equal("1.7.5 → 1.7.7 (failed): Job hv-sandbox-migrate failed\nERROR migration 1.7.7 failed: boom\n",
            new MigrationJobOutcome("hv-sandbox-migrate", false, "ERROR migration 1.7.7 failed: boom\n").Text("1.7.5", "1.7.7"));
        Assert.StartsWith("1.7.5 → 1.7.6: Job m succeeded\n", new MigrationJobOutcome("m", true, "").Text("1.7.5", "1.7.6"));
        Assert.StartsWith("1.7.5 → 1.7.6: Job m did not finish\n", new MigrationJobOutcome("m", null, "").Text("1.7.5", "1.7.6"));
    }
}

/// <summary>How the migration's way is decided from helm's rendering, with a script that prints what helm upgrade --dry-run does.</summary>
public sealed class HelmMigrationRenderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("upgradeops-render-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Finds_the_Job_though_a_secret_equals_its_release_name()
    {
        // Infrahub's chart: the default RabbitMQ password is 'infrahub', the release is called 'infrahub', the Job is
        // infrahub-infrahub-upgrade. Masked before it was parsed, the name became ***-***-upgrade and the migration was
        // planned by exec while helm ran the Job too.
        var helm = Path.Combine(_folder, "helm");
        File.WriteAllText(helm, """
            #!/bin/sh
            cat <<'OUT'
            Release "infrahub" has been upgraded. Happy Helming!
            NAME: infrahub
            HOOKS:
            ---
            # Source: infrahub/templates/infrahub-upgrade-job.yaml
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: infrahub-infrahub-upgrade
              labels:
                helm.sh/chart: infrahub-4.2.0
            MANIFEST:
            OUT
            """.Replace("\r\n", "\n"));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(helm, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var deployment = new Deployment { Name = "infrahub", Platform = DeploymentPlatform.Kubernetes, Profile = "infrahub", Namespace = "infrahub", Release = "infrahub", Location = "infrahub/infrahub" };
        var redactor = new SecretRedactor(new[] { new KeyValuePair<string, string>("RABBITMQ_PASSWORD", "infrahub") });
        var way = await HelmMigrationRender.DecideAsync(new HelmCli(helm, null, null), deployment, ProfileLoader.Load("infrahub"), "1.2.0",
            new HelmUpgradeOptions { Chart = "ihrepo/infrahub", ChartVersion = "4.2.0" }, TimeSpan.FromMinutes(1), redactor, CancellationToken.None);
        Assert.Equal("infrahub-infrahub-upgrade", way.Job);
        Assert.Null(way.ExecService);
    }
}

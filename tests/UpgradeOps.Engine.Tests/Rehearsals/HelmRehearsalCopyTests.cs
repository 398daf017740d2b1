using System.Text.Json.Nodes;
using UpgradeOps.Hosting;
using UpgradeOps.Rehearsals;
using UpgradeOps.Upgrades;
using UpgradeOps.Versioning;
using Xunit;

using UpgradeOps.Kubernetes;

using UpgradeOps.Reporting;

namespace UpgradeOps.Engine.Tests.Rehearsals;

public class HelmRehearsalCopyTests
{
    [Theory]
    [InlineData("hr", "20261127-034000-ab12cd", "hr-rehearsal-ab12cd")]
    [InlineData("My_Release", "20261127-034000-AB12CD", "my-release-rehearsal-ab12cd")]
    public void Names_the_copy_namespace_after_the_release_and_the_rehearsal(string release, string id, string expected) =>
        Assert.Equal(expected, HelmRehearsalCopy.NamespaceName(release, id));

    [Fact]
    public void Keeps_a_long_release_name_within_a_namespace_name()
    {
        var name = HelmRehearsalCopy.NamespaceName(new string('r', 70), "20261127-034000-ab12cd");
        Assert.True(name.Length <= 63);
        Assert.EndsWith("-rehearsal-ab12cd", name);
        Assert.Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name);
    }

    [Fact]
    public void Installs_the_copy_with_the_backup_values_at_its_version_and_the_copy_values_typed_like_the_ones_they_replace()
    {
        var backup = JsonNode.Parse("""{"server":{"port":58001,"replicas":2},"image":{"tag":"1.7.6"},"ingress":{"host":"prod.example","enabled":true}}""")!.AsObject();
        var (values, fresh) = HelmRehearsalCopy.Values(backup, "image.tag", "1.7.5",
            new Dictionary<string, string> { ["server.port"] = "56650", ["ingress.host"] = "rehearsal.example", ["ingress.enabled"] = "false", ["cache.port"] = "56651" },
            Array.Empty<string>());
        Assert.Empty(fresh);
        Assert.Equal("1.7.5", (string?)values["image"]!["tag"]);
        Assert.Equal(56650, (int)values["server"]!["port"]!);
        Assert.Equal(2, (int)values["server"]!["replicas"]!);
        Assert.Equal("rehearsal.example", (string?)values["ingress"]!["host"]);
        Assert.False((bool)values["ingress"]!["enabled"]!);
        Assert.Equal(56651, (long)values["cache"]!["port"]!);
        // The backup's values themselves are not changed.
        Assert.Equal("prod.example", (string?)backup["ingress"]!["host"]);
    }

    [Fact]
    public void Gives_masked_secrets_fresh_values_unless_a_values_file_or_copy_value_sets_them()
    {
        var backup = new JsonObject
        {
            ["database"] = new JsonObject { ["password"] = SecretRedactor.Mask },
            ["auth"] = new JsonObject { ["signingKey"] = SecretRedactor.Mask },
            ["api"] = new JsonObject { ["token"] = SecretRedactor.Mask },
        };
        var (values, fresh) = HelmRehearsalCopy.Values(backup, null, null, new Dictionary<string, string> { ["api.token"] = "given" }, new[] { "auth.signingKey" });
        Assert.Equal(new[] { "database.password" }, fresh);
        var password = (string?)values["database"]!["password"];
        Assert.NotEqual(SecretRedactor.Mask, password);
        Assert.Equal(32, password!.Length);
        Assert.Equal(SecretRedactor.Mask, (string?)values["auth"]!["signingKey"]);
        Assert.Equal("given", (string?)values["api"]!["token"]);
        var (again, _) = HelmRehearsalCopy.Values(backup, null, null, new Dictionary<string, string>(), Array.Empty<string>());
        Assert.NotEqual(password, (string?)again["database"]!["password"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("server..port")]
    [InlineData(".port")]
    public void Refuses_a_copy_value_that_is_no_values_key(string key)
    {
        var error = Assert.Throws<UpgradeOpsException>(() => HelmRehearsalCopy.Set(new JsonObject(), key, "1"));
        Assert.Equal("CopyValueInvalid", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public void Finds_copies_whose_owner_is_gone_and_leaves_running_ones_alone()
    {
        var copies = new[]
        {
            new HelmRehearsalCopy.Listed("hr-rehearsal-aaaaaa", "a", "admin-1/111:1", "hr"),
            new HelmRehearsalCopy.Listed("hr-rehearsal-bbbbbb", "b", "admin-1/222:2", "hr"),
            new HelmRehearsalCopy.Listed("hr-rehearsal-cccccc", "c", null, "hr"),                 // owner unknown: left alone
            new HelmRehearsalCopy.Listed("hr-rehearsal-dddddd", "d", "admin-2/111:1", "hr"),      // another admin's machine
            new HelmRehearsalCopy.Listed("hr-rehearsal-eeeeee", "e", "111:1", "hr"),              // no machine recorded
            new HelmRehearsalCopy.Listed("unrelated", null, "admin-1/111:1", null),
        };
        var abandoned = HelmRehearsalCopy.Abandoned(copies, owner => owner == "222:2", machine: "ADMIN-1");
        Assert.Equal(new[] { "hr-rehearsal-aaaaaa" }, abandoned.Select(c => c.Namespace));
    }

    [Fact]
    public void Finds_the_current_process_alive_with_the_default_check() =>
        Assert.Empty(HelmRehearsalCopy.Abandoned(new[] { new HelmRehearsalCopy.Listed("ns", "id", HelmRehearsalCopy.CurrentOwner, "hr") }));

    [Fact]
    public void Combines_the_hops_of_a_path_so_each_hop_keeps_its_timings()
    {
        var start = DateTimeOffset.Parse("2026-11-27T03:00:00Z");
        UpgradeResult Hop(string from, string to, int offset) => new()
        {
            Id = $"{from}-{to}", DeploymentName = "hr", From = from, To = to, Status = UpgradeStatus.Succeeded, Duration = TimeSpan.FromSeconds(10),
            Steps =
            {
                new UpgradeStepResult { Name = "helm upgrade", Status = StepStatus.Succeeded, Started = start.AddSeconds(offset), Duration = TimeSpan.FromSeconds(6) },
                new UpgradeStepResult { Name = "rollout", Status = StepStatus.Succeeded, Started = start.AddSeconds(offset + 6), Duration = TimeSpan.FromSeconds(4) },
            },
        };
        var path = new UpgradePath { From = "1.6.4", To = "1.8.0", IsSupported = true, Reason = "" };
        var combined = HelmRehearsal.Combine(new[] { Hop("1.6.4", "1.7.6", 0), Hop("1.7.6", "1.8.0", 20) }, path, "hr");
        Assert.Equal(TimeSpan.FromSeconds(20), combined.Duration);
        Assert.Equal(UpgradeStatus.Succeeded, combined.Status);
        var hops = UpgradeHops.Of(combined);
        Assert.Equal(new[] { ("1.6.4", "1.7.6"), ("1.7.6", "1.8.0") }, hops.Select(h => (h.From, h.To)));
        Assert.All(hops, h => Assert.Equal(TimeSpan.FromSeconds(10), h.Duration));
    }
}

using System.Text.Json.Nodes;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Validation;

using UpgradeOps.Platforms;

namespace UpgradeOps.Engine.Tests.Validation;

public class ValidationLogicTests
{
    [Theory]
    [InlineData(0.50, 5)]
    [InlineData(0.95, 10)]
    [InlineData(0.10, 1)]
    public void Percentile_is_the_nearest_rank(double fraction, double expected)
    {
        var sorted = Enumerable.Range(1, 10).Select(i => (double)i).ToList();
        Assert.Equal(expected, PostUpgradeValidator.Percentile(sorted, fraction));
        Assert.Equal(0, PostUpgradeValidator.Percentile(Array.Empty<double>(), fraction));
    }

    [Fact]
    public void Dotted_paths_index_objects_and_arrays()
    {
        var json = JsonNode.Parse("""{"data":{"Artifacts":[{"status":"ready","checksum":"abc"}],"n":3}}""");
        Assert.Equal("ready", ProductApi.Text(json, "data.Artifacts.0.status"));
        Assert.Equal("3", ProductApi.Text(json, "data.n"));
        Assert.Null(ProductApi.Text(json, "data.Artifacts.1.status"));
        Assert.Null(ProductApi.Text(json, "data.missing.deeper"));
        Assert.Same(json, ProductApi.Select(json, null));
    }

    [Fact]
    public void Redactor_masks_secret_named_values_of_any_length_and_long_values()
    {
        var redactor = new SecretRedactor(new Dictionary<string, string>
        {
            ["POSTGRES_PASSWORD"] = "pw1", ["APP_SIGNING_KEY"] = "k3y-that-is-long", ["VERSION"] = "1.7.5", ["MIRROR_URL"] = "registry.local/app",
            ["EMPTY_TOKEN"] = "",
        });
        var text = redactor.Redact("login pw1 with k3y-that-is-long on registry.local/app at 1.7.5");
        Assert.Equal("login *** with *** on *** at 1.7.5", text);
    }

    [Fact]
    public void Redactor_masks_a_secret_that_contains_another_whole()
    {
        var redactor = new SecretRedactor(new Dictionary<string, string> { ["A_SECRET"] = "abcdef", ["B_SECRET"] = "abcdefghij" });
        Assert.Equal("x *** y", redactor.Redact("x abcdefghij y"));
    }

    [Fact]
    public async Task Hashing_stream_hashes_what_is_read_through_it()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(new string('x', 100_000));
        using var hashing = new HashingStream(new MemoryStream(bytes));
        var buffer = new byte[1000];
        _ = await hashing.ReadAsync(buffer);
        hashing.ReadToEnd();
        Assert.Equal(bytes.Length, hashing.BytesRead);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant(), hashing.HashHex());
    }

    [Fact]
    public void Sandbox_profile_declares_its_validation()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "UpgradeOps.sln"))) root = Path.GetDirectoryName(root)!;
        var profile = ProfileLoader.Load(Path.Combine(root, "tests/Sandbox/profile.yml"));
        Assert.Equal(2, profile.Validation.GraphQL.Count);
        Assert.Equal("in-sync", profile.Validation.GitSync!.ReadyStatus);
        Assert.Equal(["git", "ls-remote", "{location}", "HEAD"], profile.Validation.GitSync.ExpectedResultCommand);
        Assert.Equal("data.Artifacts.0.checksum", profile.Validation.ArtifactGeneration!.ResultPath);
        Assert.Equal(2, profile.Validation.LogErrorPatterns.Count);
        Assert.Equal(["info", "graphql-version"], profile.Validation.Performance.Requests.Select(r => r.Name));
    }

    [Fact]
    public void A_profile_without_validation_gets_the_default_log_patterns()
    {
        var profile = ProfileLoader.Parse("name: x\nservices:\n  - name: web\n", "p.yml");
        Assert.Contains(@"\bERROR\b", profile.Validation.LogErrorPatterns);
        Assert.Null(profile.Validation.ArtifactGeneration);
    }

    [Theory]
    [InlineData(UpgradeStatus.Succeeded, "1.7.7", 0)]
    [InlineData(UpgradeStatus.Failed, "1.7.6", 0)]
    [InlineData(UpgradeStatus.RolledBack, "1.7.6", 90)]
    public void A_validation_after_an_upgrade_expects_where_it_ended_and_reads_the_logs_from_when_it_ended(UpgradeStatus status, string expected, int sinceSeconds)
    {
        var started = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        var result = new UpgradeResult
        {
            Id = "u", DeploymentName = "p", From = "1.7.6", To = "1.7.7", Status = status, Started = started, Duration = TimeSpan.FromSeconds(90),
        };
        Assert.Equal(expected, ValidationRequest.ExpectedAfter(result));
        // A rolled-back upgrade: the failed version's errors are before the rollback ended, not a finding about what runs now.
        Assert.Equal(started.AddSeconds(sinceSeconds), ValidationRequest.LogsSince(result));
        Assert.Null(ValidationRequest.LogsSince(null));
    }
}

using UpgradeOps.Compose;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Hosting;

namespace UpgradeOps.Engine.Tests.Kubernetes;

public class YamlValuesEditorTests
{
    private const string Values = """
        # Sandbox values, production overrides.
        image:
          tag: ""   # the chart's appVersion

        cache:
          # Redis in the same namespace.
          port: 56379

        # Logging
        config:
          logLevel: INFO
        """;

    [Fact]
    public void Adding_a_nested_key_keeps_every_other_line_as_it_was()
    {
        var edited = YamlValuesEditor.Set(Values + "\n", "cache.host", "127.0.0.1");
        Assert.Equal(Values.Replace("  port: 56379\n", "  port: 56379\n  host: 127.0.0.1\n") + "\n", edited);
    }

    [Fact]
    public void Missing_parent_maps_are_created_at_the_file_s_indentation()
    {
        var fourSpaces = "server:\n    replicas: 2\n";
        Assert.Equal("server:\n    replicas: 2\nauth:\n    oidc:\n        issuer: https://id.example\n",
            YamlValuesEditor.Set(fourSpaces, "auth.oidc.issuer", "https://id.example"));
        Assert.Equal("server:\n    replicas: 2\n    tls:\n        enabled: \"true\"\n", YamlValuesEditor.Set(fourSpaces, "server.tls.enabled", "true"));
    }

    [Fact]
    public void An_empty_key_or_file_gets_the_value_and_keeps_its_comment()
    {
        Assert.Equal("cache: # later\n  host: h\nx: 1\n", YamlValuesEditor.Set("cache: # later\nx: 1\n", "cache.host", "h"));
        Assert.Equal("cache:\n  host: h\n", YamlValuesEditor.Set("cache: {}\n", "cache.host", "h"));
        Assert.Equal("# only a comment\ncache:\n  host: h\n", YamlValuesEditor.Set("# only a comment\n", "cache.host", "h"));
        Assert.Equal("cache:\n  host: h\n", YamlValuesEditor.Set("", "cache.host", "h"));
        Assert.Equal("a: 1\ncache:\n  host: h\n", YamlValuesEditor.Set("a: 1", "cache.host", "h"));
    }

    [Fact]
    public void An_existing_scalar_is_replaced_in_place_and_strange_values_are_quoted()
    {
        Assert.Equal("image:\n  tag: \"a \\\"b\\\": c\"   # the chart's appVersion\n",
            YamlValuesEditor.Set("image:\n  tag: \"\"   # the chart's appVersion\n", "image.tag", "a \"b\": c"));
        Assert.Equal("x: \"5000\"\n", YamlValuesEditor.Set("x: 1\n", "x", "5000"));
        var error = Assert.Throws<UpgradeOpsException>(() => YamlValuesEditor.Set("cache: {port: 1}\n", "cache.host", "h"));
        Assert.Equal("ValuesFileNotEditable", error.ErrorId);
    }

    [Fact]
    public void Moving_a_key_takes_its_comment_and_nested_lines_and_drops_the_emptied_parent()
    {
        var text = "redis:\n  # where Redis runs\n  address:\n    host: r1 # primary\n    port: 6379\nconfig:\n  logLevel: INFO\n";
        var moved = YamlValuesEditor.Move(text, "redis.address", "cache.server");
        Assert.Equal("config:\n  logLevel: INFO\ncache:\n  # where Redis runs\n  server:\n    host: r1 # primary\n    port: 6379\n", moved);
        Assert.Equal(moved, YamlValuesEditor.Move(moved, "redis.address", "cache.server"));
    }

    [Fact]
    public void Moving_a_scalar_next_to_its_siblings_keeps_them()
    {
        var text = "cache:\n  redisHost: r1\n  port: 6379\n";
        Assert.Equal("cache:\n  port: 6379\n  host: r1\n", YamlValuesEditor.Move(text, "cache.redisHost", "cache.host"));
    }

    [Fact]
    public void Secret_values_and_secret_names_are_masked_in_the_diff()
    {
        var diff = "--- v.yaml\n+++ v.yaml\n   password: hunter22\n+  host: 127.0.0.1\n+  signingKey: \"abc\"\n+  token: \"zz\"\n";
        Assert.Equal("--- v.yaml\n+++ v.yaml\n   password: ***\n+  host: 127.0.0.1\n+  signingKey: ***\n+  token: ***\n",
            FileEdit.MaskValuesDiff(diff, ["zz"]));
    }

    private static ProductProfile Profile() => new()
    {
        ConfigurationRules =
        [
            new ConfigurationRule { Id = "cache-host", Description = "1.7.6 reads cache.host.", AppVersion = "1.7.6", RequiresValuesKey = "cache.host", DefaultValue = "127.0.0.1" },
            new ConfigurationRule { Id = "token", Description = "Chart 4 needs a token.", ChartVersion = "4.0.0", RequiresValuesKey = "auth.apiToken", Generate = true },
            new ConfigurationRule { Id = "log", Description = "logLevel moved.", AppVersion = "1.7.6", RequiresValuesKey = "logging.level", MovedFrom = "config.logLevel" },
            new ConfigurationRule { Id = "env", Description = "Compose only.", AppVersion = "1.7.6", RequiresVariable = "APP_X", DefaultValue = "1" },
        ],
    };

    [Fact]
    public void The_plan_adds_moves_and_generates_then_finds_nothing_to_do_on_a_second_run()
    {
        var folder = Directory.CreateTempSubdirectory("values-").FullName;
        var file = Path.Combine(folder, "values.yaml");
        File.WriteAllText(file, Values + "\n");
        var (edit, changes) = HelmConfiguration.Plan(file, Profile(), ProductVersion.Parse("1.7.5"), ProductVersion.Parse("1.7.6"), "3.9.0", "4.0.0");
        Assert.Equal(["cache-host:Added", "token:Added", "log:Moved"], changes.Select(c => $"{c.RuleId}:{c.Action}"));
        Assert.Equal(Values + "\n", File.ReadAllText(file));
        Assert.Contains("+  host: 127.0.0.1", edit!.Diff);
        Assert.Contains("+  apiToken: ***", edit.Diff);
        var token = YamlValuesEditor.GetScalar(edit.After, "auth.apiToken")!;
        Assert.Equal(64, token.Length);
        Assert.DoesNotContain(token, edit.Diff);
        Assert.Contains("# Sandbox values, production overrides.", edit.After);

        edit.Apply();
        Assert.Equal(edit.After, File.ReadAllText(file));
        Assert.Equal([file], Directory.GetFiles(folder));
        var (again, second) = HelmConfiguration.Plan(file, Profile(), ProductVersion.Parse("1.7.5"), ProductVersion.Parse("1.7.6"), "3.9.0", "4.0.0");
        Assert.Null(again);
        Assert.All(second, c => Assert.Equal(ConfigurationAction.AlreadySet, c.Action));
    }

    [Fact]
    public void A_required_value_without_a_default_is_missing_unless_given_or_set_elsewhere()
    {
        var profile = new ProductProfile { ConfigurationRules = [new ConfigurationRule { Id = "r", AppVersion = "2.0.0", RequiresValuesKey = "auth.key" }] };
        var file = Path.Combine(Directory.CreateTempSubdirectory("values-").FullName, "values.yaml");
        var (none, missing) = HelmConfiguration.Plan(file, profile, ProductVersion.Parse("1.9.0"), ProductVersion.Parse("2.0.0"), null, null);
        Assert.Null(none);
        Assert.Equal(ConfigurationAction.Missing, missing.Single().Action);
        var (_, elsewhere) = HelmConfiguration.Plan(file, profile, ProductVersion.Parse("1.9.0"), ProductVersion.Parse("2.0.0"), null, null, isSetElsewhere: _ => "x");
        Assert.Equal(ConfigurationAction.AlreadySet, elsewhere.Single().Action);
        var (given, added) = HelmConfiguration.Plan(file, profile, ProductVersion.Parse("1.9.0"), ProductVersion.Parse("2.0.0"), null, null,
            new Dictionary<string, string> { ["auth.key"] = "s3cr3t-value" });
        Assert.Equal(ConfigurationAction.Added, added.Single().Action);
        Assert.Equal("auth:\n  key: \"s3cr3t-value\"\n", given!.After);
        Assert.DoesNotContain("s3cr3t-value", given.Diff);
    }

    [Fact]
    public void Compose_rules_and_Helm_rules_do_not_mix()
    {
        var compose = ConfigurationRules.Applicable(Profile(), ConfigurationTarget.EnvFile, ProductVersion.Parse("1.7.5"), ProductVersion.Parse("1.7.6"));
        Assert.Equal(["env"], compose.Select(r => r.Id));
        var helm = ConfigurationRules.Applicable(Profile(), ConfigurationTarget.ValuesFile, ProductVersion.Parse("1.7.5"), ProductVersion.Parse("1.7.6"));
        Assert.Equal(["cache-host", "log"], helm.Select(r => r.Id));
    }
}

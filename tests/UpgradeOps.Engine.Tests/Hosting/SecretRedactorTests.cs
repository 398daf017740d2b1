using UpgradeOps.Hosting;

namespace UpgradeOps.Tests.Hosting;

/// <summary>
/// What a report, a log or a diagnostic bundle masks: secrets by name whatever their length, other values of six characters
/// or more, but never the values that name the deployment (a report of "***" upgraded by "***_worker_1" helps nobody).
/// </summary>
public class SecretRedactorTests
{
    private static readonly Dictionary<string, string> SandboxEnv = new()
    {
        ["COMPOSE_PROJECT_NAME"] = "upgradeops-sandbox",
        ["VERSION"] = "1.7.6",
        ["SANDBOX_IMAGE"] = "127.0.0.1:5000/upgradeops/sandbox",
        ["POSTGRES_USER"] = "sandbox",
        ["POSTGRES_PASSWORD"] = "pw",
        ["APP_CANARY_SECRET"] = "canary-0123",
        ["INFRAHUB_DOCKER_IMAGE"] = "registry.opsmill.io/opsmill/infrahub:1.7.6",
        ["DATABASE_URL"] = "postgres://db.internal/app",
        ["APP_GREETING"] = "hello there",
    };

    [Fact]
    public void The_deployment_s_name_image_and_version_stay_readable()
    {
        var text = new SecretRedactor(SandboxEnv).Redact(
            "upgradeops-sandbox_worker_1 runs 127.0.0.1:5000/upgradeops/sandbox:1.7.6; upgrade upgradeops-sandbox-20261204-upgrade-1.7.5-to-1.7.6; " +
            "infrahub from registry.opsmill.io/opsmill/infrahub:1.7.6");
        Assert.Equal(
            "upgradeops-sandbox_worker_1 runs 127.0.0.1:5000/upgradeops/sandbox:1.7.6; upgrade upgradeops-sandbox-20261204-upgrade-1.7.5-to-1.7.6; " +
            "infrahub from registry.opsmill.io/opsmill/infrahub:1.7.6", text);
    }

    [Fact]
    public void Secrets_by_name_and_other_long_values_are_masked()
    {
        var text = new SecretRedactor(SandboxEnv).Redact("password pw, canary canary-0123, url postgres://db.internal/app, user sandbox");
        Assert.Equal("password ***, canary ***, url ***, user sandbox", text);
    }

    [Theory]
    [InlineData("COMPOSE_PROJECT_NAME", true)]
    [InlineData("NEO4J_DOCKER_IMAGE", true)]
    [InlineData("image.tag", true)]
    [InlineData("infrahub.image.repository", true)]
    [InlineData("fullnameOverride", true)]
    [InlineData("IMAGE_PULL_TOKEN", false)]
    [InlineData("SIGNING_KEY_VERSION", false)]
    [InlineData("DATABASE_URL", false)]
    [InlineData("POSTGRES_USER", true)]
    [InlineData("NEO4J_DB", true)]
    [InlineData("INFRAHUB_ADDRESS", true)]
    [InlineData("POSTGRES_PASSWORD", false)]
    [InlineData("DB_PASSWORD_USER", false)]
    public void A_name_says_whether_its_value_names_the_deployment(string name, bool identity) =>
        Assert.Equal(identity, SecretRedactor.IsIdentityName(name));

    [Fact]
    public void A_value_whose_name_says_nothing_is_masked_from_six_characters()
    {
        Assert.Equal("greeting ***", new SecretRedactor(SandboxEnv).Redact("greeting hello there"));
    }

    [Fact]
    public void A_URL_with_credentials_is_masked_even_under_a_name_that_names_the_deployment()
    {
        var redactor = new SecretRedactor(new Dictionary<string, string> { ["CONFIG_REPOSITORY"] = "https://bot:ghp_abc123@git.example/config.git" });
        Assert.Equal("cloning ***", redactor.Redact("cloning https://bot:ghp_abc123@git.example/config.git"));
    }

    [Fact]
    public void A_secret_named_variable_is_masked_even_when_it_looks_like_an_image()
    {
        var redactor = new SecretRedactor(new Dictionary<string, string> { ["REGISTRY_TOKEN_IMAGE"] = "ghp_abcdef123456" });
        Assert.Equal("token ***", redactor.Redact("token ghp_abcdef123456"));
    }

    [Fact]
    public void A_switch_or_a_measure_under_a_secret_sounding_name_stays_readable()
    {
        var redactor = new SecretRedactor(new Dictionary<string, string>
        {
            ["AWS_QUERYSTRING_AUTH"] = "false",
            ["INFRAHUB_SECURITY_ACCESS_TOKEN_LIFETIME"] = "3600",
            ["NEO4J_dbms_security_auth__minimum__password__length"] = "4",
            ["APP_SECRET_ENABLED"] = "True",
        });
        Assert.Equal(0, redactor.Count);
        Assert.Equal("{\"ok\": false, \"took\": 3600, \"n\": 4}", redactor.Redact("{\"ok\": false, \"took\": 3600, \"n\": 4}"));
    }

    [Fact]
    public void The_password_of_a_user_password_pair_is_masked_also_alone()
    {
        var redactor = new SecretRedactor(new Dictionary<string, string> { ["NEO4J_AUTH"] = "neo4j/admin" });
        Assert.Equal("auth ***, password ***, user neo4j", redactor.Redact("auth neo4j/admin, password admin, user neo4j"));
    }
}

using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Engine.Tests.ReleaseNotes;

namespace UpgradeOps.Tests.Compose;

/// <summary>
/// Secrets written in the compose file itself, not in a .env: Infrahub's own file has its database password, tokens and
/// the task manager's PostgreSQL password as defaults in it (${INFRAHUB_DB_PASSWORD:-admin}, POSTGRES_PASSWORD=postgres),
/// so a deployment run from it without a .env had nothing masked in its reports, logs and bundles.
/// </summary>
public class ComposeSecretsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("upgradeops-secrets-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private ComposeFile Write(string yaml, string? env = null)
    {
        var path = Path.Combine(_folder, "docker-compose.yml");
        File.WriteAllText(path, yaml);
        if (env is not null) File.WriteAllText(Path.Combine(_folder, ".env"), env);
        return ComposeFile.Load(path, _ => null);
    }

    [CorpusFact]
    public void Infrahub_s_own_compose_file_masks_its_passwords_and_tokens_and_keeps_its_settings_readable()
    {
        var redactor = new SecretRedactor(ComposeFile.Load(InfrahubCorpus.ComposeFile!, _ => null).Secrets);
        var text = redactor.Redact(
            "db password admin; neo4j auth neo4j/admin; prefect postgres password postgres; initial token 06438eb2-8019-4776-878c-0941b1f1d1ec; " +
            "agent token 44af444d-3b26-410d-9546-b758657e026c; querystring auth false; token lifetime 3600; minimum password length 4; " +
            "service infrahub-server, image registry.opsmill.io/opsmill/infrahub:0.16.2");
        // The passwords that equal a name the file shows anyway (postgres is POSTGRES_USER, infrahub the broker's and cache's
        // user and a part of infrahub-server) stay readable, and are named by ExposedSecretNames.
        Assert.Equal(
            "db password ***; neo4j auth ***; prefect postgres password postgres; initial token ***; " +
            "agent token ***; querystring auth false; token lifetime 3600; minimum password length 4; " +
            "service infrahub-server, image registry.opsmill.io/opsmill/infrahub:0.16.2", text);
        Assert.Equal(new[] { "INFRAHUB_BROKER_PASSWORD", "INFRAHUB_CACHE_PASSWORD", "INFRAHUB_INITIAL_ADMIN_PASSWORD", "POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_PASS" },
            ComposeFile.Load(InfrahubCorpus.ComposeFile!, _ => null).ExposedSecretNames);
    }

    [Fact]
    public void A_password_that_is_a_public_name_is_shown_and_named_and_a_real_one_stays_masked()
    {
        var file = Write("""
            services:
              app-server:
                image: app
                environment:
                  APP_BROKER_USERNAME: broker
                  APP_BROKER_PASSWORD: broker
                  APP_ADMIN_PASSWORD: app
                  APP_DB_PASSWORD: real-secret-6
            """, "COMPOSE_PROJECT_NAME=shop\nAPP_CACHE_PASSWORD=shop\n");
        Assert.Equal(new[] { "APP_ADMIN_PASSWORD", "APP_BROKER_PASSWORD", "APP_CACHE_PASSWORD" }, file.ExposedSecretNames);
        Assert.Equal("service app-server of shop, broker user broker, db ***",
            new SecretRedactor(file.Secrets).Redact("service app-server of shop, broker user broker, db real-secret-6"));
    }

    [Fact]
    public void The_environment_is_read_from_a_mapping_with_merge_keys_and_from_a_list()
    {
        var file = Write("""
            x-config: &config
              APP_DB_PASSWORD: ${DB_PASSWORD:-from-default-1}
              APP_LOG_LEVEL: INFO
            services:
              server:
                image: app
                environment:
                  <<: *config
                  APP_PORT: 8000
                  APP_SHELL_VALUE:
              db:
                image: postgres
                environment:
                  - POSTGRES_PASSWORD=written-inline-2
                  - POSTGRES_USER=app
                  - ONLY_NAMED
            """);
        Assert.Equal(new Dictionary<string, string> { ["APP_PORT"] = "8000", ["APP_DB_PASSWORD"] = "from-default-1", ["APP_LOG_LEVEL"] = "INFO" },
            file.Services["server"].Environment);
        Assert.Equal(new Dictionary<string, string> { ["POSTGRES_PASSWORD"] = "written-inline-2", ["POSTGRES_USER"] = "app" }, file.Services["db"].Environment);
    }

    [Fact]
    public void Only_the_file_s_secret_named_values_and_URL_credentials_are_secrets_and_the_env_counts_whole()
    {
        var file = Write("""
            services:
              server:
                image: app
                environment:
                  APP_SIGNING_KEY: inline-key-3
                  APP_STORAGE_PATH: /opt/app/storage
                  APP_REPOSITORY: https://bot:tok123@git.example/x.git
            """, "VERSION=1.2.3\nAPP_GREETING=hello there\n");
        var secrets = file.Secrets.Select(s => s.Value).ToHashSet();
        Assert.Contains("inline-key-3", secrets);
        Assert.Contains("https://bot:tok123@git.example/x.git", secrets);
        Assert.Contains("hello there", secrets);
        Assert.DoesNotContain("/opt/app/storage", secrets);
        Assert.Equal("key ***, storage /opt/app/storage, greeting ***, version 1.2.3",
            new SecretRedactor(file.Secrets).Redact("key inline-key-3, storage /opt/app/storage, greeting hello there, version 1.2.3"));
    }

    [Fact]
    public void A_value_compose_cannot_interpolate_is_left_out_not_refused()
    {
        var file = Write("""
            services:
              server:
                image: app
                environment:
                  APP_SECRET: ${REQUIRED_SECRET:?set it}
                  APP_TOKEN: plain-token-4
            """);
        Assert.Equal(new Dictionary<string, string> { ["APP_TOKEN"] = "plain-token-4" }, file.Services["server"].Environment);
    }

    [Fact]
    public void SecretsAt_a_file_that_cannot_be_read_still_gives_the_env()
    {
        var path = Path.Combine(_folder, "docker-compose.yml");
        File.WriteAllText(path, "services: [not, a, mapping");
        File.WriteAllText(Path.Combine(_folder, ".env"), "DB_PASSWORD=still-masked-5\n");
        Assert.Equal("still-masked-5", Assert.Single(ComposeFile.SecretsAt(path)).Value);
    }
}

using UpgradeOps.Hosting;
using UpgradeOps.Upgrades;
using UpgradeOps.Versioning;

using UpgradeOps.Compose;

using UpgradeOps.Platforms;

namespace UpgradeOps.Engine.Tests.Upgrades;

/// <summary>
/// An upgrade or a rollback reads what is local (profile, compose file, .env, -ConfigurationValue, journal) before it asks the
/// Docker Engine anything: with no engine at all, a fault of those is still said as itself.
/// </summary>
public sealed class LocalInputsFirstTests : IDisposable
{
    private const string NoEngine = "unix:///nonexistent/upgradeops-tests/docker.sock";
    private readonly string _folder = Directory.CreateTempSubdirectory("local-first-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private Deployment Deployment(bool generate = true)
    {
        var profile = Path.Combine(_folder, "profile.yml");
        File.WriteAllText(profile, "name: mine\nservices:\n  - name: web\n    role: Api\n    productImage: true\nversion:\n  environmentVariable: VERSION\n  service: web\n" +
                                   "configurationRules:\n  - id: key\n    description: 2.0.0 needs a key.\n    appVersion: 2.0.0\n    requiresVariable: APP_KEY\n" +
                                   (generate ? "    generate: true\n" : ""));
        var compose = Path.Combine(_folder, "docker-compose.yml");
        File.WriteAllText(compose, "services:\n  web: {image: \"app:${VERSION:-1.9.0}\"}\n");
        return new Deployment
        {
            Name = "mine", Platform = DeploymentPlatform.Compose, Profile = profile, Version = "1.9.0", Location = compose, Endpoint = NoEngine,
        };
    }

    private static UpgradeRequest Request(Deployment deployment, IReadOnlyDictionary<string, string>? values = null) => new()
    {
        Deployment = deployment, SkipBackup = true, ConfigurationValues = values,
        Path = new UpgradePath
        {
            From = "1.9.0", To = "2.0.0", IsSupported = true, Reason = "major",
            Steps = [new UpgradeStep { From = "1.9.0", To = "2.0.0", Kind = UpgradeKind.Major }],
        },
    };

    private static EngineContext Context() => new(new NoEvents(), CancellationToken.None);

    [Fact]
    public async Task A_value_a_rule_requires_is_asked_for_before_the_engine()
    {
        var request = Request(Deployment(generate: false));
        var plan = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeUpgrade.PlanAsync(request, Context()));
        var upgrade = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeUpgrade.UpgradeAsync(request, Context()));
        Assert.All(new[] { plan, upgrade }, ex =>
        {
            Assert.Equal("ConfigurationValueRequired", ex.ErrorId);
            Assert.Contains("APP_KEY", ex.Message);
        });
        Assert.False(Directory.Exists(Path.Combine(_folder, ".upgradeops")), "nothing is left beside the compose file");
    }

    [Fact]
    public async Task A_value_no_env_line_can_hold_is_refused_before_the_engine()
    {
        var request = Request(Deployment(), new Dictionary<string, string> { ["APP_KEY"] = "one\ntwo" });
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeUpgrade.PlanAsync(request, Context()));
        Assert.Equal("ConfigurationValueInvalid", ex.ErrorId);
    }

    [Fact]
    public async Task A_compose_file_that_is_gone_is_said_before_the_engine()
    {
        var deployment = Deployment();
        File.Delete(deployment.Location!);
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeUpgrade.UpgradeAsync(Request(deployment), Context()));
        Assert.Equal("ComposeFileNotFound", ex.ErrorId);
    }

    [Fact]
    public async Task With_good_local_inputs_the_engine_is_asked()
    {
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeUpgrade.UpgradeAsync(Request(Deployment()), Context()));
        Assert.Equal("DockerEngineUnreachable", ex.ErrorId);
        Assert.False(Directory.Exists(Path.Combine(_folder, ".upgradeops")), "no journal or lock for an upgrade that never started");
    }

    [Fact]
    public async Task Nothing_to_resume_or_roll_back_is_said_before_the_engine()
    {
        var deployment = Deployment();
        var resume = await Assert.ThrowsAsync<UpgradeOpsException>(() => ComposeUpgrade.ResumeAsync(Request(deployment), Context()));
        Assert.Equal("NothingToResume", resume.ErrorId);
        var rollback = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            ComposeRollback.RollBackAsync(new RollbackRequest { Deployment = deployment }, Context()));
        Assert.Equal("NothingToRollBack", rollback.ErrorId);
    }

    private sealed class NoEvents : IEngineEventSink
    {
        public void Post(EngineEvent engineEvent) { }
    }
}

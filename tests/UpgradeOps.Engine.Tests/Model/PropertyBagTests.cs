namespace UpgradeOps.Tests.Model;

/// <summary>
/// A model object rebuilt from the plain values Import-Clixml gives back of it (after the cmdlet layer unwrapped
/// PowerShell's wrappers): enums as their numbers, lists as lists of values, maps with object keys, a DateTimeOffset as
/// its properties, computed properties alongside the real ones.
/// </summary>
public class PropertyBagTests
{
    private static Dictionary<string, object?> Bag(params (string Name, object? Value)[] properties) =>
        properties.ToDictionary(p => p.Name, p => p.Value, StringComparer.OrdinalIgnoreCase);

    private static List<object?> List(params object?[] items) => items.ToList();

    /// <summary>A DateTimeOffset as CliXml gives it back: a bag of its properties.</summary>
    private static Dictionary<string, object?> Deserialized(DateTimeOffset when) => Bag(
        ("DateTime", when.DateTime), ("UtcDateTime", when.UtcDateTime), ("Offset", when.Offset), ("Ticks", when.Ticks),
        ("UtcTicks", when.UtcTicks), ("Year", when.Year));

    private static Dictionary<string, object?> DeploymentBag() => Bag(
        ("Name", "prod"), ("Platform", 0), ("Profile", "infrahub"), ("Version", "1.7.5"), ("Location", "/srv/prod/docker-compose.yml"),
        ("Healthy", false), ("IsRehearsalCopy", true), ("Revision", null),
        ("Services", List(Bag(("Name", "server"), ("Role", 0), ("Replicas", 2), ("ExpectedReplicas", 2), ("Healthy", true),
            ("Containers", List(Bag(("Id", "abc"), ("Name", "prod-server-1"), ("State", "running"), ("ExitCode", null), ("IsHealthy", true))))))),
        ("PortMap", List(Bag(("ProfilePort", 8000), ("Port", 18000)), Bag(("ProfilePort", 5432), ("Port", 15432)))),
        ("Warnings", List("one warning")));

    [Fact]
    public void A_deployment_comes_back_typed_with_its_services_and_ports()
    {
        var deployment = Assert.IsType<Deployment>(PropertyBag.ToModel(typeof(Deployment), DeploymentBag()));
        Assert.Equal("prod", deployment.Name);
        Assert.Equal(DeploymentPlatform.Compose, deployment.Platform);
        Assert.Null(deployment.Revision);
        var service = Assert.Single(deployment.Services);
        Assert.Equal(ServiceRole.Api, service.Role);
        Assert.Equal("prod-server-1", Assert.Single(service.Containers).Name);
        Assert.True(deployment.Healthy);
        Assert.Equal(18000, deployment.MapPort(8000));
        Assert.Equal(6379, deployment.MapPort(6379));
        Assert.True(deployment.IsRehearsalCopy);
        Assert.Equal(new[] { "one warning" }, deployment.Warnings);
    }

    [Fact]
    public void A_date_with_an_offset_comes_back_exact_from_its_properties()
    {
        var when = new DateTimeOffset(2026, 12, 1, 22, 0, 0, TimeSpan.FromHours(5.5)).AddTicks(1234567);
        var bag = Bag(("Name", "hop1:pull"), ("Status", "Succeeded"), ("Started", Deserialized(when)), ("Duration", TimeSpan.FromMilliseconds(1234.5)));
        var step = Assert.IsType<UpgradeStepResult>(PropertyBag.ToModel(typeof(UpgradeStepResult), bag));
        Assert.Equal(when, step.Started);
        Assert.Equal(when.Offset, step.Started!.Value.Offset);
        Assert.Equal(StepStatus.Succeeded, step.Status);
        Assert.Equal(TimeSpan.FromMilliseconds(1234.5), step.Duration);
    }

    [Theory]
    [InlineData("00:01:30.2500000")]
    [InlineData("1.02:03:04")]
    public void A_TimeSpan_comes_back_from_its_text_or_its_ticks(string text)
    {
        var expected = TimeSpan.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expected, PropertyBag.ToModel(typeof(TimeSpan), text));
        Assert.Equal(expected, PropertyBag.ToModel(typeof(TimeSpan), Bag(("Ticks", expected.Ticks), ("TotalSeconds", expected.TotalSeconds))));
    }

    [Fact]
    public void A_backup_keeps_its_path_maps_and_row_counts()
    {
        var bag = Bag(("Id", "20261201T000000Z"), ("Path", "/backups/20261201T000000Z"), ("CreatedAt", Deserialized(DateTimeOffset.UnixEpoch)),
            ("DeploymentName", "prod"), ("Platform", 1), ("SizeBytes", 99L),
            ("Components", List(Bag(("Name", "database"), ("Kind", 0), ("File", "database.dump"), ("Sha256", "ab"), ("SizeBytes", 12),
                ("RowCounts", new Dictionary<object, object?> { ["public.artifacts"] = 42, ["public.repositories"] = 3L })))),
            ("ImageDigests", new Dictionary<object, object?> { ["registry/app:1.7.5"] = "sha256:0a" }),
            ("ToolVersions", new Dictionary<object, object?>()));
        var backup = Assert.IsType<DeploymentBackup>(PropertyBag.ToModel(typeof(DeploymentBackup), bag));
        Assert.Equal("/backups/20261201T000000Z", backup.Path);
        Assert.Equal(DeploymentPlatform.Kubernetes, backup.Platform);
        var component = Assert.Single(backup.Components);
        Assert.Equal(BackupComponentKind.PostgresDump, component.Kind);
        Assert.Equal(42L, component.RowCounts!["public.artifacts"]);
        Assert.Equal("sha256:0a", backup.ImageDigests["registry/app:1.7.5"]);
        Assert.Equal(12, backup.SizeBytes);
    }

    [Fact]
    public void A_result_keeps_its_deployment_and_a_path_its_estimates()
    {
        var result = Assert.IsType<UpgradeResult>(PropertyBag.ToModel(typeof(UpgradeResult), Bag(
            ("Id", "u1"), ("DeploymentName", "prod"), ("From", "1.7.5"), ("To", "1.8.0"), ("Deployment", DeploymentBag()),
            ("Steps", List()), ("MigrationOutput", List("migrated")), ("Strategy", 2))));
        Assert.Equal("prod", result.Deployment!.Name);
        Assert.Equal(UpgradeStrategy.Helm, result.Strategy);
        Assert.Equal(new[] { "migrated" }, result.MigrationOutput);

        var path = Assert.IsType<UpgradePath>(PropertyBag.ToModel(typeof(UpgradePath), Bag(
            ("From", "1.7.5"), ("To", "1.8.0"), ("IsSupported", true), ("Reason", "1 hop"), ("Route", "1.7.5 → 1.8.0"),
            ("EstimatedDowntime", Bag(("Min", 10), ("Max", 30), ("MaxDuration", TimeSpan.FromMinutes(30)))),
            ("Steps", List(Bag(("From", "1.7.5"), ("To", "1.8.0"), ("Kind", 1), ("EstimatedMinutes", Bag(("Min", 10), ("Max", 30))),
                ("ReleaseNotes", List(Bag(("Version", "1.8.0"), ("Category", "Security"), ("Title", "t"), ("Text", "t"),
                    ("ReleaseDate", new DateTime(2026, 3, 1)), ("References", List("#12")))))))))));
        Assert.Equal(new MinuteRange(10, 30), path.EstimatedDowntime);
        var step = Assert.Single(path.Steps);
        Assert.Equal(UpgradeKind.Minor, step.Kind);
        Assert.Equal(ReleaseNoteCategory.Security, Assert.Single(step.ReleaseNotes).Category);
        Assert.Equal("1.7.5 → 1.8.0", path.Route);
    }

    [Fact]
    public void A_missing_required_property_is_refused_by_its_path()
    {
        var bag = DeploymentBag();
        bag.Remove("Name");
        var error = Assert.Throws<UpgradeOpsException>(() => PropertyBag.ToModel(typeof(Deployment), bag));
        Assert.Equal(PropertyBag.InvalidErrorId, error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("Deployment.Name", error.Target);
        Assert.Contains("Give the object as the module's cmdlet returned it", error.Message);
    }

    [Fact]
    public void A_value_of_the_wrong_kind_is_refused_without_echoing_it()
    {
        var bag = DeploymentBag();
        ((Dictionary<string, object?>)((List<object?>)bag["Services"]!)[0]!)["Replicas"] = "two\nthree";
        var error = Assert.Throws<UpgradeOpsException>(() => PropertyBag.ToModel(typeof(Deployment), bag));
        Assert.Equal("Deployment.Services[0].Replicas", error.Target);
        Assert.DoesNotContain("\n", error.Message);

        bag = DeploymentBag();
        bag["Platform"] = 7;
        var platform = Assert.Throws<UpgradeOpsException>(() => PropertyBag.ToModel(typeof(Deployment), bag));
        Assert.Equal("Deployment.Platform", platform.Target);
        Assert.Contains("Compose, Kubernetes", platform.Message);

        bag = DeploymentBag();
        bag["Services"] = "not a list";
        Assert.Equal("Deployment.Services", Assert.Throws<UpgradeOpsException>(() => PropertyBag.ToModel(typeof(Deployment), bag)).Target);
    }
}

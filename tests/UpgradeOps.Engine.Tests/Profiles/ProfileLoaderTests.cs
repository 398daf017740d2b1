using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Profiles;

public class ProfileLoaderTests
{
    [Fact]
    public void Builtin_infrahub_profile_loads_with_the_guide_facts()
    {
        var profile = ProfileLoader.Load("Infrahub");
        Assert.Equal("infrahub", profile.Name);
        Assert.Equal("builtin:infrahub", profile.Source);
        Assert.Equal(ServiceRole.Api, profile.Services.Single(s => s.Name == "infrahub-server").Role);
        Assert.Equal(2, profile.Services.Single(s => s.Name == "task-worker").Replicas);
        Assert.Equal("VERSION", profile.Version.EnvironmentVariable);
        Assert.Equal(1, profile.VersionPolicy.MaxMinorStep);
        Assert.Equal(["infrahub", "upgrade"], profile.Migration.Command);
        Assert.Equal(["infrahub", "upgrade", "--check"], profile.Migration.CheckCommand);
        Assert.Equal("/api/info", profile.Api.Info);
        Assert.Equal("query { InfrahubInfo { version } }", profile.Api.VersionQuery);
        Assert.Contains(profile.DataStores, d => d.Kind == DataStoreKind.Postgres && d.Database == "prefect");
        Assert.Contains("infrahub", ProfileLoader.BuiltInNames);
    }

    [Fact]
    public void Loads_a_profile_from_a_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"profile-{Guid.NewGuid():N}.yml");
        File.WriteAllText(path, "name: mine\nservices:\n  - name: web\n    role: Api\n");
        try
        {
            var profile = ProfileLoader.Load(path);
            Assert.Equal("mine", profile.Name);
            Assert.Equal(path, profile.Source);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Unknown_name_or_missing_file_is_ProfileNotFound()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Load("no-such-profile"));
        Assert.Equal("ProfileNotFound", error.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, error.Kind);
        Assert.Contains("infrahub", error.Message);
    }

    [Fact]
    public void Yaml_syntax_errors_give_file_line_and_column()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: [unclosed\n", "bad.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Equal("bad.yml", error.File);
        Assert.NotNull(error.Line);
        Assert.StartsWith("bad.yml:", error.Message);
    }

    [Fact]
    public void Unknown_keys_are_reported_where_they_stand()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: web\n    rool: Api\n", "typo.yml"));
        Assert.Equal(4, error.Line);
        Assert.Equal(5, error.Column);
        Assert.Contains("rool", error.Message);
    }

    [Fact]
    public void Bad_enum_values_are_reported()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: web\n    role: Webserver\n", "role.yml"));
        Assert.Equal(4, error.Line);
    }

    [Fact]
    public void Semantic_errors_point_at_the_offending_mapping()
    {
        const string yaml = "name: x\nservices:\n  - name: web\n    role: Api\n  - name: web\n    role: Worker\n";
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "dup.yml"));
        Assert.Contains("declared twice", error.Message);
        Assert.Equal(5, error.Line);
    }

    [Theory]
    [InlineData("name: x\nservices: []\n", "at least one service")]
    [InlineData("services:\n  - name: web\n", "'name' is required")]
    [InlineData("name: x\nservices:\n  - name: web\ncatalog: [1.7]\n", "not a semantic version")]
    [InlineData("name: x\nservices:\n  - name: web\nestimates:\n  patch: [10, 5]\n", "min <= max")]
    [InlineData("name: x\nservices:\n  - name: web\ndataStores:\n  - name: db\n    kind: Postgres\n    service: web\n", "needs a 'database'")]
    [InlineData("name: x\nservices:\n  - name: web\ndataStores:\n  - name: db\n    kind: Postgres\n    service: nope\n    database: d\n", "not declared")]
    [InlineData("name: x\nservices:\n  - name: web\nconfigurationRules:\n  - id: r\n    requiresVariable: X\n", "appVersion")]
    [InlineData("name: x\nservices:\n  - name: web\nconfigurationRules:\n  - id: r\n    appVersion: 1.0.0\n    requiresValuesKey: cache..host\n", "dotted values key")]
    [InlineData("name: x\nservices:\n  - name: web\nconfigurationRules:\n  - id: r\n    appVersion: 1.0.0\n    requiresVariable: X\n    movedFrom: a.b\n", "movedFrom")]
    [InlineData("schemaVersion: 2\nname: x\nservices:\n  - name: web\n", "schemaVersion 2")]
    public void Validation_says_what_is_wrong(string yaml, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "p.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Empty_document_is_refused()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("", "empty.yml"));
        Assert.Contains("empty", error.Message);
    }
}

using UpgradeOps.Compose;

using UpgradeOps.Versioning;

namespace UpgradeOps.Engine.Tests.Compose;

public class ComposeFileTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"compose-{Guid.NewGuid():N}");

    public ComposeFileTests()
    {
        Directory.CreateDirectory(_folder);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "Compose", "docker-compose.yml"), ComposePath);
    }

    private string ComposePath => Path.Combine(_folder, "docker-compose.yml");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private ComposeFile Load(string? dotEnv = null, Dictionary<string, string>? environment = null)
    {
        if (dotEnv is not null) File.WriteAllText(Path.Combine(_folder, ".env"), dotEnv);
        return ComposeFile.Load(ComposePath, name => environment?.GetValueOrDefault(name));
    }

    [Fact]
    public void Uses_the_compose_default_when_nothing_sets_the_variable()
    {
        var file = Load("APP_SECRET=x\n");
        Assert.Equal("registry.example.test/team/app:1.7.5", file.Services["app-server"].Image);
        Assert.Equal("${APP_IMAGE:-registry.example.test/team/app}:${VERSION:-1.7.5}", file.Services["app-server"].RawImage);
    }

    [Fact]
    public void Env_file_overrides_the_default_and_the_environment_overrides_the_env_file()
    {
        Assert.Equal("registry.example.test/team/app:1.7.6", Load("VERSION=1.7.6\n").Services["app-worker"].Image);
        var file = Load("VERSION=1.7.6\n", new Dictionary<string, string> { ["VERSION"] = "1.8.0" });
        Assert.Equal("registry.example.test/team/app:1.8.0", file.Services["app-worker"].Image);
    }

    [Fact]
    public void Reads_replicas_healthchecks_and_network_mode()
    {
        var file = Load();
        Assert.Equal(2, file.Services["app-worker"].Replicas);
        Assert.Equal(3, file.Services["legacy"].Replicas);
        Assert.Equal(1, file.Services["app-server"].Replicas);
        Assert.True(file.Services["app-server"].HasHealthcheck);
        Assert.False(file.Services["app-worker"].HasHealthcheck);
        Assert.False(file.Services["cache"].HasHealthcheck);
        Assert.Equal("host", file.Services["app-server"].NetworkMode);
        Assert.Equal("redis:7.2.4", file.Services["cache"].Image);
    }

    [Fact]
    public void Project_name_comes_from_the_folder_normalised()
    {
        var file = Load();
        Assert.Equal(ComposeFile.NormalizeProjectName(Path.GetFileName(_folder)), file.ProjectName(_ => null));
        Assert.Equal("my-stack_1", ComposeFile.NormalizeProjectName("My Stack!_1".Replace(" ", "-")));
        Assert.Equal("fromenv", Load("COMPOSE_PROJECT_NAME=FromEnv\n").ProjectName(_ => null));
    }

    [Fact]
    public void Yaml_errors_name_file_line_and_column()
    {
        File.WriteAllText(ComposePath, "services:\n  app:\n    image: [unclosed\n");
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(ComposePath, _ => null));
        Assert.Equal("ComposeFileInvalid", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(ComposePath)}:\d+:\d+: ", error.Message);
    }

    [Theory]
    [InlineData("services:\n  ? {x: 1}\n  : {image: y}\n", 2, 5)]
    [InlineData("services:\n  [a, b]: {image: y}\n", 2, 3)]
    [InlineData("services: {a: [}\n", 1, 16)]
    [InlineData("services:\n  \"web\\x01\": {image: a}\n", 2, 3)]
    [InlineData("services: web\n", 1, 11)]
    [InlineData("services:\n  web: *base\n", 2, 8)]
    [InlineData("services:\n\tweb:\n\t\timage: nginx\n", 2, 1)]
    [InlineData("- services\n", 1, 1)]
    [InlineData("services:\n  web:\n    image: nginx\n    deploy: {replicas: two}\n", 4, 24)]
    [InlineData("services:\n  web:\n    image: nginx\n    scale: 99999999999\n", 4, 12)]
    [InlineData("x: &s hello\nservices:\n  web:\n    <<: *s\n    image: y\n", 1, 4)]
    [InlineData("services:\n  web: &w\n    <<: *w\n    image: y\n", 3, 5)]
    public void Every_malformed_shape_is_ComposeFileInvalid_at_its_line_and_column(string text, int line, int column)
    {
        File.WriteAllText(ComposePath, text);
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(ComposePath, _ => null));
        Assert.Equal("ComposeFileInvalid", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.StartsWith($"{ComposePath}:{line}:{column}: ", error.Message);
        Assert.EndsWith("and try again.", error.Message);
    }

    [Fact]
    public void A_file_nested_deeper_than_any_real_one_is_refused_rather_than_overflowing_the_stack()
    {
        File.WriteAllText(ComposePath, "services: " + new string('[', 100_000) + new string(']', 100_000) + "\n");
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(ComposePath, _ => null));
        Assert.Equal("ComposeFileInvalid", error.ErrorId);
        Assert.Contains("levels deep", error.Message);
    }

    [Fact]
    public void A_file_of_several_documents_is_refused_a_trailing_separator_is_not()
    {
        File.WriteAllText(ComposePath, "services:\n  web: {image: a}\n---\nservices:\n  web: {image: b}\n");
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(ComposePath, _ => null));
        Assert.Equal(("ComposeFileNotSupported", ErrorKind.NotImplemented), (error.ErrorId, error.Kind));
        File.WriteAllText(ComposePath, "services:\n  web: {image: a}\n---\n");
        Assert.Equal("a", ComposeFile.Load(ComposePath, _ => null).Services["web"].Image);
    }

    [Fact]
    public void A_folder_given_as_the_compose_file_is_not_found_and_says_it_is_a_folder()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(_folder, _ => null));
        Assert.Equal("ComposeFileNotFound", error.ErrorId);
        Assert.Contains("is a folder", error.Message);
    }

    [Fact]
    public void A_file_without_services_is_invalid()
    {
        File.WriteAllText(ComposePath, "volumes:\n  data:\n");
        Assert.Equal("ComposeFileInvalid", Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(ComposePath, _ => null)).ErrorId);
    }

    [Fact]
    public void A_missing_file_is_ComposeFileNotFound()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(Path.Combine(_folder, "nope.yml"), _ => null));
        Assert.Equal("ComposeFileNotFound", error.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, error.Kind);
    }

    [Fact]
    public void Merge_keys_bring_the_anchor_and_explicit_keys_win()
    {
        File.WriteAllText(ComposePath, """
            x-base: &base
              image: base:1.0.0
              scale: 2
            services:
              app:
                <<: *base
                image: app:2.0.0
            """);
        var app = ComposeFile.Load(ComposePath, _ => null).Services["app"];
        Assert.Equal("app:2.0.0", app.Image);
        Assert.Equal(2, app.Replicas);
    }
}

public class ComposeInterpolationTests
{
    private static readonly Dictionary<string, string> Values = new() { ["SET"] = "value", ["EMPTY"] = "" };

    private static string Run(string text) => ComposeInterpolation.Interpolate(text, name => Values.GetValueOrDefault(name));

    [Theory]
    [InlineData("${SET}", "value")]
    [InlineData("$SET/x", "value/x")]
    [InlineData("${UNSET}", "")]
    [InlineData("${UNSET:-dflt}", "dflt")]
    [InlineData("${EMPTY:-dflt}", "dflt")]
    [InlineData("${EMPTY-dflt}", "")]
    [InlineData("${UNSET-dflt}", "dflt")]
    [InlineData("${SET:-dflt}", "value")]
    [InlineData("${SET:+alt}", "alt")]
    [InlineData("${UNSET:+alt}", "")]
    [InlineData("${UNSET:-${SET}}", "value")]
    [InlineData("$$SET", "$SET")]
    [InlineData("a:${UNSET:-1.7.5}", "a:1.7.5")]
    [InlineData("cost $5", "cost $5")]
    public void Interpolates_like_compose(string text, string expected) => Assert.Equal(expected, Run(text));

    [Fact]
    public void Required_variables_fail_with_their_message()
    {
        var error = Assert.Throws<FormatException>(() => Run("${UNSET:?set it in .env}"));
        Assert.Contains("set it in .env", error.Message);
    }

    [Fact]
    public void Unclosed_braces_fail() => Assert.Throws<FormatException>(() => Run("${SET"));
}

public class EnvFileTests
{
    [Fact]
    public void Reads_comments_quotes_export_and_inline_comments()
    {
        var values = EnvFile.Parse("# comment\nVERSION=1.7.5\nexport NAME=\"a b\"\nSINGLE='x#y'\nINLINE=v # note\n\nEMPTY=\nBROKEN\r\n");
        Assert.Equal("1.7.5", values["VERSION"]);
        Assert.Equal("a b", values["NAME"]);
        Assert.Equal("x#y", values["SINGLE"]);
        Assert.Equal("v", values["INLINE"]);
        Assert.Equal("", values["EMPTY"]);
        Assert.False(values.ContainsKey("BROKEN"));
    }
}

public class ImageReferenceTests
{
    [Theory]
    [InlineData("127.0.0.1:5000/upgradeops/sandbox:1.7.5", "1.7.5", "1.7.5")]
    [InlineData("registry.example.test:5000/team/app", null, null)]
    [InlineData("app:v2.1.0@sha256:abcd", "v2.1.0", "2.1.0")]
    [InlineData("redis:7.2.4", "7.2.4", "7.2.4")]
    [InlineData("postgres:15", "15", null)]
    public void Finds_tag_and_version(string reference, string? tag, string? version)
    {
        Assert.Equal(tag, ImageReference.Tag(reference));
        Assert.Equal(version, ImageReference.Version(reference));
    }

    [Fact]
    public void Retags_without_touching_the_registry_port() =>
        Assert.Equal("127.0.0.1:5000/a/b:1.8.0", ImageReference.WithTag("127.0.0.1:5000/a/b:1.7.5", "1.8.0"));
}

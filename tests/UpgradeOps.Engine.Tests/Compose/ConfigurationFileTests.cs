using System.Text;
using UpgradeOps.Compose;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Hosting;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>
/// The deployment's own files as users keep them — CRLF lines, a byte order mark, a key set twice, a folder or a link
/// loop where a file belongs — read and edited by the configuration rules, the version edit and the values-file checks.
/// </summary>
public class ConfigurationFileTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"config-{Guid.NewGuid():N}");
    private static readonly ProductProfile Profile = ProfileLoader.Parse("""
        name: app
        services:
          - name: app-server
            role: Api
            productImage: true
        version:
          environmentVariable: VERSION
          service: app-server
        configurationRules:
          - id: signing-key
            description: 2.0.0 needs a signing key.
            appVersion: 2.0.0
            requiresVariable: APP_SIGNING_KEY
            generate: true
          - id: cache-host
            description: 1.7.6 reads cache.host.
            appVersion: 1.7.6
            requiresValuesKey: cache.host
            movedFrom: cache.address
            defaultValue: 127.0.0.1
        """, "test.yml");

    public ConfigurationFileTests()
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllText(ComposePath, "services:\n  app-server:\n    image: \"registry.test/app:${VERSION:-1.9.0}\"\n");
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string ComposePath => Path.Combine(_folder, "docker-compose.yml");
    private string EnvPath => Path.Combine(_folder, ".env");
    private string ValuesPath => Path.Combine(_folder, "values.yaml");

    private (FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes) PlanSigningKey(string env, Dictionary<string, string>? given = null, bool bom = false)
    {
        File.WriteAllText(EnvPath, env, new UTF8Encoding(bom));
        return ComposeConfiguration.Plan(ComposeFile.Load(ComposePath, _ => null), Profile, ProductVersion.Parse("1.9.0"), ProductVersion.Parse("2.0.0"), given);
    }

    private static void AssertEveryLineEndsInCrlf(string text)
    {
        Assert.EndsWith("\r\n", text);
        Assert.DoesNotMatch("(?<!\r)\n", text);
    }

    [Fact]
    public void A_line_added_to_a_CRLF_env_ends_in_CRLF()
    {
        var (edit, changes) = PlanSigningKey("# versions\r\nVERSION=1.9.0\r\n");
        Assert.Equal(ConfigurationAction.Added, Assert.Single(changes).Action);
        AssertEveryLineEndsInCrlf(edit!.After);
        Assert.Matches("^# versions\r\nVERSION=1\\.9\\.0\r\nAPP_SIGNING_KEY=[0-9a-f]{64}\r\n$", edit.After);
    }

    [Fact]
    public void A_CRLF_env_without_a_final_line_end_gets_a_CRLF_before_the_added_line()
    {
        var (edit, _) = PlanSigningKey("VERSION=1.9.0\r\nOTHER=1");
        Assert.Matches("^VERSION=1\\.9\\.0\r\nOTHER=1\r\nAPP_SIGNING_KEY=[0-9a-f]{64}\r\n$", edit!.After);
    }

    [Fact]
    public void An_empty_assignment_on_a_CRLF_line_is_filled_and_keeps_its_CRLF()
    {
        var (edit, _) = PlanSigningKey("APP_SIGNING_KEY=\r\nVERSION=1.9.0\r\n");
        Assert.Matches("^APP_SIGNING_KEY=[0-9a-f]{64}\r\nVERSION=1\\.9\\.0\r\n$", edit!.After);
    }

    [Fact]
    public void The_byte_order_mark_stays_when_the_env_is_written()
    {
        var (edit, _) = PlanSigningKey("VERSION=1.9.0\n", bom: true);
        Assert.True(edit!.ByteOrderMark);
        Assert.StartsWith("VERSION=1.9.0\n", edit.Before);
        edit.Apply();
        var bytes = File.ReadAllBytes(EnvPath);
        Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF }, bytes[..3]);
        Assert.Equal(1, Encoding.UTF8.GetString(bytes).Split("APP_SIGNING_KEY=").Length - 1);
    }

    [Fact]
    public void Of_a_key_set_twice_the_last_assignment_is_the_one_compose_uses_and_the_one_edited()
    {
        var (edit, changes) = PlanSigningKey("APP_SIGNING_KEY=kept-as-it-is\nVERSION=1.9.0\nAPP_SIGNING_KEY=\n");
        Assert.Equal(ConfigurationAction.Added, Assert.Single(changes).Action);
        Assert.Matches("^APP_SIGNING_KEY=kept-as-it-is\nVERSION=1\\.9\\.0\nAPP_SIGNING_KEY=[0-9a-f]{64}\n$", edit!.After);
        Assert.Equal("kept", EnvFile.Parse("A=1\nA=kept\n")["A"]);
    }

    [Fact]
    public void A_key_whose_last_assignment_is_set_is_already_set()
    {
        var (edit, changes) = PlanSigningKey("APP_SIGNING_KEY=\nAPP_SIGNING_KEY=set-later\n");
        Assert.Null(edit);
        Assert.Equal(ConfigurationAction.AlreadySet, Assert.Single(changes).Action);
    }

    [Theory]
    [InlineData("plain-value_1.2:3@x/y", "plain-value_1.2:3@x/y")]
    [InlineData("it's", "it's")]
    [InlineData("with space", "'with space'")]
    [InlineData("p@ss#word", "'p@ss#word'")]
    [InlineData("$HOME", "'$HOME'")]
    [InlineData("\"quoted\"", "'\"quoted\"'")]
    [InlineData("back\\slash", "'back\\slash'")]
    public void A_given_value_is_written_so_that_compose_reads_it_back_unchanged(string value, string written)
    {
        var (edit, _) = PlanSigningKey("VERSION=1.9.0\n", new Dictionary<string, string> { ["APP_SIGNING_KEY"] = value });
        Assert.EndsWith($"\nAPP_SIGNING_KEY={written}\n", edit!.After);
        Assert.Equal(value, EnvFile.Parse(edit.After)["APP_SIGNING_KEY"]);
        Assert.Contains("+APP_SIGNING_KEY=***", edit.Diff);
    }

    [Theory]
    [InlineData("line\nVERSION=9.9.9")]
    [InlineData("carriage\rreturn")]
    [InlineData("it's $HOME")]
    [InlineData("ends in \\")]
    public void A_value_no_env_line_can_hold_is_refused_naming_the_variable_not_the_value(string value)
    {
        var error = Assert.Throws<UpgradeOpsException>(() => PlanSigningKey("VERSION=1.9.0\n", new Dictionary<string, string> { ["APP_SIGNING_KEY"] = value }));
        Assert.Equal("ConfigurationValueInvalid", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("APP_SIGNING_KEY", error.Target);
        Assert.DoesNotContain(value, error.Message);
    }

    [Fact]
    public void An_env_that_is_a_folder_is_an_error_that_says_to_remove_or_rename_it()
    {
        Directory.CreateDirectory(EnvPath);
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(ComposePath, _ => null));
        Assert.Equal("EnvFileUnreadable", error.ErrorId);
        Assert.Equal(EnvPath, error.Target);
        Assert.Contains("Remove or rename the folder", error.Message);
    }

    [Fact]
    public void A_compose_path_that_is_a_link_loop_is_an_error_naming_the_path()
    {
        var a = Path.Combine(_folder, "a.yml");
        File.CreateSymbolicLink(a, Path.Combine(_folder, "b.yml"));
        File.CreateSymbolicLink(Path.Combine(_folder, "b.yml"), a);
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeFile.Load(a, _ => null));
        Assert.Equal("ComposeFileUnreadable", error.ErrorId);
        Assert.Equal(a, error.Target);
        Assert.Contains("link loop", error.Message);
    }

    [Fact]
    public void The_version_line_of_a_CRLF_env_is_edited_in_the_env_keeping_its_CRLF()
    {
        File.WriteAllText(EnvPath, "VERSION=1.7.5\r\nOTHER=x\r\n");
        var edit = Assert.Single(ComposeVersionEditor.PlanVersionChange(ComposeFile.Load(ComposePath, _ => null), Profile, "1.7.6"));
        Assert.Equal(EnvPath, edit.Path);
        Assert.Equal("VERSION=1.7.6\r\nOTHER=x\r\n", edit.After);
    }

    [Fact]
    public void The_version_set_twice_in_env_is_edited_where_compose_reads_it_the_last_time()
    {
        File.WriteAllText(EnvPath, "VERSION=1.0.0\nVERSION=1.7.5\n");
        var edit = Assert.Single(ComposeVersionEditor.PlanVersionChange(ComposeFile.Load(ComposePath, _ => null), Profile, "1.7.6"));
        Assert.Equal("VERSION=1.0.0\nVERSION=1.7.6\n", edit.After);
    }

    private (FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes) PlanCacheHost(string values, bool bom = false)
    {
        File.WriteAllText(ValuesPath, values, new UTF8Encoding(bom));
        HelmConfiguration.CheckValuesFiles([ValuesPath]);
        return HelmConfiguration.Plan(ValuesPath, Profile, ProductVersion.Parse("1.7.5"), ProductVersion.Parse("1.7.6"), null, null);
    }

    [Fact]
    public void A_key_added_to_a_CRLF_values_file_with_a_BOM_keeps_both()
    {
        var (edit, changes) = PlanCacheHost("# prod\r\nserver:\r\n  replicas: 2\r\n", bom: true);
        Assert.Equal(ConfigurationAction.Added, Assert.Single(changes).Action);
        Assert.True(edit!.ByteOrderMark);
        AssertEveryLineEndsInCrlf(edit.After);
        Assert.Equal("# prod\r\nserver:\r\n  replicas: 2\r\ncache:\r\n  host: 127.0.0.1\r\n", edit.After);
    }

    [Fact]
    public void A_key_moved_in_a_CRLF_values_file_keeps_CRLF()
    {
        var (edit, changes) = PlanCacheHost("cache:\r\n  # the Redis host\r\n  address: 10.0.0.9\r\n  port: 6379\r\n");
        Assert.Equal(ConfigurationAction.Moved, Assert.Single(changes).Action);
        AssertEveryLineEndsInCrlf(edit!.After);
    }

    [Fact]
    public void A_values_file_that_sets_a_key_twice_is_refused_with_its_line_and_column()
    {
        var error = Assert.Throws<UpgradeOpsException>(() => PlanCacheHost("cache:\n  address: a\n  address: b\n"));
        Assert.Equal("ValuesFileUnreadable", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Equal(ValuesPath, error.Target);
        Assert.StartsWith($"{ValuesPath}:3:3: ", error.Message);
        Assert.Contains("address", error.Message);
    }

    [Fact]
    public void A_values_file_that_is_missing_or_a_folder_is_refused()
    {
        var missing = Assert.Throws<UpgradeOpsException>(() => HelmConfiguration.CheckValuesFiles([ValuesPath]));
        Assert.Equal(("ValuesFileNotFound", ErrorKind.ObjectNotFound), (missing.ErrorId, missing.Kind));
        Directory.CreateDirectory(ValuesPath);
        var folder = Assert.Throws<UpgradeOpsException>(() => HelmConfiguration.CheckValuesFiles([ValuesPath]));
        Assert.Equal(("ValuesFileUnreadable", ErrorKind.InvalidData), (folder.ErrorId, folder.Kind));
    }
}

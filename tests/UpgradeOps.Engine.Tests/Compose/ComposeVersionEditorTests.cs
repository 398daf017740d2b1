using UpgradeOps.Compose;
using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Compose;

public class ComposeVersionEditorTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"editor-{Guid.NewGuid():N}");
    private static readonly ProductProfile Profile = ProfileLoader.Parse("""
        name: app
        services:
          - name: app-server
            role: Api
            productImage: true
          - name: app-worker
            role: Worker
            productImage: true
        version:
          environmentVariable: VERSION
          service: app-server
        """, "test.yml");

    public ComposeVersionEditorTests()
    {
        Directory.CreateDirectory(_folder);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "Compose", "docker-compose.yml"), ComposePath);
    }

    public void Dispose() => Directory.Delete(_folder, true);

    private string ComposePath => Path.Combine(_folder, "docker-compose.yml");
    private string EnvPath => Path.Combine(_folder, ".env");
    private ComposeFile Load() => ComposeFile.Load(ComposePath, _ => null);

    [Fact]
    public void Edits_only_the_value_of_the_env_line()
    {
        const string env = "# versions\nAPP_SECRET=s3cret\nVERSION=\"1.7.5\"  # pinned\nOTHER=1.7.5\n";
        File.WriteAllText(EnvPath, env);
        var edit = Assert.Single(ComposeVersionEditor.PlanVersionChange(Load(), Profile, "1.7.6"));
        Assert.Equal(EnvPath, edit.Path);
        Assert.Equal(env.Replace("VERSION=\"1.7.5\"", "VERSION=\"1.7.6\""), edit.After);
        Assert.Contains("-VERSION=\"1.7.5\"  # pinned", edit.Diff);
        Assert.Contains("+VERSION=\"1.7.6\"  # pinned", edit.Diff);
        Assert.DoesNotContain("s3cret", edit.Diff.Split('\n').Where(l => l.StartsWith('+') || l.StartsWith('-')).Aggregate("", (a, b) => a + b));
    }

    [Fact]
    public void Edits_every_compose_default_when_the_env_file_does_not_set_the_version()
    {
        File.WriteAllText(EnvPath, "APP_SECRET=x\n");
        var before = File.ReadAllText(ComposePath);
        var edit = Assert.Single(ComposeVersionEditor.PlanVersionChange(Load(), Profile, "1.8.0"));
        Assert.Equal(ComposePath, edit.Path);
        Assert.Equal(before.Replace("${VERSION:-1.7.5}", "${VERSION:-1.8.0}"), edit.After);
        Assert.Equal(2, edit.After.Split("${VERSION:-1.8.0}").Length - 1);
    }

    [Fact]
    public void Keeps_crlf_line_ends_and_the_byte_order_mark()
    {
        var text = File.ReadAllText(ComposePath).Replace("\n", "\r\n");
        File.WriteAllBytes(ComposePath, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(text)]);
        File.WriteAllText(EnvPath, "APP_SECRET=x\r\n");
        var edit = Assert.Single(ComposeVersionEditor.PlanVersionChange(Load(), Profile, "1.8.0"));
        edit.Apply();
        var bytes = File.ReadAllBytes(ComposePath);
        Assert.Equal([0xEF, 0xBB, 0xBF], bytes[..3]);
        Assert.Equal(text.Replace("${VERSION:-1.7.5}", "${VERSION:-1.8.0}"), System.Text.Encoding.UTF8.GetString(bytes[3..]));
    }

    [Fact]
    public void Retags_literal_product_images()
    {
        File.WriteAllText(ComposePath, "services:\n  app-server:\n    image: reg.test:5000/app:1.7.5 # pinned\n  app-worker:\n    image: \"reg.test:5000/app:1.7.5\"\n  db:\n    image: postgres:1.7.5\n");
        var edit = Assert.Single(ComposeVersionEditor.PlanVersionChange(Load(), Profile, "1.8.0"));
        Assert.Equal("services:\n  app-server:\n    image: reg.test:5000/app:1.8.0 # pinned\n  app-worker:\n    image: \"reg.test:5000/app:1.8.0\"\n  db:\n    image: postgres:1.7.5\n", edit.After);
    }

    [Fact]
    public void Says_when_it_cannot_find_the_version()
    {
        File.WriteAllText(ComposePath, "services:\n  app-server:\n    image: reg.test/app\n");
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeVersionEditor.PlanVersionChange(Load(), Profile, "1.8.0"));
        Assert.Equal("VersionLocationNotFound", error.ErrorId);
    }

    [Fact]
    public void Apply_writes_atomically_and_keeps_the_file_mode()
    {
        // File modes are Unix's; on Windows there is none to keep.
        if (OperatingSystem.IsWindows()) return;
        File.WriteAllText(EnvPath, "VERSION=1.7.5\n");
        File.SetUnixFileMode(EnvPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        ComposeVersionEditor.PlanVersionChange(Load(), Profile, "1.7.6").Single().Apply();
        Assert.Equal("VERSION=1.7.6\n", File.ReadAllText(EnvPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(EnvPath));
        Assert.Empty(Directory.GetFiles(_folder, "*.upgradeops-*"));
    }
}

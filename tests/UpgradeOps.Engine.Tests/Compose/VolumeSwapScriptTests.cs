using System.Diagnostics;
using UpgradeOps.Compose;

namespace UpgradeOps.Tests.Compose;

/// <summary>
/// The script that puts a staged volume copy in the live content's place, run with this machine's /bin/sh on a temp folder
/// (the helper container runs the same script with its image's sh).
/// </summary>
public sealed class VolumeSwapScriptTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("upgradeops-swap-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private (int ExitCode, string Error) Swap(string stagingFolder)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-c", ComposeRestore.SwapScript, "upgradeops-volume-swap", _root, stagingFolder }) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private string[] Tree() => Directory.EnumerateFileSystemEntries(_root, "*", SearchOption.AllDirectories)
        .Select(p => Path.GetRelativePath(_root, p)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void ReplacesTheLiveContentWithTheStagedCopyHiddenFilesIncluded()
    {
        Write("old.txt", "old");
        Write(".old-hidden", "old");
        Write("artifacts/old.cfg", "old");
        Write(".upgradeops-staging-1/storage/new.txt", "new");
        Write(".upgradeops-staging-1/storage/.new-hidden", "new");
        Write(".upgradeops-staging-1/storage/artifacts/new.cfg", "new");

        var (exitCode, error) = Swap(".upgradeops-staging-1");

        Assert.True(exitCode == 0, error);
        Assert.Equal(new[] { ".new-hidden", "artifacts", "artifacts/new.cfg", "new.txt" }, Tree());
        Assert.Equal("new", File.ReadAllText(Path.Combine(_root, "artifacts/new.cfg")));
    }

    [Fact]
    public void RemovesAStagingFolderAKilledRestoreLeft()
    {
        Write("live.txt", "old");
        Write(".upgradeops-staging-killed/storage/half.txt", "half");
        Write(".upgradeops-staging-2/storage/new.txt", "new");

        var (exitCode, error) = Swap(".upgradeops-staging-2");

        Assert.True(exitCode == 0, error);
        Assert.Equal(new[] { "new.txt" }, Tree());
    }

    [Fact]
    public void AnEmptyArchiveLeavesAnEmptyVolume()
    {
        Write("live.txt", "old");
        Directory.CreateDirectory(Path.Combine(_root, ".upgradeops-staging-3/storage"));

        var (exitCode, error) = Swap(".upgradeops-staging-3");

        Assert.True(exitCode == 0, error);
        Assert.Empty(Tree());
    }

    [Fact]
    public void GivesTheRootTheModeOfTheArchivesFolder()
    {
        if (OperatingSystem.IsWindows()) return;
        Write(".upgradeops-staging-4/storage/new.txt", "new");
        File.SetUnixFileMode(Path.Combine(_root, ".upgradeops-staging-4/storage"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);

        var (exitCode, error) = Swap(".upgradeops-staging-4");

        Assert.True(exitCode == 0, error);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute,
            File.GetUnixFileMode(_root));
    }

    [Theory]
    [InlineData("two top-level folders", "storage", "other")]
    [InlineData("a file at the top", "stray.txt", null)]
    public void RefusesAStagedCopyWithoutOneTopLevelFolderAndDeletesNothing(string _, string first, string? second)
    {
        Write("live.txt", "old");
        if (first.EndsWith(".txt", StringComparison.Ordinal)) Write($".upgradeops-staging-5/{first}", "x");
        else Write($".upgradeops-staging-5/{first}/a.txt", "x");
        if (second is not null) Write($".upgradeops-staging-5/{second}/b.txt", "x");

        var (exitCode, error) = Swap(".upgradeops-staging-5");

        Assert.Equal(3, exitCode);
        Assert.Contains("top-level", error);
        Assert.Contains("live.txt", Tree());
    }
}

using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using UpgradeOps.Backups;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// A backup must open with a standard tool where UpgradeOps is not at hand: GnuPG decrypts what UpgradeOps writes, and
/// UpgradeOps reads what <c>gpg --symmetric</c> writes. gpg runs with a home of its own (its agent is stopped after);
/// a machine without gpg fails these tests rather than skipping them.
/// </summary>
public sealed class BackupEncryptionGpgTests : IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), $"uops-gpg-{Guid.NewGuid():N}"[..22]);
    private readonly string _work;

    public BackupEncryptionGpgTests()
    {
        // gpg's agent socket lives in its home: a short path keeps it under the socket path limit.
        Directory.CreateDirectory(_home);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _work = Directory.CreateDirectory(Path.Combine(_home, "work")).FullName;
    }

    public void Dispose()
    {
        if (Gpgconf() is { } gpgconf) Run(gpgconf, null, "--homedir", _home, "--kill", "gpg-agent");
        Directory.Delete(_home, recursive: true);
    }

    private static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(Path.PathSeparator)
            .Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    private static string Gpg() => Find("gpg") ?? throw new Xunit.Sdk.XunitException(
        "gpg is not installed, so this test cannot prove that a standard tool decrypts UpgradeOps' backups. " +
        "Install it (apt-get install gnupg; build.ps1's sandbox host setup installs it) and run the tests again.");

    private static string? Gpgconf() => Find("gpgconf");

    private static (int ExitCode, string Errors) Run(string program, byte[]? input, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        if (input is not null) process.StandardInput.BaseStream.Write(input);
        process.StandardInput.Close();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in 120 s.");
        }
        return (process.ExitCode, errors.Result + output.Result);
    }

    /// <summary>gpg in batch mode with its own home, the passphrase on its standard input (as the README tells users).</summary>
    private (int ExitCode, string Errors) RunGpg(byte[] passphrase, params string[] arguments) =>
        Run(Gpg(), [.. passphrase, (byte)'\n'],
            ["--homedir", _home, "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase-fd", "0", .. arguments]);

    public static TheoryData<int, string> Files => new()
    {
        { 0, "correct horse battery staple" },
        { 3 * (1 << 20) + 12345, "correct horse battery staple" },
        { 70_000, "pässwört – ünïcödé" },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void Gpg_decrypts_a_file_UpgradeOps_wrote(int size, string passphrase)
    {
        var key = Encoding.UTF8.GetBytes(passphrase);
        var plain = RandomNumberGenerator.GetBytes(size);
        var encrypted = Path.Combine(_work, "database.dump.enc");
        var decrypted = Path.Combine(_work, "database.dump");
        File.WriteAllBytes(encrypted, BackupEncryptionTests.Encrypt(plain, key));

        var (exitCode, errors) = RunGpg(key, "--output", decrypted, "--decrypt", encrypted);

        Assert.True(exitCode == 0, $"gpg --decrypt failed ({exitCode}): {errors}");
        Assert.Equal(plain, File.ReadAllBytes(decrypted));
        // gpg says so when a file lacks integrity protection or uses a weak cipher.
        Assert.DoesNotContain("WARNING", errors);
    }

    [Fact]
    public void Gpg_refuses_a_file_UpgradeOps_wrote_with_another_passphrase()
    {
        var encrypted = Path.Combine(_work, "files.tar.enc");
        File.WriteAllBytes(encrypted, BackupEncryptionTests.Encrypt(new byte[1000]));
        var (exitCode, _) = RunGpg("wrong"u8.ToArray(), "--output", Path.Combine(_work, "files.tar"), "--decrypt", encrypted);
        Assert.NotEqual(0, exitCode);
    }

    [Theory]
    [InlineData("--compress-algo", "none")]
    [InlineData("--compress-algo", "zlib")]
    [InlineData("--compress-algo", "zip")]
    [InlineData("--s2k-digest-algo", "SHA512")]
    public void UpgradeOps_reads_a_file_gpg_symmetric_wrote(string option, string value)
    {
        var plain = RandomNumberGenerator.GetBytes(2 * (1 << 20) + 7);
        var source = Path.Combine(_work, "plain.bin");
        var encrypted = Path.Combine(_work, "plain.bin.gpg");
        File.WriteAllBytes(source, plain);

        var (exitCode, errors) = RunGpg(BackupEncryptionTests.Key,
            "--symmetric", "--cipher-algo", "AES256", "--s2k-digest-algo", "SHA256", option, value, "--output", encrypted, source);

        Assert.True(exitCode == 0, $"gpg --symmetric failed ({exitCode}): {errors}");
        Assert.Equal(plain, BackupEncryptionTests.Decrypt(File.ReadAllBytes(encrypted)));
    }

    [Fact]
    public void UpgradeOps_refuses_a_file_gpg_encrypted_with_a_weaker_cipher()
    {
        var source = Path.Combine(_work, "plain.bin");
        var encrypted = Path.Combine(_work, "plain.bin.gpg");
        File.WriteAllBytes(source, new byte[100]);
        var (exitCode, errors) = RunGpg(BackupEncryptionTests.Key, "--symmetric", "--cipher-algo", "AES128", "--output", encrypted, source);
        Assert.True(exitCode == 0, $"gpg --symmetric failed ({exitCode}): {errors}");
        var error = Assert.Throws<BackupFormatException>(() => BackupEncryptionTests.Decrypt(File.ReadAllBytes(encrypted)));
        Assert.Equal("BackupEncryptionParametersRefused", error.ErrorId);
    }
}

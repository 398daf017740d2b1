using System.Diagnostics;
using UpgradeOps.Hosting;

namespace UpgradeOps.Kubernetes;

/// <summary>What one helm command printed (secrets masked) and how it ended.</summary>
public sealed record HelmRun(int ExitCode, string Output, string Error, TimeSpan Duration);

/// <summary>
/// The helm binary: the one external program UpgradeOps runs, for the mutations only (upgrade, rollback);
/// release state is read natively. Found on PATH or given with -HelmPath.
/// </summary>
public sealed class HelmCli(string path, string? kubeconfig, string? kubeContext)
{
    public string Path { get; } = path;

    public static HelmCli Locate(string? helmPath, string? kubeconfig, string? kubeContext)
    {
        if (helmPath is not null)
            return File.Exists(helmPath) ? new HelmCli(System.IO.Path.GetFullPath(helmPath), kubeconfig, kubeContext)
                : throw NotFound(helmPath);
        var name = OperatingSystem.IsWindows() ? "helm.exe" : "helm";
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => System.IO.Path.Combine(folder, name)).FirstOrDefault(File.Exists);
        return found is not null ? new HelmCli(found, kubeconfig, kubeContext) : throw NotFound(null);
    }

    private static UpgradeOpsException NotFound(string? given) =>
        new("HelmNotFound", ErrorKind.ObjectNotFound, given,
            (given is null ? "No helm binary is on PATH. " : $"'{given}' does not exist. ") +
            "Install helm v3.8 or later (https://helm.sh/docs/intro/install/) or give its path with -HelmPath: it runs the upgrade and rollback " +
            "of a Helm release; everything else is read through the Kubernetes API.");

    /// <summary>Runs helm with these arguments against the deployment's cluster; output is redacted with <paramref name="redactor"/>.</summary>
    /// <param name="redactOutput">False only for output that is parsed and never shown or kept (a rendering): masking a secret
    /// that equals a name would change the names in it. Standard error is always redacted.</param>
    public async Task<HelmRun> RunAsync(IReadOnlyList<string> arguments, SecretRedactor redactor, CancellationToken ct, bool redactOutput = true)
    {
        var start = new ProcessStartInfo(Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        if (kubeconfig is not null) start.Environment["KUBECONFIG"] = kubeconfig;
        if (kubeContext is not null)
        {
            start.ArgumentList.Add("--kube-context");
            start.ArgumentList.Add(kubeContext);
        }
        var watch = Stopwatch.StartNew();
        Process? started;
        try
        {
            started = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new UpgradeOpsException("HelmNotRunnable", ErrorKind.PermissionDenied, Path,
                $"'{Path}' could not be started ({ex.Message}). Check that it is an executable helm binary for this machine, or give another with -HelmPath.", ex);
        }
        using var process = started ?? throw NotFound(Path);
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: helm is stopped too, so the release is left as helm leaves it (Invoke-Upgrade -Resume or -Force repairs a pending one).
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw;
        }
        var printed = (await output.ConfigureAwait(false)).Trim();
        return new HelmRun(process.ExitCode, redactOutput ? redactor.Redact(printed) : printed,
            redactor.Redact((await error.ConfigureAwait(false)).Trim()), watch.Elapsed);
    }
}

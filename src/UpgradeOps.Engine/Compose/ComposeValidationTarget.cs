using System.Globalization;
using k8s;
using k8s.Models;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Platforms;
using UpgradeOps.Validation;

namespace UpgradeOps.Compose;

internal sealed class ComposeValidationTarget : IValidationTarget
{
    private readonly ComposeDeployment _source;

    private ComposeValidationTarget(Deployment deployment, ComposeDeployment source)
    {
        Deployment = deployment;
        _source = source;
        Redactor = ComposeFile.RedactorAt(source.File.Path);
    }

    public static async Task<ComposeValidationTarget> OpenAsync(Deployment given, EngineContext context)
    {
        var deployment = await ComposeDiscovery.DiscoverAsync(ComposeDiscoveryRequest.Again(given), context).ConfigureAwait(false);
        return new ComposeValidationTarget(deployment, await ComposeDeployment.OpenAsync(deployment, context.CancellationToken).ConfigureAwait(false));
    }

    public Deployment Deployment { get; }
    public ProductProfile Profile => _source.Profile;
    public SecretRedactor Redactor { get; }
    public string InstanceNoun => "containers";
    public string StartRemedy => "Start what stopped ('docker compose up -d'), and read its log with Get-UpgradeDiagnostic.";

    public ProductApi Api(string? apiEndpoint) => ProductApi.For(Deployment, Profile, apiEndpoint);

    public async Task<ExecResult> ExecAsync(string service, IReadOnlyList<string> command, CancellationToken ct)
    {
        var container = _source.ContainersOf(service).FirstOrDefault(c => c.State == "running")
            ?? throw new UpgradeOpsException("ServiceNotRunning", ErrorKind.ObjectNotFound, service,
                $"No running container of service '{service}' to run {command[0]} in. Start it first.");
        return await DockerExec.RunAsync(_source.Engine.Client, container.ID, command, ct).ConfigureAwait(false);
    }

    public async Task<(DateTimeOffset From, IReadOnlyList<(string Instance, string Text)> Logs)> LogsSinceAsync(DateTimeOffset? since, CancellationToken ct)
    {
        await _source.RefreshAsync(ct).ConfigureAwait(false);
        var inspected = await Task.WhenAll(_source.Containers.Select(c => _source.Engine.Client.Containers.InspectContainerAsync(c.ID, ct))).ConfigureAwait(false);
        // "Since the upgrade": the caller's moment, else the start of the newest product container (the current version).
        var productServices = Profile.Services.Where(s => s.ProductImage).Select(s => _source.ComposeName(s.Name)).ToHashSet();
        var from = since ?? inspected
            .Where(i => DockerModels.ConfigOf(i).Labels?.TryGetValue(ComposeDiscovery.ServiceLabel, out var s) == true && productServices.Contains(s))
            .Select(i => DateTimeOffset.TryParse(DockerModels.StateOf(i).StartedAt, out var at) ? at : DateTimeOffset.MinValue)
            .DefaultIfEmpty(DateTimeOffset.UtcNow.AddHours(-1)).Max().AddSeconds(-5);
        var logs = new List<(string, string)>();
        foreach (var container in inspected)
            logs.Add((container.Name.TrimStart('/'), await ReadLogsAsync(_source.Engine, container.ID, from, ct).ConfigureAwait(false)));
        return (from, logs);
    }

    public void Dispose() => _source.Dispose();

    /// <summary>A container's log since a moment, stdout then stderr.</summary>
    private static async Task<string> ReadLogsAsync(DockerEngine engine, string containerId, DateTimeOffset since, CancellationToken ct)
    {
        var (stdout, stderr) = await ContainerLogs.ReadAsync(engine.Client, containerId, since, tail: null, timestamps: false, ct).ConfigureAwait(false);
        return stdout + (stderr.Length > 0 && !stdout.EndsWith('\n') && stdout.Length > 0 ? "\n" : "") + stderr;
    }
}

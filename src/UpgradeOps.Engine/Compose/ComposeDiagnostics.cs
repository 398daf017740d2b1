using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;

using UpgradeOps.Validation;


using UpgradeOps.Platforms;

namespace UpgradeOps.Compose;

/// <summary>
/// Collects what troubleshooting a Compose deployment needs, read-only, through the Engine API: every container's
/// state, health, exit code, restart count and last log lines; what the newest (or the given) upgrade journal
/// recorded about a failure; and the findings <see cref="DiagnosticAnalyzer"/> makes of them. Every text is
/// redacted with the values of the deployment's .env.
/// </summary>
public static class ComposeDiagnostics
{
    public static async Task<DiagnosticReport> CollectAsync(DiagnosticRequest request, Deployment deployment, UpgradeJournal? givenJournal, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeDiagnostics));
        using var activity = context.StartActivity($"Collecting diagnostics of {deployment.Name}");
        activity.Report("Connecting to the Docker Engine", 5);
        using var target = await ComposeDeployment.OpenAsync(deployment, ct).ConfigureAwait(false);
        var envPath = target.File.EnvFilePath;
        var environment = File.Exists(envPath) ? EnvFile.Read(envPath) : new Dictionary<string, string>().AsReadOnly();
        var redactor = ComposeFile.RedactorAt(target.File.Path);

        var report = new DiagnosticReport
        {
            DeploymentName = deployment.Name, CollectedAt = DateTimeOffset.UtcNow,
            Version = deployment.Version ?? deployment.ConfiguredVersion, Mask = redactor.Redact,
        };

        var unknown = request.Services.Where(s => target.Containers.All(c => !string.Equals(ServiceOf(c), s, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0)
            throw new UpgradeOpsException("UnknownService", ErrorKind.ObjectNotFound, string.Join(", ", unknown),
                $"'{deployment.Name}' has no container of service {string.Join(", ", unknown)}. Its services: " +
                string.Join(", ", target.Containers.Select(ServiceOf).Distinct().Order()) + ". Give -Service one of them, or leave -Service out for all.");
        var containers = target.Containers
            .Where(c => request.Services.Count == 0 || request.Services.Contains(ServiceOf(c), StringComparer.OrdinalIgnoreCase))
            .OrderBy(c => ServiceOf(c), StringComparer.Ordinal)
            .ThenBy(c => c.Names.FirstOrDefault(), StringComparer.Ordinal).ToList();
        for (var i = 0; i < containers.Count; i++)
        {
            var name = containers[i].Names.First().TrimStart('/');
            activity.Report($"Reading {name}", 10 + 70 * i / Math.Max(1, containers.Count));
            report.Services.Add(await DescribeAsync(target.Engine.Client, containers[i], name, request, redactor, ct).ConfigureAwait(false));
        }

        activity.Report("Reading the upgrade journal", 85);
        var journal = givenJournal ?? Diagnostics.PickJournal(target.File.Path, request.UpgradeId, deployment.Name, report);
        if (journal is not null) Diagnostics.ReadJournal(report, journal, redactor);
        log.LogDebug("Diagnostics of {Deployment}: {Containers} containers, journal {Journal}", deployment.Name, report.Services.Count, journal?.Path ?? "(none)");

        var target_ = journal?.Result.Operation == "Upgrade" ? journal.Result.To : null;
        report.Findings.AddRange(DiagnosticAnalyzer.Analyze(report, target.Profile, environment, redactor,
            deployment.ConfiguredVersion ?? deployment.Version, target_, envPath));
        activity.Complete();
        return report;
    }

    private static async Task<ServiceDiagnostic> DescribeAsync(DockerClient client, ContainerListResponse container, string name, DiagnosticRequest request,
        SecretRedactor redactor, CancellationToken ct)
    {
        var inspect = await client.Containers.InspectContainerAsync(container.ID, ct).ConfigureAwait(false);
        var state = inspect.State;
        var running = state?.Running == true || state?.Restarting == true || state?.Paused == true;
        var diagnostic = new ServiceDiagnostic
        {
            Service = ServiceOf(container),
            Container = name,
            Image = inspect.Config?.Image ?? container.Image,
            State = state?.Status ?? container.State,
            // A stopped container keeps the health of its last run: only a running one has a health worth showing.
            Health = state?.Running == true && state.Health?.Status is { Length: > 0 } health && health != "none" ? health : null,
            ExitCode = running ? null : state?.ExitCode,
            RestartCount = inspect.RestartCount,
            OomKilled = state?.OOMKilled == true,
            StartedAt = ParseTime(state?.StartedAt),
            FinishedAt = running ? null : ParseTime(state?.FinishedAt),
        };
        diagnostic.LogTail = await LogTailAsync(client, container.ID, request, redactor, ct).ConfigureAwait(false);
        return diagnostic;
    }

    /// <summary>The last lines of stdout and stderr, each with Docker's timestamp, merged in time order and redacted.</summary>
    internal static async Task<List<string>> LogTailAsync(DockerClient client, string containerId, DiagnosticRequest request, SecretRedactor redactor, CancellationToken ct)
    {
        string stdout, stderr;
        try
        {
            (stdout, stderr) = await ContainerLogs.ReadAsync(client, containerId, request.Since, request.Tail, timestamps: true, ct).ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            // A log driver that cannot be read (journald, syslog, ...) is a fact to show, not a failure of the whole report.
            return [redactor.Redact($"(logs unavailable: {ex.Message.Trim()})")];
        }
        var lines = SplitLines(stdout).Concat(SplitLines(stderr))
            .Select((line, index) => (line, index, at: DiagnosticAnalyzer.Timestamp(line) ?? DateTimeOffset.MinValue))
            .OrderBy(l => l.at).ThenBy(l => l.index)
            .Select(l => redactor.Redact(l.line)).ToList();
        return lines.Count > request.Tail ? lines.GetRange(lines.Count - request.Tail, request.Tail) : lines;
    }

    private static IEnumerable<string> SplitLines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);

    /// <summary>The deployment a Compose journal was written for (its compose file, profile and Docker endpoint); null for another kind of journal.</summary>
    internal static async Task<Deployment?> DeploymentOfJournalAsync(UpgradeJournal journal, EngineContext context) =>
        journal.ComposeFile is null
            ? null
            : await ComposeDiscovery.DiscoverAsync(new ComposeDiscoveryRequest
            {
                ComposeFile = journal.ComposeFile, Profile = journal.Profile ?? "infrahub", DockerHost = journal.DockerEndpoint,
            }, context).ConfigureAwait(false);

    private static string ServiceOf(ContainerListResponse container) =>
        container.Labels.TryGetValue(ComposeDiscovery.ServiceLabel, out var service) ? service : "";

    private static DateTimeOffset? ParseTime(string? text)
    {
        if (string.IsNullOrEmpty(text) || text.StartsWith("0001-01-01", StringComparison.Ordinal)) return null;
        return DiagnosticAnalyzer.Timestamp(text + " ");
    }
}

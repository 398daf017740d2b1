using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Kubernetes;


using UpgradeOps.Validation;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Get-UpgradeDiagnostic on a Helm release, read-only through the Kubernetes API: every pod of the release's workloads
/// (phase, readiness, restarts, exit code of the last run, last log lines), the newest (or the given) journal of the
/// release's upgrades, and the same findings as on Compose. Every text is redacted with the release's values.
/// </summary>
internal static class HelmDiagnostics
{
    public static async Task<DiagnosticReport> CollectAsync(DiagnosticRequest request, Deployment deployment, UpgradeJournal? givenJournal, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmDiagnostics));
        using var activity = context.StartActivity($"Collecting diagnostics of {deployment.Name}");
        using var source = HelmDeployment.Open(deployment);
        var (ns, release) = (source.Namespace, source.Release);
        activity.Report("Reading the release", 5);
        var revisions = await CallAsync(source, "read the release", () => HelmReleaseReader.ListAsync(source.Client, ns, release, ct)).ConfigureAwait(false);
        var latest = revisions.LastOrDefault();
        var redactor = new SecretRedactor(latest?.FlatValues() ?? Array.Empty<KeyValuePair<string, string>>());
        var report = new DiagnosticReport
        {
            DeploymentName = deployment.Name, CollectedAt = DateTimeOffset.UtcNow, Version = deployment.Version ?? deployment.ConfiguredVersion, Mask = redactor.Redact,
            Platform = DeploymentPlatform.Kubernetes,
        };

        var workloads = await source.WorkloadsAsync(ct).ConfigureAwait(false);
        var unknown = request.Services.Where(s => workloads.All(w => !string.Equals(w.Name, s, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0)
            throw new UpgradeOpsException("UnknownService", ErrorKind.ObjectNotFound, string.Join(", ", unknown),
                $"Release {ns}/{release} has no workload {string.Join(", ", unknown)}. Its workloads: {string.Join(", ", workloads.Select(w => w.Name))}. " +
                "Give -Service one of them, or leave -Service out for all.");
        var selected = workloads.Where(w => request.Services.Count == 0 || request.Services.Contains(w.Name, StringComparer.OrdinalIgnoreCase)).ToList();
        for (var i = 0; i < selected.Count; i++)
        {
            var workload = selected[i];
            activity.Report($"Reading the pods of {workload.Name}", 10 + 70 * i / Math.Max(1, selected.Count));
            var selector = string.Join(",", workload.Selector.Select(p => $"{p.Key}={p.Value}"));
            var pods = await CallAsync(source, "list the pods", () => source.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: selector, cancellationToken: ct)).ConfigureAwait(false);
            foreach (var pod in pods.Items.Where(p => p.Metadata.OwnerReferences?.Any(o => o.Kind == "Job") != true).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal))
            {
                var diagnostic = Describe(workload.Name, pod);
                diagnostic.LogTail = await LogTailAsync(source.Client, ns, pod, request, redactor, ct).ConfigureAwait(false);
                report.Services.Add(diagnostic);
            }
        }

        activity.Report("Reading the upgrade journal", 85);
        var journal = givenJournal ?? Diagnostics.PickJournal(HelmStateFolder.Anchor(ns, release), request.UpgradeId, deployment.Name, report);
        if (journal is not null) Diagnostics.ReadJournal(report, journal, redactor);
        log.LogDebug("Diagnostics of {Release}: {Pods} pods, journal {Journal}", deployment.Location, report.Services.Count, journal?.Path ?? "(none)");
        var target = journal?.Result.Operation == "Upgrade" ? journal.Result.To : null;
        // Helm's configuration rules are values keys, checked by Convert-UpgradeConfiguration: no .env to read here.
        // A release left pending-* comes first: until it is repaired helm refuses every upgrade, whatever else is found.
        if (PendingFinding(revisions, ns, journal) is { } pending) report.Findings.Add(pending);
        report.Findings.AddRange(DiagnosticAnalyzer.Analyze(report, source.Profile, new Dictionary<string, string>(), redactor,
            deployment.ConfiguredVersion ?? deployment.Version, target));
        activity.Complete();
        return report;
    }

    /// <summary>
    /// The finding for a release whose newest revision is pending-* (a killed or disconnected helm), with the revision it returns
    /// to and the upgrade -Resume continues (the newest journal's target); null when the release is not pending.
    /// </summary>
    internal static DiagnosticFinding? PendingFinding(IReadOnlyList<HelmRelease> revisions, string ns, UpgradeJournal? journal)
    {
        if (revisions.Count == 0 || revisions.MaxBy(r => r.Revision) is not { IsPending: true } latest) return null;
        var deployed = HelmReleaseReader.LastDeployed(revisions);
        var target = journal?.Result.Operation == "Upgrade" ? journal.Target ?? journal.Result.To : null;
        return new DiagnosticFinding
        {
            Id = "HelmReleasePending", Severity = FindingSeverity.Error, Source = "release",
            Evidence = $"revision {latest.Revision} is {latest.Status} ({latest.Description ?? "no description"}, chart {latest.ChartName} {latest.ChartVersion})" +
                       (deployed is null ? "; no revision was ever deployed" : $"; the last deployed revision is {deployed.Revision}"),
            Guidance = $"A helm operation on {latest.Name} did not finish (its client was killed or lost its connection), and helm refuses every upgrade " +
                       "until it is repaired ('another operation (install/upgrade/rollback) is in progress'). " +
                       (deployed is null
                           ? HelmUpgrade.NeverDeployed(latest, ns).Message
                           : $"Invoke-Upgrade -Deployment $d -Resume -Chart <chart> rolls it back to revision {deployed.Revision} and continues " +
                             (target is null ? "to the version -To gives" : $"the interrupted upgrade to {target} ({journal!.Result.Id})") +
                             $"; -WhatIf shows both. By hand: 'helm rollback {latest.Name} {deployed.Revision} -n {ns}'."),
        };
    }

    /// <summary>A pod in the words of a container: running, restarting (CrashLoopBackOff), exited (its last run ended), created (not started).</summary>
    internal static ServiceDiagnostic Describe(string workload, V1Pod pod)
    {
        var status = pod.Status?.ContainerStatuses?.FirstOrDefault();
        var ready = pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        var waiting = status?.State?.Waiting?.Reason;
        var terminated = status?.State?.Terminated;
        var state = waiting is "CrashLoopBackOff" ? "restarting"
            : status?.State?.Running is not null ? "running"
            : terminated is not null || pod.Status?.Phase is "Failed" or "Succeeded" ? "exited"
            : "created";
        return new ServiceDiagnostic
        {
            Service = workload,
            Container = pod.Metadata.Name,
            Image = status?.Image ?? pod.Spec?.Containers?.FirstOrDefault()?.Image,
            State = state,
            Health = state == "running" ? (ready ? "healthy" : "unhealthy") : null,
            ExitCode = (terminated ?? status?.LastState?.Terminated)?.ExitCode,
            RestartCount = status?.RestartCount ?? 0,
            OomKilled = (terminated ?? status?.LastState?.Terminated)?.Reason == "OOMKilled",
            StartedAt = Utc(status?.State?.Running?.StartedAt ?? terminated?.StartedAt),
            FinishedAt = Utc(terminated?.FinishedAt),
        };
    }

    private static DateTimeOffset? Utc(DateTime? time) => time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;

    /// <summary>The pod's last log lines with the API's timestamps, redacted; a log that cannot be read is a line saying so.</summary>
    private static async Task<List<string>> LogTailAsync(IKubernetes client, string ns, V1Pod pod, DiagnosticRequest request, SecretRedactor redactor, CancellationToken ct)
    {
        try
        {
            int? sinceSeconds = request.Since is { } since ? (int)Math.Max(1, Math.Ceiling((DateTimeOffset.UtcNow - since).TotalSeconds)) : null;
            await using var stream = await client.CoreV1.ReadNamespacedPodLogAsync(pod.Metadata.Name, ns, container: pod.Spec?.Containers?.FirstOrDefault()?.Name,
                tailLines: request.Tail, timestamps: true, sinceSeconds: sinceSeconds, cancellationToken: ct).ConfigureAwait(false);
            using var reader = new StreamReader(stream);
            var text = await reader.ReadToEndAsync(ct).ConfigureAwait(false);
            var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0)
                .Where(l => request.Since is null || DiagnosticAnalyzer.Timestamp(l) is not { } at || at >= request.Since)
                .Select(redactor.Redact).ToList();
            return lines.Count > request.Tail ? lines.GetRange(lines.Count - request.Tail, request.Tail) : lines;
        }
        catch (k8s.Autorest.HttpOperationException ex)
        {
            return [redactor.Redact($"(logs unavailable: {(int)ex.Response.StatusCode} {ex.Response.Content?.Trim()})")];
        }
    }

    private static async Task<T> CallAsync<T>(HelmDeployment source, string what, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw KubernetesDiscovery.Unreachable(source.Client, ex, what);
        }
        catch (k8s.Autorest.HttpOperationException ex)
        {
            throw new UpgradeOpsException("KubernetesRequestFailed", ErrorKind.PermissionDenied, $"{source.Namespace}/{source.Release}",
                $"The Kubernetes API refused to {what} in '{source.Namespace}' ({(int)ex.Response.StatusCode}). Use an identity that may read pods and their logs there.", ex);
        }
    }
}

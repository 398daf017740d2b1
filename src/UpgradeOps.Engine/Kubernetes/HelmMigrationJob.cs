using k8s;
using k8s.Models;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Kubernetes;

/// <summary>What the chart's migration Job (a pre-upgrade hook that helm ran) did: its outcome and its pods' logs.</summary>
public sealed record MigrationJobOutcome(string Job, bool? Succeeded, string Output)
{
    /// <summary>One block for the journal's MigrationOutput: which Job, how it ended, then its log lines.</summary>
    public string Text(string from, string to) =>
        $"{from} → {to}{(Succeeded == false ? " (failed)" : "")}: Job {Job} {(Succeeded switch { true => "succeeded", false => "failed", null => "did not finish" })}\n{Output}";
}

/// <summary>Finds the Job the profile names (migration.kubernetesJob) that an upgrade created, and reads it through the API.</summary>
internal static class HelmMigrationJob
{
    public const string ComponentLabel = "app.kubernetes.io/component";

    /// <summary>Whether a Job is the profile's migration Job: matched like a workload (<see cref="KubernetesDiscovery.AnswersTo"/>).</summary>
    public static bool Matches(string? wanted, string release, string name, IDictionary<string, string>? labels) =>
        KubernetesDiscovery.AnswersTo(wanted, release, name, labels);

    /// <summary>The newest matching Job created since <paramref name="since"/>, or null (none declared, none ran, or its hook policy deleted it).</summary>
    public static async Task<MigrationJobOutcome?> ReadAsync(IKubernetes client, string ns, string release, ProductProfile profile, DateTimeOffset since,
        SecretRedactor redactor, CancellationToken ct)
    {
        var wanted = profile.Migration.KubernetesJob;
        if (string.IsNullOrEmpty(wanted)) return null;
        var jobs = await client.BatchV1.ListNamespacedJobAsync(ns, cancellationToken: ct).ConfigureAwait(false);
        var job = jobs.Items
            .Where(j => Matches(wanted, release, j.Metadata.Name, j.Metadata.Labels))
            .Where(j => j.Metadata.CreationTimestamp is not { } created || created >= since.UtcDateTime.AddSeconds(-5))
            .OrderByDescending(j => j.Metadata.CreationTimestamp)
            .FirstOrDefault();
        if (job is null) return null;
        bool? succeeded = (job.Status?.Succeeded ?? 0) > 0 ? true
            : (job.Status?.Failed ?? 0) > 0 || job.Status?.Conditions?.Any(c => c.Type == "Failed" && c.Status == "True") == true ? false
            : null;
        var pods = await client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"job-name={job.Metadata.Name}", cancellationToken: ct).ConfigureAwait(false);
        var output = new System.Text.StringBuilder();
        foreach (var pod in pods.Items.OrderBy(p => p.Metadata.CreationTimestamp))
        {
            try
            {
                await using var stream = await client.CoreV1.ReadNamespacedPodLogAsync(pod.Metadata.Name, ns, cancellationToken: ct).ConfigureAwait(false);
                using var reader = new StreamReader(stream);
                output.Append(await reader.ReadToEndAsync(ct).ConfigureAwait(false));
            }
            catch (k8s.Autorest.HttpOperationException e)
            {
                output.AppendLine($"(the log of pod {pod.Metadata.Name} could not be read: {(int)e.Response.StatusCode} {e.Response.ReasonPhrase})");
            }
            if (pod.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Terminated is { } terminated)
                output.AppendLine($"(pod {pod.Metadata.Name} exited with code {terminated.ExitCode})");
        }
        return new MigrationJobOutcome(job.Metadata.Name, succeeded, redactor.Redact(output.ToString()));
    }
}

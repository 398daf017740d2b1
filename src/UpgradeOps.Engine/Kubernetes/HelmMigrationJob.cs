using System.Text;
using k8s;
using k8s.Models;
using UpgradeOps.Hosting;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;
using YamlDotNet.RepresentationModel;

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

/// <summary>How one hop's migration runs on Helm: the chart's Job (helm runs it as a hook), or by pod exec, and the sentence -WhatIf and the step say.</summary>
public sealed record HelmMigrationWay(string? Job, ServiceDefinition? ExecService, string Plan)
{
    public static readonly HelmMigrationWay None = new(null, null, "");
}

/// <summary>
/// Decides how a hop's migration runs from what the chart renders for it (helm upgrade --dry-run): the profile's
/// kubernetesJob when the chart renders it; else its kubernetesExec; else the upgrade is refused before anything changes,
/// naming the value that renders the Job. A migration that silently does not run would start the new version on an
/// unmigrated database (Infrahub's chart 4.1.x has no Job, and later charts render it only with upgrade.enabled=true).
/// </summary>
internal static class HelmMigrationRender
{
    /// <param name="helm">Needed only when the profile names a kubernetesJob (the chart is rendered).</param>
    public static async Task<HelmMigrationWay> DecideAsync(HelmCli? helm, Deployment deployment, ProductProfile profile, string to, HelmUpgradeOptions options,
        TimeSpan timeout, SecretRedactor redactor, CancellationToken ct)
    {
        var exec = HelmMigrationExec.Service(profile);
        var wanted = profile.Migration.KubernetesJob;
        if (wanted is null) return exec is null ? HelmMigrationWay.None : new(null, exec, HelmMigrationExec.Plan(profile)!);
        var (_, release) = HelmDeployment.Locate(deployment);
        // Rendered as the upgrade will be, hooks included; the rules' generated values file is not written yet and does not decide it.
        var arguments = HelmArguments.UpgradeArguments(deployment, profile, to, options, timeout, ruleValuesFile: null, execMigration: false).Append("--dry-run").ToList();
        ArgumentNullException.ThrowIfNull(helm);
        // The rendering is parsed here and never shown: masked, a secret equal to a name (Infrahub's chart's default RabbitMQ
        // password is 'infrahub', the name its documentation gives the release) would hide the Job's name, and the migration
        // would run by exec as well as by the Job.
        var run = await helm.RunAsync(arguments, redactor, ct, redactOutput: false).ConfigureAwait(false);
        if (run.ExitCode != 0)
            throw new UpgradeOpsException("HelmRenderFailed", ErrorKind.InvalidOperation, deployment.Location,
                $"helm upgrade --dry-run could not render the chart for {to}, which says whether it runs the migration Job '{wanted}': {run.Error.Trim()} " +
                "Check -Chart, -ChartVersion and -ValuesFile. Nothing was changed.");
        if (RenderedJob(run.Output, wanted, release) is { } job)
            return new(job, null, $"by the chart's Job {job}, which helm runs as a hook (its log is read while it runs)");
        var enable = profile.Migration.KubernetesJobEnabledBy is { } value ? $" (set {value} in the release's values to render it)" : "";
        if (exec is not null)
            return new(null, exec, $"{HelmMigrationExec.Plan(profile)}, because the chart renders no Job '{wanted}' for this upgrade{enable}");
        throw new UpgradeOpsException("MigrationJobNotRendered", ErrorKind.InvalidOperation, deployment.Location,
            $"The chart renders no migration Job '{wanted}' for the upgrade to {to}, so '{string.Join(' ', profile.Migration.Command)}' would not run and the new " +
            $"version would start on a database that is not migrated. " +
            (profile.Migration.KubernetesJobEnabledBy is { } setting
                ? $"Set {setting} (-ValuesFile, or in the release's values) so the chart runs it, "
                : "Enable the chart's migration Job in the release's values, ") +
            "or name the service to run it in by pod exec (migration.kubernetesExec) in a copy of the profile. Nothing was changed.");
    }

    /// <summary>
    /// The name of the Job among what helm upgrade --dry-run printed (HOOKS: and MANIFEST:, YAML documents) that answers to
    /// <paramref name="wanted"/> as a workload does (<see cref="KubernetesDiscovery.AnswersTo"/>), or null.
    /// </summary>
    internal static string? RenderedJob(string helmOutput, string wanted, string release)
    {
        foreach (var chunk in helmOutput.Replace("\r\n", "\n").Split("\n---"))
        {
            // The text around the documents: helm's summary before the first, a section header (MANIFEST:, NOTES:) after a document.
            var lines = chunk.Split('\n').TakeWhile(l => l is not ("HOOKS:" or "MANIFEST:" or "NOTES:"));
            YamlStream yaml;
            try
            {
                // The chart's rendering is third-party text: loaded depth-limited, like the user's own YAML.
                yaml = SafeYaml.Load(string.Join('\n', lines));
            }
            catch (YamlDotNet.Core.YamlException)
            {
                continue; // not a document: helm's own text
            }
            foreach (var document in yaml.Documents)
            {
                if (document.RootNode is not YamlMappingNode root) continue;
                if (Scalar(root, "kind") != "Job") continue;
                var metadata = Child(root, "metadata");
                var name = metadata is null ? null : Scalar(metadata, "name");
                if (name is null) continue;
                var labels = metadata is not null && Child(metadata, "labels") is { } labelNode
                    ? labelNode.Children.Where(p => p.Key is YamlScalarNode && p.Value is YamlScalarNode)
                        .ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => ((YamlScalarNode)p.Value).Value ?? "")
                    : null;
                if (HelmMigrationJob.Matches(wanted, release, name, labels)) return name;
            }
        }
        return null;

        static YamlMappingNode? Child(YamlMappingNode node, string key) =>
            node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child as YamlMappingNode : null;
        static string? Scalar(YamlMappingNode node, string key) =>
            node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? (child as YamlScalarNode)?.Value : null;
    }
}

/// <summary>
/// Reads the migration Job's pod logs while helm upgrade runs it: a Job whose hook policy deletes it on success
/// (hook-succeeded, as Infrahub's chart does) is gone before helm returns, and its output with it. Each pod's log is
/// followed from the moment its container starts until it ends (the stream outlives the Job's deletion), so a short
/// migration is not missed between two reads.
/// </summary>
internal sealed class HelmJobLogRecorder : IAsyncDisposable
{
    private static readonly TimeSpan ListInterval = TimeSpan.FromMilliseconds(150);
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(100);
    /// <summary>How long the logs still being followed may take to end once helm is done (a container that just exited).</summary>
    private static readonly TimeSpan EndGrace = TimeSpan.FromSeconds(3);
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _stopFollowing = new();
    private readonly Dictionary<string, string> _logs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task> _following = new(StringComparer.Ordinal);
    private readonly Task _reading;
    /// <summary>The pods (by UID) of the Job as it was before helm ran: an earlier upgrade's, not this migration's.</summary>
    private readonly HashSet<string> _earlier;

    private HelmJobLogRecorder(IKubernetes client, string ns, string job, SecretRedactor redactor, HashSet<string> earlier)
    {
        _earlier = earlier;
        _reading = Task.Run(() => ReadAsync(client, ns, job, redactor, _stop.Token), CancellationToken.None);
    }

    /// <summary>
    /// Starts recording, before helm runs. The pods the Job already has are left out: a hook Job that failed stays (its
    /// hook policy deletes it on success only) until helm replaces it, and its log of the earlier failure would
    /// otherwise be read as this migration's (a retried upgrade reported as failed, and rolled back).
    /// </summary>
    public static async Task<HelmJobLogRecorder> StartAsync(IKubernetes client, string ns, string job, SecretRedactor redactor, CancellationToken ct)
    {
        var earlier = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var pods = await client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"job-name={job}", cancellationToken: ct).ConfigureAwait(false);
            foreach (var pod in pods.Items)
                if (pod.Metadata.Uid is { Length: > 0 } uid) earlier.Add(uid);
        }
        catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
        {
            // Not known: every pod is followed, as helm's own run will fail on an API that does not answer.
        }
        return new(client, ns, job, redactor, earlier);
    }

    /// <summary>What the Job's pods logged, redacted, in the order they were created.</summary>
    public string Output
    {
        get { lock (_logs) return string.Concat(_logs.Values); }
    }

    private async Task ReadAsync(IKubernetes client, string ns, string job, SecretRedactor redactor, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var pods = await client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"job-name={job}", cancellationToken: ct).ConfigureAwait(false);
                foreach (var pod in pods.Items.OrderBy(p => p.Metadata.CreationTimestamp)
                             .Where(p => !_following.ContainsKey(p.Metadata.Name) && !_earlier.Contains(p.Metadata.Uid ?? "")))
                {
                    lock (_logs) _logs[pod.Metadata.Name] = "";
                    _following[pod.Metadata.Name] = Task.Run(() => FollowAsync(client, ns, pod.Metadata.Name, redactor, _stopFollowing.Token), CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
            {
                // Listed again next time.
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (!await PauseAsync(ListInterval, ct).ConfigureAwait(false)) return;
        }
    }

    /// <summary>Follows one pod's log until its container ends (the stream ends); until the container starts, tries again.</summary>
    private async Task FollowAsync(IKubernetes client, string ns, string pod, SecretRedactor redactor, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var text = new StringBuilder();
            try
            {
                await using var stream = await client.CoreV1.ReadNamespacedPodLogAsync(pod, ns, follow: true, cancellationToken: ct).ConfigureAwait(false);
                using var reader = new StreamReader(stream);
                var buffer = new char[4096];
                int read;
                while ((read = await reader.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    text.Append(buffer, 0, read);
                    Keep(pod, redactor.Redact(text.ToString()));
                }
                // The stream ends when the container does, or when it was cut (an API server or proxy ending a long
                // request): followed again from the start until the pod says its container has terminated.
                if (await HasEndedAsync(client, ns, pod, ct).ConfigureAwait(false)) return;
            }
            catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
            {
                // Not started yet, or the stream broke: what was read is kept; the log is read again from its start.
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (!await PauseAsync(RetryInterval, ct).ConfigureAwait(false)) return;
        }
    }

    /// <summary>Whether the pod's containers have all terminated, or the pod is gone (nothing more to read).</summary>
    private static async Task<bool> HasEndedAsync(IKubernetes client, string ns, string pod, CancellationToken ct)
    {
        try
        {
            var read = await client.CoreV1.ReadNamespacedPodAsync(pod, ns, cancellationToken: ct).ConfigureAwait(false);
            return read.Status?.ContainerStatuses is { Count: > 0 } statuses && statuses.All(c => c.State?.Terminated is not null);
        }
        catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return true;
        }
        catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
        {
            return false;
        }
    }

    /// <summary>Waits before the next try; false when the recorder is stopped meanwhile.</summary>
    private static async Task<bool> PauseAsync(TimeSpan pause, CancellationToken ct)
    {
        try
        {
            await Task.Delay(pause, ct).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Keep(string pod, string text)
    {
        lock (_logs)
            if (!_logs.TryGetValue(pod, out var known) || text.Length >= known.Length) _logs[pod] = text;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _reading.ConfigureAwait(false);
        var following = Task.WhenAll(_following.Values);
        await Task.WhenAny(following, Task.Delay(EndGrace)).ConfigureAwait(false);
        _stopFollowing.Cancel();
        await following.ConfigureAwait(false);
        _stopFollowing.Dispose();
        _stop.Dispose();
    }
}

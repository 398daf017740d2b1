using k8s;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Upgrades;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// The migration of a Helm upgrade by pod exec (migration.kubernetesExec), the way Infrahub's guide does it after helm upgrade
/// ('kubectl exec' of 'infrahub upgrade' in a server pod): the profile's migration command runs in a running pod of the new
/// version of the service's workload, its output streams to progress and Verbose and is kept (redacted) in MigrationOutput,
/// and its exit code decides as on Compose (non-zero: MigrationFailed).
/// </summary>
internal static class HelmMigrationExec
{
    /// <summary>The service whose pods run the migration, or null when the profile runs it some other way.</summary>
    public static ServiceDefinition? Service(ProductProfile profile) =>
        profile.Migration.KubernetesExec is { } name ? profile.Services.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)) : null;

    /// <summary>For -WhatIf and the step's detail: what runs where.</summary>
    public static string? Plan(ProductProfile profile) =>
        Service(profile) is { } service ? $"'{string.Join(' ', profile.Migration.Command)}' by pod exec in a pod of {service.Name} ({service.DescribeKubernetesMatch()}) at the new version" : null;

    /// <summary>Runs the migration; returns the step's detail and how long the command itself ran.</summary>
    public static async Task<(string Detail, TimeSpan Ran)> RunAsync(IKubernetes client, string ns, RolloutWatch watch, ProductProfile profile, string from, string to,
        DateTimeOffset podDeadline, TimeSpan healthTimeout, TimeSpan migrationTimeout, SecretRedactor redactor, List<string> migrationOutput,
        EngineContext context, ProgressActivity parent, ILogger log)
    {
        var ct = context.CancellationToken;
        var command = profile.Migration.Command;
        var service = Service(profile)!;
        parent.Report($"Waiting for a pod of {service.Name} at {to} to run the migration in");
        var (workload, pod) = await watch.NewPodAsync(service, podDeadline, healthTimeout, ct).ConfigureAwait(false);
        var podName = pod.Metadata.Name;
        var container = pod.Spec.Containers[0].Name;
        var where = $" in pod {ns}/{podName}";
        using var activity = context.StartActivity($"Migrating to {to}: {string.Join(' ', command)}{where}", parent);
        log.LogDebug("Running the migration {Command} in pod {Pod} (container {Container}) of {Workload}", string.Join(' ', command), podName, container, workload);
        var output = new LineCollector(line =>
        {
            var shown = redactor.Redact(line);
            log.LogDebug("migration: {Line}", shown);
            MigrationRun.Report(activity, shown);
        });
        var exec = new PodContainerExec(client, ns, podName, container);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(migrationTimeout);
        ExecResult run;
        var execStarted = DateTimeOffset.UtcNow;
        try
        {
            run = await exec.RunAsync(command, limit.Token, output).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            var partial = redactor.Redact(output.Text);
            migrationOutput.Add($"{from} → {to} (failed): {string.Join(' ', command)}{where} did not finish within {migrationTimeout}\n{partial}");
            throw MigrationRun.TimedOut(command, to, migrationTimeout, partial,
                $"the connection to it was closed, but the command may still run in pod {podName} ('kubectl exec' cannot stop it)");
        }
        var text = redactor.Redact(output.Text + (run.StandardError.Length > 0 ? run.StandardError.TrimEnd('\n') + "\n" : ""));
        var failure = run.ExitCode == 0 ? MigrationRun.FailureLine(profile.Migration, text) : null;
        migrationOutput.Add($"{from} → {to}{(run.ExitCode == 0 && failure is null ? "" : " (failed)")}: {string.Join(' ', command)}{where} exited with code {run.ExitCode}\n{text}");
        if (run.ExitCode != 0) throw MigrationRun.Failed(command, to, run.ExitCode, text, where);
        if (failure is not null) throw MigrationRun.FailedInOutput(command, to, failure, text, where);
        activity.Complete();
        return ($"{string.Join(' ', command)}{where} ({workload}) finished", DateTimeOffset.UtcNow - execStarted);
    }
}

using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;

namespace UpgradeOps.Validation;

/// <summary>
/// The product's background tasks, counted by the profile's validation.runningTasksQuery: Test-UpgradeReadiness warns about
/// them, and New-DeploymentBackup refuses to start while any is pending or running, as the vendor's own backup does
/// (opsmill/infrahub-backup checks `infrahubctl task list --state running --state pending` before it stops anything;
/// src/internal/app/backup.go, backup_containers.go waitForRunningTasks). That tool waits, retrying every 5 s without
/// a limit; an unattended backup here refuses instead, so a task that never ends cannot hang it, and -Force backs up anyway.
/// </summary>
public static class RunningTasksGate
{
    /// <summary>How long the API may take to count them before the backup goes on without the answer.</summary>
    internal static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The tasks the answer counts at the profile's runningTasksPaths.</summary>
    internal static long Count(ApiAnswer answer, ValidationDefinition validation) =>
        validation.RunningTasksPaths.Sum(path => long.TryParse(ProductApi.Text(answer.Json, path), out var n) ? n : 0);

    /// <summary>What -WhatIf says of the check before a backup; null when the profile counts no tasks.</summary>
    public static string? DescribeBeforeBackup(Deployment deployment, bool force) =>
        ProfileLoader.Load(deployment.Profile).Validation.RunningTasksQuery is null ? null
        : force ? "Does not check for running background tasks (-Force)."
        : "Checks first that the API reports no background task pending or running (the profile's validation.runningTasksQuery), and refuses to start if it does.";

    /// <summary>New-DeploymentBackup: refuses while background tasks run (unless the request ignores them), then backs up.</summary>
    public static async Task<DeploymentBackup> BackUpAsync(IDeploymentPlatform platform, BackupRequest request, EngineContext context)
    {
        if (!request.IgnoreRunningTasks) await RefuseWhileTasksRunAsync(platform, context).ConfigureAwait(false);
        return await platform.BackUpAsync(request, context).ConfigureAwait(false);
    }

    private static async Task RefuseWhileTasksRunAsync(IDeploymentPlatform platform, EngineContext context)
    {
        var validation = ProfileLoader.Load(platform.Deployment.Profile).Validation;
        if (validation.RunningTasksQuery is null) return;
        var log = context.CreateLogger(nameof(RunningTasksGate));
        IValidationTarget target;
        try
        {
            target = await platform.OpenValidationTargetAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is UpgradeOpsException or HttpRequestException)
        {
            // The backup itself says what is wrong with the deployment, in its own terms.
            log.LogWarning("Could not reach '{Deployment}' to ask for running background tasks ({Reason}).", platform.Deployment.Name, ex.Message);
            return;
        }
        using (target)
            await RefuseWhileTasksRunAsync(() => target.Api(null), platform.Deployment.Name, validation, log, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// BackgroundTasksRunning when the API counts any; a warning and no refusal when it cannot be asked (an API that is down is
    /// no reason to refuse a backup, which is often taken to repair just that deployment).
    /// </summary>
    internal static async Task RefuseWhileTasksRunAsync(Func<ProductApi> api, string deploymentName, ValidationDefinition validation, ILogger log,
        CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(AskTimeout);
        ApiAnswer answer;
        try
        {
            answer = await api().GraphQLAsync(validation.RunningTasksQuery!, limit.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or UpgradeOpsException || ex is OperationCanceledException && !ct.IsCancellationRequested)
        {
            var why = ex is OperationCanceledException ? $"no answer within {AskTimeout.TotalSeconds:N0} s" : ex.Message;
            log.LogWarning("Could not ask the API of '{Deployment}' for running background tasks ({Reason}); backing up without that check.", deploymentName, why);
            return;
        }
        if (answer.Errors.Count > 0)
        {
            log.LogWarning("The API of '{Deployment}' did not count its background tasks ({Errors}); backing up without that check.",
                deploymentName, string.Join("; ", answer.Errors));
            return;
        }
        var running = Count(answer, validation);
        if (running > 0)
            throw new UpgradeOpsException("BackgroundTasksRunning", ErrorKind.ResourceBusy, deploymentName,
                $"'{deploymentName}' has {running} background task(s) pending or running: a backup taken now could hold their half-written changes. " +
                "Wait until they finish (Test-UpgradeReadiness shows the count) and run New-DeploymentBackup again, or give -Force to back up anyway.");
    }
}

using Microsoft.Extensions.Logging;

namespace UpgradeOps.Hosting;

/// <summary>
/// Fault tests stop (Ctrl+C) or kill the process at exact step boundaries: with UPGRADEOPS_PAUSE_AT_STEP set to a step's
/// key (hop1:migrate, backup:complete, restore:replace sandbox...) an upgrade, backup or restore waits at that boundary,
/// after writing its journal where it has one, until it is cancelled or killed. Unset, it costs one variable lookup.
/// </summary>
internal static class StepPause
{
    public const string Variable = "UPGRADEOPS_PAUSE_AT_STEP";

    public static async Task AtAsync(string stepKey, ILogger log, CancellationToken ct)
    {
        if (Environment.GetEnvironmentVariable(Variable) != stepKey) return;
        log.LogWarning("UPGRADEOPS_PAUSE_AT_STEP: paused before {Step} until the process is stopped", stepKey);
        await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
    }
}

using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;

namespace UpgradeOps.Validation;

/// <summary>
/// Get-UpgradeDiagnostic: the deployment (given, or read again from the journal given), then its platform's collection of
/// every instance's state and log tail and of what the journal recorded, analysed into findings.
/// </summary>
public static class Diagnostics
{
    public static async Task<DiagnosticReport> CollectAsync(DiagnosticRequest request, EngineContext context)
    {
        if (request.Tail < 1)
            throw new UpgradeOpsException("InvalidTail", ErrorKind.InvalidArgument, request.Tail, "-Tail must be 1 or more log lines.");
        var journal = request.JournalPath is not null ? UpgradeJournal.Load(request.JournalPath) : null;
        var deployment = request.Deployment
            ?? (journal is null ? null : await DeploymentPlatforms.DeploymentOfJournalAsync(journal, context).ConfigureAwait(false))
            ?? throw new UpgradeOpsException("DeploymentRequired", ErrorKind.InvalidArgument, journal?.Path,
                "Get-UpgradeDiagnostic needs the deployment: give -Deployment (from Get-UpgradeDeployment), or an upgrade result whose journal names its compose file.");
        return await DeploymentPlatforms.Open(deployment).CollectDiagnosticsAsync(request, journal, context).ConfigureAwait(false);
    }
}

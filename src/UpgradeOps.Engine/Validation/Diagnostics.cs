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

    /// <summary>
    /// The journal that explains the deployment's state: the one asked for, else the newest. A rollback that
    /// succeeded says less than the upgrade it undid, so then that upgrade is read.
    /// </summary>
    internal static UpgradeJournal? PickJournal(string composeFile, string? upgradeId, string deploymentName, DiagnosticReport? report = null)
    {
        // Troubleshooting must work when a journal is damaged: the readable ones are used, each damaged one is a finding.
        var (journals, unreadable) = UpgradeJournal.ListReadable(composeFile);
        foreach (var problem in unreadable)
            report?.Findings.Add(new DiagnosticFinding
            {
                Id = problem.ErrorId, Severity = FindingSeverity.Warning, Source = "journal", Evidence = problem.Target?.ToString(), Guidance = problem.Message,
            });
        if (upgradeId is not null)
            return journals.FirstOrDefault(j => j.Result.Id == upgradeId)
                ?? throw new UpgradeOpsException("UpgradeNotFound", ErrorKind.ObjectNotFound, upgradeId,
                    $"No upgrade or rollback '{upgradeId}' is recorded for '{deploymentName}'. Get-UpgradeHistory lists them.");
        var newest = journals.FirstOrDefault();
        if (newest is { Result.Operation: "Rollback", Result.Status: UpgradeStatus.Succeeded })
            return journals.FirstOrDefault(j => j.Result.RolledBackBy == newest.Result.Id) ?? newest;
        return newest;
    }

    internal static void ReadJournal(DiagnosticReport report, UpgradeJournal journal, SecretRedactor redactor)
    {
        var result = journal.Result;
        report.UpgradeId = result.Id;
        report.Operation = result.Operation;
        report.UpgradeStatus = result.Status;
        report.JournalPath = journal.Path;
        var failed = result.Steps.LastOrDefault(s => s.Status == StepStatus.Failed);
        report.FailedStep = failed?.Name ?? (result.Status is UpgradeStatus.InProgress or UpgradeStatus.Interrupted ? journal.Current : null);
        report.Error = result.Error is null ? null : redactor.Redact(result.Error);
        report.ErrorId = result.ErrorId;
        report.MigrationOutput = result.MigrationOutput.Select(redactor.Redact).ToList();
        try
        {
            report.JournalText = File.Exists(journal.Path) ? redactor.Redact(File.ReadAllText(journal.Path)) : null;
        }
        catch (IOException)
        {
            report.JournalText = null;
        }
    }
}

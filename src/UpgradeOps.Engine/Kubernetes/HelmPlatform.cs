using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>Helm releases on Kubernetes: read natively from their release Secrets, changed with helm, their pods reached through the API server.</summary>
public sealed class HelmPlatform : IPlatform
{
    public DeploymentPlatform Kind => DeploymentPlatform.Kubernetes;
    public bool InstallsCharts => true;
    // Compose resumes from the journal's failed step; helm has no such step, so a Helm upgrade is run again to its target
    // (-Resume reads it from the journal; -Force or -Resume first rolls a release left pending back to its last deployed revision).
    public string ContinueUpgradeAdvice => "Invoke-Upgrade -Deployment $d -To <version> runs it again (add -Force when the release is left pending-upgrade)";
    // A release's data is restored with its revision (Invoke-Rollback): workloads scaled down, databases restored, helm rollback.
    public bool RestoresDataAlone => false;

    public string DescribeCommand(Deployment? deployment, string name)
    {
        try
        {
            if (deployment is not null)
            {
                var (ns, release) = HelmDeployment.Locate(deployment);
                return $"Get-UpgradeDeployment -Namespace {Quote(ns)} -Release {Quote(release)}";
            }
        }
        catch (UpgradeOpsException)
        {
            // A deployment that does not say its release: the report names it by name.
        }
        return $"Get-UpgradeDeployment -ProjectName {Quote(name)}";
    }

    /// <summary>A release's values live in the cluster: every text that can hold them is masked where it is made (helm's output, logs, errors).</summary>
    public IEnumerable<KeyValuePair<string, string>> SecretsAt(string location) => Array.Empty<KeyValuePair<string, string>>();

    public IDeploymentPlatform Open(Deployment deployment) => new HelmDeploymentPlatform(deployment);

    /// <summary>A Helm journal records no way back to its release beyond what the deployment given says: the caller gives the deployment.</summary>
    public Task<Deployment?> DeploymentOfJournalAsync(UpgradeJournal journal, EngineContext context) => Task.FromResult<Deployment?>(null);

    public Task<RehearsalPlan> PlanRehearsalAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context) =>
        HelmRehearsal.PlanAsync(request, backup, context);

    public Task<RehearsalReport> RehearseAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context) =>
        HelmRehearsal.RunAsync(request, backup, context);

    private static string Quote(string text) => "'" + text.Replace("'", "''") + "'";
}

/// <summary>One Helm release: each operation reads its local inputs, then asks the cluster (and helm, for upgrade and rollback).</summary>
internal sealed class HelmDeploymentPlatform(Deployment deployment) : IDeploymentPlatform
{
    public Deployment Deployment { get; } = deployment;

    public string StateAnchor
    {
        get
        {
            var (ns, release) = HelmDeployment.Locate(Deployment);
            return HelmStateFolder.Anchor(ns, release);
        }
    }

    public Task<IReadOnlyList<PlannedComponent>> PlanBackupAsync(BackupRequest request, EngineContext context) => HelmBackup.PlanAsync(request, context);
    public Task<DeploymentBackup> BackUpAsync(BackupRequest request, EngineContext context) => HelmBackup.BackupAsync(request, context);
    public Task<RestorePlan> PlanRestoreAsync(RestoreRequest request, EngineContext context) => HelmRestore.PlanAsync(request, context);
    public Task<DeploymentBackup> RestoreAsync(RestoreRequest request, EngineContext context) => HelmRestore.RestoreAsync(request, context);

    public Task<IDataStoreHost> OpenDataStoresAsync(CancellationToken ct) => Task.FromResult<IDataStoreHost>(HelmDeployment.Open(Deployment));

    public void CheckUpgradeRequest(UpgradeRequest request) => HelmUpgradePath.Check(request);
    public Task<UpgradePlan> PlanUpgradeAsync(UpgradeRequest request, EngineContext context) => HelmUpgradePath.PlanAsync(request, context);
    public Task<IReadOnlyList<UpgradeResult>> UpgradeAsync(UpgradeRequest request, EngineContext context) => HelmUpgradePath.RunAsync(request, context);

    public Task<string> PlanResumeAsync(UpgradeRequest request, EngineContext context) => HelmResume.DescribeAsync(request, context);
    public Task<IReadOnlyList<UpgradeResult>> ResumeAsync(UpgradeRequest request, EngineContext context) => HelmResume.RunAsync(request, context);

    public Task<string> PlanRollbackAsync(RollbackRequest request, EngineContext context)
    {
        var (journal, revision, backupPath) = HelmRollback.PlanRollback(HelmRequest(request));
        var (ns, release) = HelmDeployment.Locate(Deployment);
        var helmCommand = $"helm rollback {release} {revision} -n {ns} --wait";
        return Task.FromResult($"Roll Helm release {Deployment.Location} back from upgrade {journal.Result.Id} ({journal.Result.To} → {journal.Result.From}): " +
            (backupPath is null
                ? $"'{helmCommand}' only; the data is not restored (the upgrade recorded no backup: give -Backup to restore one)."
                : $"verify backup {backupPath}, scale the application workloads to 0, restore the databases from it (data written since is lost), " +
                  $"'{helmCommand}', scale the workloads back and wait until they are ready."));
    }

    public Task<UpgradeResult> RollBackAsync(RollbackRequest request, EngineContext context) => HelmRollback.RollBackAsync(HelmRequest(request), context);

    public Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanConfigurationAsync(ConfigurationRequest request, EngineContext context)
    {
        if (request.ValuesFile is null)
            throw new UpgradeOpsException("ValuesFileRequired", ErrorKind.InvalidArgument, Deployment,
                $"'{Deployment.Name}' is a Helm release: give -ValuesFile, the values file you pass to helm upgrade. The rules edit it in place.");
        return HelmValuesMigration.PlanConfigurationAsync(
            new HelmUpgradeRequest { Deployment = Deployment, From = request.From, To = request.To, ConfigurationValues = request.ConfigurationValues },
            new HelmUpgradeOptions { Chart = "", ChartVersion = request.ChartVersion, ValuesFiles = [request.ValuesFile] }, context);
    }

    public async Task<IValidationTarget> OpenValidationTargetAsync(EngineContext context) =>
        await KubernetesValidationTarget.OpenAsync(Deployment, context).ConfigureAwait(false);

    public async Task<IReadinessTarget> OpenReadinessTargetAsync(EngineContext context) =>
        await KubernetesReadinessTarget.OpenAsync(Deployment, context).ConfigureAwait(false);

    public Task<DiagnosticReport> CollectDiagnosticsAsync(DiagnosticRequest request, UpgradeJournal? journal, EngineContext context) =>
        HelmDiagnostics.CollectAsync(request, Deployment, journal, context);

    private HelmRollbackRequest HelmRequest(RollbackRequest request) => new()
    {
        Deployment = Deployment, UpgradeId = request.UpgradeId, BackupPath = request.BackupPath, Passphrase = request.Passphrase,
        HealthTimeout = request.HealthTimeout, HelmPath = request.HelmPath,
    };
}

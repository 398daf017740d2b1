using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;
using UpgradeOps.Upgrades;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// The path of a Helm release's upgrade, hop by hop: what the admin must give (the chart), what -WhatIf prints (each hop's
/// helm command, the values migration, the repair of a pending release), and the run — the backup verified once, then
/// <see cref="HelmUpgrade.UpgradeAsync"/> for each hop, each with its own journal, stopping at the first that does not succeed.
/// </summary>
internal static class HelmUpgradePath
{
    /// <summary>What a Helm release cannot do, and what must be given, refused before readiness is checked or the cluster asked.</summary>
    public static void Check(UpgradeRequest request)
    {
        var deployment = request.Deployment;
        if (request.Strategy == UpgradeStrategy.Rolling)
            throw new UpgradeOpsException("NotSupportedOnHelm", ErrorKind.NotImplemented, deployment,
                "-Strategy Rolling is for Compose deployments: on a Helm release the Deployments roll their pods out themselves " +
                "(their spec.strategy). Run Invoke-Upgrade again without -Strategy.");
        // The parameters and local files first: their faults are not the cluster's, and readiness asks the cluster.
        if (request.Helm is not { } helm)
            throw new UpgradeOpsException("ChartRequired", ErrorKind.InvalidArgument, deployment,
                "A Helm release is upgraded with its chart: give -Chart (a folder, a .tgz, or repo/chart) and, for a repository chart, -ChartVersion unless the path gives each hop its chart version (the profile's version.helmCharts)" +
                (request.Resume ? "; -Resume needs it too, as helm upgrade does: give the -Chart and -ValuesFile of the interrupted run." : "."));
        HelmConfiguration.CheckValuesFiles(helm.ValuesFiles);
    }

    public static async Task<UpgradePlan> PlanAsync(UpgradeRequest request, EngineContext context)
    {
        var (deployment, path, options) = (request.Deployment, request.Path, request.Helm!);
        if (!request.SkipBackup && request.BackupPath is null) throw UpgradeBackup.BackupRequired(deployment);
        if (!path.IsSupported)
            throw new UpgradeOpsException("UpgradePathNotSupported", ErrorKind.InvalidOperation, path, path.Reason);
        var profile = ProfileLoader.Load(deployment.Profile);
        // Each hop's chart version (-ChartVersion, else the path's); a local chart of another version stops here.
        var hops = path.Steps.Select(step => (Step: step, Options: options.ForStep(step))).ToList();
        var warnings = options.OverrideWarning(path) is { } overrides ? new[] { overrides } : Array.Empty<string>();
        // The values migration of the whole path, planned before anything changes: a rule without a value stops here.
        var (configuration, changes) = await HelmValuesMigration.PlanConfigurationAsync(
            new HelmUpgradeRequest { Deployment = deployment, From = path.From, To = path.To, ConfigurationValues = request.ConfigurationValues },
            options.ForStep(path.Steps.LastOrDefault()), context).ConfigureAwait(false);
        if (changes.Where(c => c.Action == ConfigurationAction.Missing).ToList() is { Count: > 0 } missing)
            throw ConfigurationRules.MissingValues(missing, path.To, missing[0].File, "the values file");
        var ruleValuesFile = HelmValuesMigration.RuleValuesFile(configuration, changes, options);
        // How each hop migrates, from what its chart renders (helm upgrade --dry-run); a Job not rendered with no pod exec to fall
        // back on refuses here. A release left pending cannot be rendered until it is repaired: the run decides then.
        // Without helm here (-WhatIf needs none otherwise) the run decides it.
        var pending = deployment.ReleaseStatus?.StartsWith("pending-", StringComparison.Ordinal) == true;
        HelmCli? helm = null;
        var undecided = pending ? "after the repair" : "when it runs";
        if (!pending && profile.Migration.KubernetesJob is not null)
        {
            try
            {
                helm = HelmCli.Locate(options.HelmPath, deployment.Kubeconfig, deployment.KubeContext);
            }
            catch (UpgradeOpsException ex) when (ex.ErrorId == "HelmNotFound")
            {
                undecided = "when it runs (no helm here to render the chart)";
            }
        }
        // Masked as the run masks it: the release's values too, since the rendered manifest and helm's errors can carry them.
        SecretRedactor redactor;
        if (helm is null) redactor = HelmUpgrade.Redactor(null, options, configuration);
        else
        {
            var (ns, releaseName) = HelmDeployment.Locate(deployment);
            using var client = KubernetesDiscovery.Connect(deployment.Kubeconfig, deployment.KubeContext);
            var latest = (await HelmReleaseReader.ListAsync(client, ns, releaseName, context.CancellationToken).ConfigureAwait(false)).LastOrDefault();
            redactor = HelmUpgrade.Redactor(latest, options, configuration);
        }
        var commands = new List<string>();
        foreach (var hop in hops)
        {
            // A Job to look for needs helm to render the chart; without one the profile alone decides.
            var way = profile.Migration.KubernetesJob is not null && helm is null ? null
                : await HelmMigrationRender.DecideAsync(helm, deployment, profile, hop.Step.To, hop.Options, request.HealthTimeout, redactor, context.CancellationToken).ConfigureAwait(false);
            var migration = way is null
                ? $" (the migration by the chart's Job '{profile.Migration.KubernetesJob}' if it renders it" +
                  (HelmArguments.MigrationPlan(profile) is { } fallback ? $", else {fallback}" : ", else refused") + $": decided {undecided})"
                : way.Plan.Length > 0 ? $" (the migration {way.Plan})" : "";
            commands.Add("helm " + string.Join(' ', HelmArguments.UpgradeArguments(deployment, profile, hop.Step.To, hop.Options, request.HealthTimeout, ruleValuesFile,
                execMigration: way is null ? null : way.ExecService is not null)) + migration);
        }
        var description = $"Upgrade Helm release {deployment.Location} {path.Route}: {PendingRepairPlan(deployment, request.HealthTimeout)}{string.Join("; then ", commands)}" +
                          (request.SkipBackup ? ". No backup (-SkipBackup): Invoke-Rollback can return the release, not its data."
                              : $". Backup {request.BackupId} is verified first and recorded in the journal, for Invoke-Rollback to restore its data.") +
                          string.Concat(changes.Select(c => $"\n  configuration: {c.RuleId}: {c.Setting} {c.Action}{(c.MovedFrom is null ? "" : $" from {c.MovedFrom}")}")) +
                          (configuration is null ? "" : "\n  " + configuration.Diff.TrimEnd('\n').Replace("\n", "\n  "));
        return new UpgradePlan(description, warnings);
    }

    /// <summary>For -WhatIf, before the helm upgrade commands: the helm rollback that first repairs a release left pending-* (with -Force or -Resume), or "".</summary>
    internal static string PendingRepairPlan(Deployment deployment, TimeSpan timeout)
    {
        if (deployment.ReleaseStatus?.StartsWith("pending-", StringComparison.Ordinal) != true) return "";
        var (ns, release) = HelmDeployment.Locate(deployment);
        return deployment.DeployedRevision is { } revision
            ? $"first (with -Force or -Resume) repair its {deployment.ReleaseStatus} revision {deployment.Revision}: " +
              $"helm {string.Join(' ', HelmUpgrade.RepairArguments(release, ns, revision, timeout))} (back to revision {revision}, its last deployed one); then "
            : $"it is {deployment.ReleaseStatus} and was never deployed, so no rollback can repair it ('helm uninstall {release} -n {ns}', then install it again); ";
    }

    /// <param name="returnRevision">The revision the path's backup was taken at (a resumed path's journal gives it); null: the revision before its first hop.</param>
    public static async Task<IReadOnlyList<UpgradeResult>> RunAsync(UpgradeRequest request, EngineContext context, int? returnRevision = null)
    {
        var (deployment, path, options) = (request.Deployment, request.Path, request.Helm!);
        var backup = await UpgradeBackup.CheckAsync(request, context).ConfigureAwait(false);
        var results = new List<UpgradeResult>();
        int? startRevision = returnRevision;
        foreach (var step in path.Steps)
        {
            var hop = new HelmUpgradeRequest
            {
                Deployment = deployment, From = step.From, To = step.To, Force = request.Force, RollbackOnFailure = request.RollbackOnFailure,
                ApiEndpoint = request.ApiEndpoint, HealthTimeout = request.HealthTimeout, MigrationTimeout = request.MigrationTimeout, ConfigurationValues = request.ConfigurationValues,
                Passphrase = request.Passphrase, BackupId = backup?.Id, BackupPath = backup?.Path,
                // With a backup every hop journals the revision before the path: the backup was taken there, so a rollback returns
                // data and release together. Without one each hop returns to its own previous revision, as before.
                ReturnRevision = backup is null ? null : startRevision,
                Target = path.To,
            };
            var result = await HelmUpgrade.UpgradeAsync(hop, options.ForStep(step), context).ConfigureAwait(false);
            startRevision ??= result.JournalPath is { } journalPath ? UpgradeJournal.Load(journalPath).PreviousRevision : null;
            results.Add(result);
            if (result.Status != UpgradeStatus.Succeeded) break;
        }
        return results;
    }
}

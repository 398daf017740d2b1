using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Planning;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Invoke-Upgrade -Resume on a Helm release: helm keeps no step to continue from, so the interrupted upgrade's journal gives
/// the target (or -To does) and its backup, the release is read afresh, a release left pending-* by a killed or disconnected
/// helm is rolled back to its last deployed revision (the first hop's "repair pending release" step), and the path from that
/// revision's version to the target runs as Invoke-Upgrade runs it, each hop journalled.
/// </summary>
internal static class HelmResume
{
    /// <summary>What a resume starts from and goes to, read without changing anything (for -WhatIf and for the run).</summary>
    internal sealed record Plan(UpgradeJournal Journal, string Target, HelmRelease Latest, HelmRelease? Deployed, UpgradeRequest Continued);

    public static async Task<string> DescribeAsync(UpgradeRequest request, EngineContext context)
    {
        var plan = await PlanAsync(request, context).ConfigureAwait(false);
        var upgrade = await HelmUpgradePath.PlanAsync(plan.Continued, context).ConfigureAwait(false);
        return $"Resume upgrade {plan.Journal.Result.Id} ({plan.Journal.Result.Status}" +
               (plan.Journal.Current is { } step ? $" at step '{step}'" : "") + $") of Helm release {request.Deployment.Location} to {plan.Target}. " +
               upgrade.Description;
    }

    public static async Task<IReadOnlyList<UpgradeResult>> RunAsync(UpgradeRequest request, EngineContext context)
    {
        var plan = await PlanAsync(request, context).ConfigureAwait(false);
        var log = context.CreateLogger(nameof(HelmResume));
        log.LogInformation("Resuming upgrade {Id} to {Target}: release at revision {Revision} ({Status})", plan.Journal.Result.Id, plan.Target,
            plan.Latest.Revision, plan.Latest.Status);
        MarkInterrupted(plan.Journal);
        // The path's backup was taken before its first hop: a rollback returns to the revision journalled then, not to the repaired one.
        return await HelmUpgradePath.RunAsync(plan.Continued, context,
            plan.Continued.BackupPath is null ? null : plan.Journal.PreviousRevision).ConfigureAwait(false);
    }

    /// <summary>
    /// The newest upgrade journal of the release that did not finish, the target, the release's revisions, and the request that
    /// continues it. Local inputs first (the journal); then the cluster.
    /// </summary>
    internal static async Task<Plan> PlanAsync(UpgradeRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var (ns, releaseName) = HelmDeployment.Locate(request.Deployment);
        var anchor = HelmStateFolder.Anchor(ns, releaseName);
        var journal = Resumable(UpgradeJournal.List(anchor))
            ?? throw NothingToResume(request.Deployment.Location ?? $"{ns}/{releaseName}", UpgradeJournal.JournalFolder(anchor), request.ResumeTo);
        var target = Target(journal, request.ResumeTo);

        var deployment = await KubernetesDiscovery.AgainAsync(request.Deployment, context).ConfigureAwait(false);
        using var client = KubernetesDiscovery.Connect(deployment.Kubeconfig, deployment.KubeContext);
        var revisions = await HelmReleaseReader.ListAsync(client, ns, releaseName, ct).ConfigureAwait(false);
        var latest = revisions.LastOrDefault()
            ?? throw new UpgradeOpsException("HelmReleaseNotFound", ErrorKind.ObjectNotFound, deployment.Location,
                $"No Helm release {deployment.Location}. Check the names with 'helm list -A' and read it again with Get-UpgradeDeployment.");
        var deployed = HelmReleaseReader.LastDeployed(revisions);
        if (latest.IsPending && deployed is null) throw HelmUpgrade.NeverDeployed(latest, ns);
        var profile = ProfileLoader.Load(deployment.Profile);
        // A pending release starts again from what its last deployed revision names; the pods may run either version meanwhile.
        var from = latest.IsPending ? deployed!.VersionAt(profile.Version.HelmValuesKey) : deployment.Version ?? deployment.ConfiguredVersion;
        if (latest.IsPending) deployment.ChartVersion = deployed!.ChartVersion;
        if (from == target)
            throw new UpgradeOpsException("NothingToResume", ErrorKind.InvalidOperation, deployment.Location,
                $"Release {releaseName} is at {target} already (revision {(latest.IsPending ? deployed!.Revision : latest.Revision)}), the version upgrade {journal.Result.Id} went to: " +
                (latest.IsPending
                    ? $"only its {latest.Status} state is left. Repair it with 'helm rollback {releaseName} {deployed!.Revision} -n {ns}', then check it with Test-PostUpgrade."
                    : "there is nothing to continue. Check it with Test-PostUpgrade; give -To for a later version."));
        var path = UpgradePathService.Test(new UpgradePathRequest
        {
            From = from ?? "", To = target, Profile = deployment.Profile, AvailableVersions = request.AvailableVersions, Deployment = deployment,
        }, context);
        if (!path.IsSupported) throw new UpgradeOpsException("UpgradePathNotSupported", ErrorKind.InvalidOperation, path, path.Reason);
        var continued = new UpgradeRequest
        {
            Deployment = deployment, Path = path, Helm = request.Helm,
            // The interrupted run's backup, verified again before anything changes; none when that run had -SkipBackup.
            BackupPath = journal.Result.BackupPath, BackupId = journal.Result.BackupId, SkipBackup = journal.Result.BackupPath is null,
            // The dead session's lock is taken over (a live one is still refused), and a pending release is repaired first.
            Force = true,
            RollbackOnFailure = request.RollbackOnFailure, ApiEndpoint = request.ApiEndpoint, MigrationTimeout = request.MigrationTimeout, HealthTimeout = request.HealthTimeout,
            ConfigurationValues = request.ConfigurationValues, Passphrase = request.Passphrase,
        };
        return new Plan(journal, target, latest, deployed, continued);
    }

    /// <summary>The newest upgrade journal, when it did not finish (in progress, interrupted or failed); null when it did, or when there is none.</summary>
    internal static UpgradeJournal? Resumable(IReadOnlyList<UpgradeJournal> newestFirst) =>
        newestFirst.FirstOrDefault(j => j.Result.Operation == "Upgrade") is { Result.Status: UpgradeStatus.InProgress or UpgradeStatus.Interrupted or UpgradeStatus.Failed } journal
            ? journal : null;

    /// <summary>-To, else the version the interrupted path went to (a hop's journal names the path's target; an older journal only its hop's To).</summary>
    internal static string Target(UpgradeJournal journal, string? resumeTo) => resumeTo ?? journal.Target ?? journal.Result.To;

    internal static UpgradeOpsException NothingToResume(string location, string journalFolder, string? to) =>
        new("NothingToResume", ErrorKind.ObjectNotFound, location,
            $"No interrupted upgrade of Helm release {location} is recorded in {journalFolder}" + (to is null ? "" : $" (-To {to} names a target, not an upgrade to continue)") +
            ", so there is nothing to resume. Start one with Invoke-Upgrade -Deployment $d -To <version> -Chart <chart>: with -Force it first rolls a release left " +
            "pending-* back to its last deployed revision.");

    /// <summary>The dead session's journal says it was interrupted, and which step did not finish, before the continuation journals its own hops.</summary>
    private static void MarkInterrupted(UpgradeJournal journal)
    {
        if (journal.Result.Status != UpgradeStatus.InProgress) return;
        foreach (var step in journal.Result.Steps.Where(s => s.Status == StepStatus.Running))
        {
            step.Status = StepStatus.Failed;
            step.Detail = "interrupted: the session running it ended";
        }
        journal.Result.Status = UpgradeStatus.Interrupted;
        journal.Result.ErrorId ??= "UpgradeInterrupted";
        journal.Result.Error ??= "The session running this upgrade ended before it finished; Invoke-Upgrade -Resume continued it.";
        journal.Save();
    }
}

using UpgradeOps.Journal;
using UpgradeOps.Kubernetes;
using UpgradeOps.Platforms;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>
/// A release left pending-* by a killed helm: which revision it returns to, what Get-UpgradeDeployment, Test-UpgradeReadiness,
/// Get-UpgradeDiagnostic and -WhatIf say, and which journal -Resume continues. The histories are the ones the real helm v4
/// left in the test API server when its client was killed with kill -9 (tests/Pester/HelmStuck.Tests.ps1 does it end to end).
/// </summary>
public class HelmStuckReleaseTests
{
    private static HelmRelease Revision(int revision, string status, string appVersion = "1.7.5") =>
        new("sbx", "sandbox", revision, status, "upgradeops-sandbox", "0.3.0", appVersion, null, status == "pending-upgrade" ? "Preparing upgrade" : null,
            $"sh.helm.release.v1.sbx.v{revision}");

    private static HelmRelease[] History(params string[] statuses) => statuses.Select((s, i) => Revision(i + 1, s)).ToArray();

    [Theory]
    // helm upgrade killed after it stored its pending revision: the previous one still says deployed.
    [InlineData(1, "deployed", "pending-upgrade")]
    // A failed upgrade stays in the history: the pending revision − 1 is that failed one, not what served.
    [InlineData(1, "deployed", "failed", "pending-upgrade")]
    // An earlier repair leaves its pending revision behind; the rollback that repaired it is the deployed one.
    [InlineData(3, "superseded", "pending-upgrade", "deployed", "pending-upgrade")]
    [InlineData(4, "superseded", "failed", "pending-upgrade", "deployed", "failed", "pending-rollback")]
    // Killed between marking the old revision superseded and the new one deployed: none says deployed.
    [InlineData(2, "superseded", "superseded", "pending-upgrade")]
    public void A_pending_release_returns_to_its_newest_deployed_revision(int expected, params string[] statuses)
    {
        Assert.Equal(expected, HelmReleaseReader.LastDeployed(History(statuses))!.Revision);
        // Whatever order the Secrets are listed in.
        Assert.Equal(expected, HelmReleaseReader.LastDeployed(History(statuses).Reverse())!.Revision);
    }

    [Fact]
    public void A_release_never_deployed_has_no_revision_to_return_to()
    {
        Assert.Null(HelmReleaseReader.LastDeployed(History("pending-install")));
        Assert.Null(HelmReleaseReader.LastDeployed(History("failed", "pending-upgrade")));
        var error = HelmUpgrade.NeverDeployed(Revision(1, "pending-install"), "sandbox");
        Assert.Equal("HelmReleaseNeverDeployed", error.ErrorId);
        Assert.Equal("sandbox/sbx", error.Target);
        Assert.Contains("'helm uninstall sbx -n sandbox'", error.Message);
    }

    [Fact]
    public void The_repair_names_the_deployed_revision_not_the_pending_one_minus_one()
    {
        var repair = KubernetesDiscovery.PendingRepair("sbx", "sandbox", 1);
        Assert.Contains("'helm rollback sbx 1 -n sandbox'", repair);
        Assert.Contains("Invoke-Upgrade -Deployment $d -Resume", repair);
        Assert.Contains("helm uninstall sbx -n sandbox", KubernetesDiscovery.PendingRepair("sbx", "sandbox", null));
    }

    [Fact]
    public void WhatIf_names_the_rollback_helm_runs_first()
    {
        var release = new Deployment
        {
            Name = "sbx", Platform = DeploymentPlatform.Kubernetes, Profile = "test", Location = "sandbox/sbx",
            Revision = 3, ReleaseStatus = "pending-upgrade", DeployedRevision = 1,
        };
        var plan = HelmUpgradePath.PendingRepairPlan(release, TimeSpan.FromMinutes(3));
        Assert.Equal("first (with -Force or -Resume) repair its pending-upgrade revision 3: helm rollback sbx 1 -n sandbox --wait --timeout 180s " +
                     "(back to revision 1, its last deployed one); then ", plan);
        release.DeployedRevision = null;
        Assert.Contains("never deployed", HelmUpgradePath.PendingRepairPlan(release, TimeSpan.FromMinutes(3)));
        release.ReleaseStatus = "deployed";
        Assert.Equal("", HelmUpgradePath.PendingRepairPlan(release, TimeSpan.FromMinutes(3)));
    }

    [Fact]
    public void Get_UpgradeDiagnostic_names_the_pending_revision_the_one_it_returns_to_and_the_journal_target()
    {
        var history = History("deployed", "failed", "pending-upgrade");
        var journal = Journal("sbx-20261204-213900-upgrade-1.7.5-to-1.7.6", UpgradeStatus.InProgress, target: "1.8.0");
        var finding = HelmDiagnostics.PendingFinding(history, "sandbox", journal)!;
        Assert.Equal("HelmReleasePending", finding.Id);
        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.Contains("revision 3 is pending-upgrade (Preparing upgrade", finding.Evidence);
        Assert.Contains("the last deployed revision is 1", finding.Evidence);
        Assert.Contains("-Resume -Chart <chart> rolls it back to revision 1 and continues the interrupted upgrade to 1.8.0", finding.Guidance);
        Assert.Contains("'helm rollback sbx 1 -n sandbox'", finding.Guidance);

        Assert.Contains("to the version -To gives", HelmDiagnostics.PendingFinding(history, "sandbox", null)!.Guidance);
        Assert.Contains("helm uninstall", HelmDiagnostics.PendingFinding(History("pending-install"), "sandbox", null)!.Guidance);
        Assert.Null(HelmDiagnostics.PendingFinding(History("superseded", "deployed"), "sandbox", journal));
        Assert.Null(HelmDiagnostics.PendingFinding([], "sandbox", journal));
    }

    [Fact]
    public void Resume_continues_the_newest_upgrade_that_did_not_finish()
    {
        var interrupted = Journal("b", UpgradeStatus.InProgress);
        var older = Journal("a", UpgradeStatus.Succeeded);
        Assert.Same(interrupted, HelmResume.Resumable([interrupted, older]));
        Assert.Same(interrupted, HelmResume.Resumable([Journal("c-rollback", UpgradeStatus.Succeeded, operation: "Rollback"), interrupted]));
        var failed = Journal("d", UpgradeStatus.Failed);
        Assert.Same(failed, HelmResume.Resumable([failed, older]));
        // The newest upgrade finished (or was rolled back): an older interrupted one is not continued behind its back.
        Assert.Null(HelmResume.Resumable([older, interrupted]));
        Assert.Null(HelmResume.Resumable([Journal("e", UpgradeStatus.RolledBack), interrupted]));
        Assert.Null(HelmResume.Resumable([]));
    }

    [Fact]
    public void Resume_goes_to_the_path_target_the_journal_names_unless_To_is_given()
    {
        var hop = Journal("h", UpgradeStatus.InProgress, target: "1.8.0");
        Assert.Equal("1.8.0", HelmResume.Target(hop, null));
        Assert.Equal("2.0.0", HelmResume.Target(hop, "2.0.0"));
        // A journal written before the path's target was journalled: its hop's To.
        Assert.Equal("1.7.6", HelmResume.Target(Journal("old", UpgradeStatus.InProgress), null));
    }

    [Fact]
    public void Nothing_to_resume_is_an_error_with_the_release_and_the_next_step()
    {
        var error = HelmResume.NothingToResume("sandbox/sbx", "/data/journal", null);
        Assert.Equal("NothingToResume", error.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, error.Kind);
        Assert.Equal("sandbox/sbx", error.Target);
        Assert.Contains("Invoke-Upgrade -Deployment $d -To <version> -Chart <chart>", error.Message);
        Assert.Contains("-To 1.8.0 names a target, not an upgrade to continue", HelmResume.NothingToResume("sandbox/sbx", "/data/journal", "1.8.0").Message);
    }

    [Fact]
    public void Resume_on_a_release_is_checked_for_its_chart_and_Rolling_is_still_refused()
    {
        var release = new Deployment { Name = "sbx", Platform = DeploymentPlatform.Kubernetes, Profile = "test", Location = "sandbox/sbx" };
        var path = new UpgradePath { From = "1.7.5", To = "1.7.5", IsSupported = true, Reason = "resume" };
        var noChart = Assert.Throws<UpgradeOpsException>(() => HelmUpgradePath.Check(new UpgradeRequest { Deployment = release, Path = path, Resume = true }));
        Assert.Equal("ChartRequired", noChart.ErrorId);
        Assert.Contains("-Resume needs it too", noChart.Message);
        HelmUpgradePath.Check(new UpgradeRequest { Deployment = release, Path = path, Resume = true, Helm = new HelmUpgradeOptions { Chart = "./chart" } });
        var rolling = Assert.Throws<UpgradeOpsException>(() => HelmUpgradePath.Check(new UpgradeRequest
        {
            Deployment = release, Path = path, Strategy = UpgradeStrategy.Rolling, Helm = new HelmUpgradeOptions { Chart = "./chart" },
        }));
        Assert.Equal("NotSupportedOnHelm", rolling.ErrorId);
    }

    [Fact]
    public void A_Compose_resume_refuses_another_target()
    {
        var compose = new Deployment { Name = "app", Platform = DeploymentPlatform.Compose, Profile = "test", Location = "/srv/app/docker-compose.yml" };
        var path = new UpgradePath { From = "1.7.5", To = "1.7.5", IsSupported = true, Reason = "resume" };
        var error = Assert.Throws<UpgradeOpsException>(() => DeploymentPlatforms.Open(compose).CheckUpgradeRequest(
            new UpgradeRequest { Deployment = compose, Path = path, Resume = true, ResumeTo = "1.8.0" }));
        Assert.Equal("ResumeTargetNotSupported", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("1.8.0", error.Target);
        DeploymentPlatforms.Open(compose).CheckUpgradeRequest(new UpgradeRequest { Deployment = compose, Path = path, Resume = true });
    }

    private static UpgradeJournal Journal(string id, UpgradeStatus status, string? target = null, string operation = "Upgrade") => new()
    {
        Result = new UpgradeResult { Id = id, DeploymentName = "sbx", From = "1.7.5", To = "1.7.6", Status = status, Operation = operation },
        Target = target,
    };
}

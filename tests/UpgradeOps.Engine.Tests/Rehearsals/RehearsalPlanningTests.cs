using UpgradeOps.Rehearsals;
using UpgradeOps.Versioning;
using static UpgradeOps.Engine.Tests.Rehearsals.RehearsalSamples;

using UpgradeOps.Planning;

namespace UpgradeOps.Engine.Tests.Rehearsals;

public class RehearsalPlanningTests
{
    private static readonly string[] Releases = ["1.5.2", "1.6.0", "1.6.3", "1.7.0", "1.7.6", "1.8.0"];

    private static UpgradePath Plan(string from, string to, RehearsalReport? rehearsal) =>
        UpgradePathService.Test(new UpgradePathRequest { From = from, To = to, AvailableVersions = Releases, Rehearsal = rehearsal });

    [Fact]
    public void A_passed_rehearsal_of_the_same_path_gives_measured_figures_besides_the_estimate()
    {
        var path = Plan("1.5.2", "v1.7.6", Rehearsal());
        Assert.Equal(new MinuteRange(20, 60), path.EstimatedDowntime);
        Assert.Equal(TimeSpan.FromMinutes(44.5), path.MeasuredWindow);
        Assert.Equal(TimeSpan.FromSeconds(41.3), path.MeasuredDowntime);
        Assert.Equal("rehearsal-20261120-140000", path.RehearsalId);
        Assert.Equal([TimeSpan.FromSeconds(150), TimeSpan.FromSeconds(210)], path.Steps.Select(s => s.MeasuredDuration!.Value));
        Assert.Equal(TimeSpan.FromSeconds(21), path.Steps[1].MeasuredApiUnavailable);
        Assert.Contains("Measured by rehearsal rehearsal-20261120-140000 on 2026-11-20: a window of 45 min with 41 s of API downtime (the estimate without it: 20–60 min).", path.Reason);
        Assert.Contains("measured 45 min by rehearsal rehearsal-20261120-140000", path.ToString());
        Assert.Empty(path.Warnings);
    }

    [Fact]
    public void Without_a_rehearsal_the_path_is_an_estimate_only()
    {
        var path = Plan("1.5.2", "1.7.6", null);
        Assert.Null(path.MeasuredWindow);
        Assert.Null(path.RehearsalId);
        Assert.All(path.Steps, s => Assert.Null(s.MeasuredDuration));
        Assert.DoesNotContain("Measured", path.Reason);
    }

    [Fact]
    public void A_rehearsal_of_other_versions_lends_only_the_hops_it_ran()
    {
        var path = Plan("1.6.3", "1.7.6", Rehearsal());
        Assert.Null(path.MeasuredWindow);
        Assert.Equal(TimeSpan.FromSeconds(210), Assert.Single(path.Steps).MeasuredDuration);
        Assert.Contains("only 1 hop(s) carry its measured time", Assert.Single(path.Warnings));

        var unrelated = Plan("1.7.6", "1.8.0", Rehearsal());
        Assert.Null(unrelated.Steps[0].MeasuredDuration);
        Assert.Contains("its timings are not used", Assert.Single(unrelated.Warnings));
    }

    [Fact]
    public void A_failed_rehearsal_lends_no_figure()
    {
        var path = Plan("1.5.2", "1.7.6", Rehearsal(RehearsalStatus.Failed));
        Assert.Null(path.MeasuredWindow);
        Assert.All(path.Steps, s => Assert.Null(s.MeasuredDuration));
        Assert.Contains("Failed: its timings are not used", Assert.Single(path.Warnings));
    }

    private static readonly DateTimeOffset Now = Started.AddDays(3);

    [Fact]
    public void Readiness_passes_with_a_passed_rehearsal_from_the_current_version_to_the_target()
    {
        var check = RehearsalCoverage.Check(Rehearsal(), "1.5.2", "1.7.6", Now);
        Assert.Equal(("Rehearsal", CheckStatus.Passed), (check.Name, check.Status));
        Assert.Contains("rehearsal-20261120-140000", check.Detail);
        Assert.Contains("passed: 1.5.2 → 1.7.6 in 9 min 00 s, API down 41.3 s, window 44 min 30 s", check.Detail);
        Assert.Null(check.ErrorId);
    }

    [Fact]
    public void Readiness_fails_with_a_remedy_when_the_rehearsal_failed()
    {
        var failed = Rehearsal(RehearsalStatus.Failed);
        failed.Errors.Add("Migration of 1.6.3 → 1.7.6 failed: exit code 1");
        var check = RehearsalCoverage.Check(failed, "1.5.2", "1.7.6", Now);
        Assert.Equal(CheckStatus.Failed, check.Status);
        Assert.Equal("RehearsalFailed", check.ErrorId);
        Assert.Contains("Migration of 1.6.3 → 1.7.6 failed", check.Detail);
        Assert.Contains("rehearse again", check.Remedy);
    }

    [Theory]
    [InlineData("1.6.3", "1.7.6", 3, "went 1.5.2 → 1.7.6; this upgrade goes 1.6.3 → 1.7.6")]
    [InlineData("1.5.2", "1.8.0", 3, "this upgrade goes 1.5.2 → 1.8.0")]
    [InlineData("1.5.2", "1.7.6", 45, "days old")]
    public void Readiness_warns_for_other_versions_or_an_old_rehearsal(string from, string to, int daysLater, string expected)
    {
        var check = RehearsalCoverage.Check(Rehearsal(), from, to, Started.AddDays(daysLater));
        Assert.Equal(CheckStatus.Warning, check.Status);
        Assert.Contains(expected, check.Detail);
        Assert.Contains("Invoke-UpgradeRehearsal", check.Remedy);
    }

    [Fact]
    public void Readiness_warns_without_a_rehearsal_and_a_failure_for_other_versions_is_only_a_warning()
    {
        Assert.Equal(CheckStatus.Warning, RehearsalCoverage.Check(null, "1.5.2", "1.7.6", Now).Status);
        Assert.Equal(CheckStatus.Warning, RehearsalCoverage.Check(Rehearsal(RehearsalStatus.Failed), "1.6.3", "1.7.6", Now).Status);
    }
}

public class RehearsalStoppedTests
{
    [Fact]
    public void A_rehearsal_that_fails_records_its_error_with_the_deployments_secrets_masked()
    {
        var report = RehearsalSamples.Rehearsal();
        var redactor = new Hosting.SecretRedactor([new("DB_PASSWORD", "hunter2-secret")]);
        report.Stopped(new UpgradeOpsException("RestoreFailed", ErrorKind.InvalidOperation, null, "psql said: password hunter2-secret was refused."), redactor.Redact);
        Assert.Equal(RehearsalStatus.Failed, report.Status);
        Assert.Equal("psql said: password *** was refused. (RestoreFailed)", report.Errors[^1]);
    }
}

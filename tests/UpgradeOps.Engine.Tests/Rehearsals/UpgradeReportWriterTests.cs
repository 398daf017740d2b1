using UpgradeOps.Hosting;
using UpgradeOps.Rehearsals;
using static UpgradeOps.Engine.Tests.Rehearsals.RehearsalSamples;

using UpgradeOps.Reporting;

namespace UpgradeOps.Engine.Tests.Rehearsals;

public class UpgradeReportWriterTests
{
    private static readonly string[] Sections =
        ["## Summary", "## Path and timings", "## Release notes that matter", "## Validation", "## Logs", "## Rollback plan", "## Maintenance window"];

    [Fact]
    public void A_rehearsal_report_has_every_section_in_order()
    {
        var md = UpgradeReportWriter.Report(new UpgradeReportRequest { Rehearsal = Rehearsal(), ReleaseNotes = Notes() });
        Assert.StartsWith("# Rehearsal report: infrahub 1.5.2 → 1.7.6\n", md);
        var positions = Sections.Select(s => md.IndexOf(s, StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(-1, positions);
        Assert.Equal(positions.Order(), positions);
        Assert.Contains("| Route | 1.5.2 → 1.6.3 → 1.7.6 |", md);
        Assert.Contains("| Status | Passed |", md);
        Assert.Contains("| 1.6.3 → 1.7.6 | Succeeded | 3 min 30 s | 1 min 35 s | 21.0 s |", md);
        Assert.Contains("Measured API downtime: **41.3 s**", md);
        Assert.Contains("Estimated window: **about 45 minutes** (44 min 30 s). Basis: backup 4 min", md);
    }

    [Fact]
    public void Table_cells_escape_pipes_and_line_breaks()
    {
        var md = UpgradeReportWriter.Report(new UpgradeReportRequest { Rehearsal = Rehearsal() });
        Assert.Contains("| Logs | Warning | 2 lines \\| with a pipe<br>and a second line — Read them. |", md);
        Assert.Equal("a \\| b<br>c<br>d", UpgradeReportWriter.Cell("a | b\r\nc\nd"));
        // Every table row keeps its column count.
        foreach (var row in md.Split('\n').Where(l => l.StartsWith("| Logs |", StringComparison.Ordinal)))
            Assert.Equal(4, row.Replace("\\|", "").Count(c => c == '|'));
    }

    [Fact]
    public void Release_notes_that_matter_are_those_of_the_versions_crossed()
    {
        var md = UpgradeReportWriter.Report(new UpgradeReportRequest { Rehearsal = Rehearsal(), ReleaseNotes = Notes() });
        Assert.Contains("### Breaking changes\n\n- **1.7.0**: The REST endpoint /api/old is removed\n", md);
        Assert.Contains("### Database migrations\n\n- **1.6.0**: Schema 12: rewrites every node\n", md);
        Assert.Contains("### Configuration changes\n\n- **1.7.6**: New setting CACHE_TTL\n", md);
        Assert.DoesNotContain("Already installed", md);
        Assert.DoesNotContain("A new menu", md);
        Assert.DoesNotContain("Fixed a crash", md);

        var without = UpgradeReportWriter.Report(new UpgradeReportRequest { Rehearsal = Rehearsal() });
        Assert.Contains("No release notes were given", without);
    }

    [Fact]
    public void Logs_and_rollback_plan_of_a_rehearsal()
    {
        var md = UpgradeReportWriter.Report(new UpgradeReportRequest { Rehearsal = Rehearsal() });
        // A log line holding a fence cannot close the block it is shown in.
        Assert.Contains("````text\n2026-11-20T14:03:00Z ERROR worker lost ```its``` connection\n````", md);
        Assert.Contains("### To look at before the real upgrade\n\n- The worker logged an error during the migration.", md);
        Assert.Contains("Backup **infrahub-20261120-135500-1.5.2** at `/backups/infrahub-20261120-135500-1.5.2`", md);
        Assert.Contains("restored this backup into its copy in **2 min 05 s**", md);
        Assert.Contains("$d = Get-UpgradeDeployment -ProjectName 'infrahub'\n", md);
        Assert.Contains("Invoke-Rollback -Deployment $d -Force", md);
        Assert.Contains("Restore-DeploymentBackup -Path '/backups/infrahub-20261120-135500-1.5.2' -Deployment $d -Force", md);
    }

    [Fact]
    public void The_notice_says_when_how_long_and_what_is_unavailable()
    {
        var start = new DateTimeOffset(2026, 12, 1, 22, 0, 0, TimeSpan.FromHours(1));
        var notice = UpgradeReportWriter.Notice(new UpgradeReportRequest
        {
            Rehearsal = Rehearsal(), MaintenanceStart = start, Impacts = ["API unavailable", "Background tasks paused", "Active connections terminated"],
        });
        Assert.Contains("infrahub will be upgraded from version 1.5.2 to 1.7.6.", notice);
        Assert.Contains("- When: 2026-12-01 22:00 → 22:45 (UTC+01:00)\n", notice);
        Assert.Contains("- How long: about 45 minutes\n", notice);
        Assert.Contains("  - API unavailable\n  - Background tasks paused\n  - Active connections terminated\n", notice);
        Assert.DoesNotContain("rehearsal", notice, StringComparison.OrdinalIgnoreCase);

        var unplanned = UpgradeReportWriter.Notice(new UpgradeReportRequest { Rehearsal = Rehearsal() });
        Assert.Contains("- When: to be announced\n", unplanned);
        Assert.Equal("2026-12-01 23:30 → 2026-12-02 00:16 (UTC)",
            UpgradeReportWriter.When(new DateTimeOffset(2026, 12, 1, 23, 30, 0, TimeSpan.Zero), TimeSpan.FromMinutes(45.2)));
    }

    [Fact]
    public void An_upgrade_result_is_reported_with_its_hops_steps_and_exact_rollback()
    {
        var md = UpgradeReportWriter.Report(new UpgradeReportRequest { Upgrade = Upgrade("/srv/infrahub/docker-compose.yml") });
        Assert.StartsWith("# Upgrade report: infrahub 1.5.2 → 1.7.6\n", md);
        foreach (var section in Sections) Assert.Contains(section, md);
        Assert.Contains("| Route | 1.5.2 → 1.6.3 → 1.7.6 |", md);
        // 1.5.2 → 1.6.3: 0 s to 55 s; migrate 30 s; API from its stop (10 s) to its recreation's end (50 s).
        Assert.Contains("| 1.5.2 → 1.6.3 | Succeeded | 55.0 s | 30.0 s | 40.0 s |", md);
        Assert.Contains("| 1.6.3 → 1.7.6 | Succeeded | 1 min 20 s | 1 min 00 s | 1 min 10 s |", md);
        Assert.Contains("| 1.6.3→1.7.6 migrate | Succeeded | 2026-11-20 14:01 (UTC) | 1 min 00 s | ok |", md);
        Assert.Contains("$d = Get-UpgradeDeployment -ComposeFile '/srv/infrahub/docker-compose.yml'", md);
        Assert.Contains("Invoke-Rollback -Deployment $d -UpgradeId 'upgrade-20261201-220500' -Force", md);
        Assert.Contains("Restore-DeploymentBackup -Path '/backups/infrahub-20261201-220000-1.5.2' -Deployment $d -Force", md);
        Assert.Contains("No validation was recorded", md);
        Assert.Contains("### Migration output", md);
    }

    [Fact]
    public void Hops_of_a_single_hop_upgrade_have_no_prefix()
    {
        var result = Upgrade();
        result.Steps = result.Steps.Take(5).Select(s => new UpgradeStepResult { Name = s.Name["1.5.2→1.6.3 ".Length..], Status = s.Status, Started = s.Started, Duration = s.Duration }).ToList();
        result.To = "1.6.3";
        var hop = Assert.Single(UpgradeHops.Of(result));
        Assert.Equal(("1.5.2", "1.6.3", StepStatus.Succeeded), (hop.From, hop.To, hop.Status));
        Assert.Equal(TimeSpan.FromSeconds(55), hop.Duration);
        Assert.Equal(TimeSpan.FromSeconds(40), hop.ApiUnavailable);
    }

    [Fact]
    public void No_secret_of_the_deployments_env_appears_in_the_report_or_the_notice()
    {
        const string secret = "pl4nted-S3cret-value";
        var folder = Directory.CreateTempSubdirectory("report-").FullName;
        try
        {
            var compose = Path.Combine(folder, "docker-compose.yml");
            File.WriteAllText(compose, "services: {}\n");
            File.WriteAllText(Path.Combine(folder, ".env"), $"VERSION=1.5.2\nAPP_SECRET_KEY={secret}\nDB_PASSWORD=pw9\n");
            // A detail that slipped through unredacted is masked on the way out.
            var result = Upgrade(compose, detail: $"connected with {secret} and pw9");
            var request = new UpgradeReportRequest { Upgrade = result, Redactor = UpgradeReportWriter.RedactorFor(null, result), MaintenanceStart = Started };
            var md = UpgradeReportWriter.Report(request);
            var notice = UpgradeReportWriter.Notice(request);
            Assert.DoesNotContain(secret, md);
            Assert.DoesNotContain("pw9", md);
            Assert.Contains($"connected with {SecretRedactor.Mask} and {SecretRedactor.Mask}", md);
            Assert.DoesNotContain(secret, notice);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

using System.IO.Compression;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Validation;

using UpgradeOps.Compose;

namespace UpgradeOps.Engine.Tests.Validation;

public class DiagnosticTests
{
    private const string Secret = "s3cr3t-canary-value-123";

    private static ProductProfile Profile(string extra = "") => ProfileLoader.Parse($"""
        name: test
        services:
          - name: server
            role: Api
          - name: worker
            role: Worker
        configurationRules:
          - id: signing-key
            description: 2.0.0 needs a signing key.
            appVersion: 2.0.0
            requiresVariable: APP_SIGNING_KEY
            generate: true
        diagnostics:
          patterns:
            - id: signing-key-missing
              pattern: 'APP_SIGNING_KEY is required'
              appliesTo: logs
              guidance: Set APP_SIGNING_KEY.
            - id: migration-failed
              pattern: 'migration \S+ failed: '
              appliesTo: migration
              guidance: The migration failed.
            - id: db-password
              pattern: 'authentication failed'
              guidance: Check the password.
            - id: waiting
              pattern: 'waiting for database'
              severity: Warning
              guidance: Harmless.
        {extra}
        """, "test.yml");

    private static readonly Dictionary<string, string> Env = new() { ["APP_DB_PASSWORD"] = Secret, ["VERSION"] = "1.8.0" };
    private static SecretRedactor Redactor => new(Env);

    private static ServiceDiagnostic Running(string service, params string[] log) => new()
    {
        Service = service, Container = $"proj_{service}_1", State = "running", Health = "healthy",
        StartedAt = DateTimeOffset.Parse("2026-01-01T10:00:00Z"), LogTail = log.ToList(),
    };

    private static DiagnosticReport Report(params ServiceDiagnostic[] services) =>
        new() { DeploymentName = "proj", CollectedAt = DateTimeOffset.UtcNow, Version = "1.8.0", Services = services.ToList(), Mask = Redactor.Redact };

    [Fact]
    public void A_healthy_deployment_has_no_findings()
    {
        var report = Report(Running("server", "2026-01-01T10:00:01.123456789Z INFO listening on 127.0.0.1:58001"), Running("worker", "2026-01-01T10:00:02Z INFO worker ready"));
        Assert.Empty(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.8.0", null));
    }

    [Fact]
    public void Profile_patterns_become_findings_with_their_first_matching_line_redacted()
    {
        var report = Report(
            Running("server", $"2026-01-01T10:00:01.5Z ERROR cannot connect: password authentication failed for user sandbox ({Secret})"),
            Running("worker", "2026-01-01T10:00:01Z WARN waiting for database 127.0.0.1:55432: refused"));
        var findings = DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.8.0", null);

        var password = Assert.Single(findings, f => f.Id == "db-password");
        Assert.Equal(FindingSeverity.Error, password.Severity);
        Assert.Equal("logs: proj_server_1", password.Source);
        Assert.StartsWith("ERROR cannot connect: password authentication failed", password.Evidence);
        Assert.DoesNotContain(Secret, password.Evidence);
        Assert.Contains(SecretRedactor.Mask, password.Evidence);
        Assert.Equal("Check the password.", password.Guidance);
        Assert.Equal(FindingSeverity.Warning, Assert.Single(findings, f => f.Id == "waiting").Severity);
        Assert.DoesNotContain(findings, f => f.Id == "signing-key-missing");
    }

    [Fact]
    public void One_finding_names_every_container_whose_log_matches()
    {
        var report = Report(
            Running("worker", "2026-01-01T10:00:01Z WARN waiting for database x"),
            new ServiceDiagnostic { Service = "worker", Container = "proj_worker_2", State = "running", LogTail = ["WARN waiting for database y"] });
        var finding = Assert.Single(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.8.0", null));
        Assert.Equal("logs: proj_worker_1, proj_worker_2", finding.Source);
        Assert.Equal("WARN waiting for database x", finding.Evidence);
    }

    [Fact]
    public void Log_lines_from_before_a_running_containers_latest_start_are_not_matched()
    {
        var report = Report(Running("server", "2026-01-01T09:59:00Z ERROR password authentication failed", "2026-01-01T10:00:05Z INFO listening"));
        Assert.Empty(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.8.0", null));
    }

    [Fact]
    public void AppliesTo_keeps_a_pattern_to_its_source()
    {
        var report = Report(Running("server", "2026-01-01T10:00:01Z INFO migration 1.7.7 failed: only in the log"));
        report.UpgradeId = "u1";
        report.Operation = "Upgrade";
        report.UpgradeStatus = UpgradeStatus.Failed;
        report.MigrationOutput = ["1.7.6 → 1.7.7 (failed):\nINFO upgrading\nERROR migration 1.7.7 failed: column \"checksum_algorithm\" does not exist\n"];
        var findings = DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.7.6", "1.7.7");
        var migration = Assert.Single(findings, f => f.Id == "migration-failed");
        Assert.Equal("migration", migration.Source);
        Assert.Equal("ERROR migration 1.7.7 failed: column \"checksum_algorithm\" does not exist", migration.Evidence);
    }

    [Fact]
    public void A_failed_migration_step_gives_rollback_and_resume_guidance()
    {
        var report = Report(Running("server"));
        report.UpgradeId = "u1";
        report.Operation = "Upgrade";
        report.UpgradeStatus = UpgradeStatus.Failed;
        report.FailedStep = "migrate";
        report.ErrorId = "MigrationFailed";
        report.Error = $"The migration to 1.7.7 failed with exit code 1: ERROR {Secret}";
        var finding = Assert.Single(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.7.6", "1.7.7"), f => f.Id == "MigrationFailed");
        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.Contains("Invoke-Rollback", finding.Guidance);
        Assert.Contains("Invoke-Upgrade -Deployment $d -Resume", finding.Guidance);
        Assert.DoesNotContain(Secret, finding.Evidence);

        report.UpgradeStatus = UpgradeStatus.RolledBack;
        finding = Assert.Single(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.7.6", "1.7.7"), f => f.Id == "MigrationFailed");
        Assert.Contains("rolled back", finding.Guidance);
    }

    [Fact]
    public void A_rollout_that_timed_out_names_what_the_pods_say_and_what_to_do()
    {
        var report = Report(Running("server"));
        report.Platform = DeploymentPlatform.Kubernetes;
        report.UpgradeId = "u1";
        report.Operation = "Upgrade";
        report.UpgradeStatus = UpgradeStatus.Failed;
        report.FailedStep = "rollout";
        report.ErrorId = "RolloutTimedOut";
        report.Error = $"The rollout of release hr/hr did not finish within 25 s. Deployment hr/hr-sandbox-server (Api) has 2/2 updated, 0/2 ready: " +
                       $"Pods: hr-sandbox-server-0: CrashLoopBackOff, restarted 8 times, last exit code 1 (Error); last log line: 'ERROR {Secret}'";
        var findings = DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.7.5", "1.7.6");
        var finding = Assert.Single(findings, f => f.Id == "RolloutTimedOut");
        Assert.DoesNotContain(findings, f => f.Id == "UpgradeFailed");
        Assert.Contains("CrashLoopBackOff", finding.Evidence);
        Assert.DoesNotContain(Secret, finding.Evidence);
        Assert.Contains("Invoke-Rollback", finding.Guidance);
        Assert.DoesNotContain("-Resume", finding.Guidance);
    }

    [Fact]
    public void A_failed_Helm_upgrade_is_run_again_not_resumed()
    {
        // Invoke-Upgrade -Resume refuses a Helm release (NotSupportedOnHelm): the guidance must not send the admin there.
        var report = Report(Running("server"));
        report.Platform = DeploymentPlatform.Kubernetes;
        report.UpgradeId = "u1";
        report.Operation = "Upgrade";
        report.UpgradeStatus = UpgradeStatus.Failed;
        report.FailedStep = "helm upgrade";
        report.ErrorId = "MigrationFailed";
        var finding = Assert.Single(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.7.5", "1.7.7"), f => f.Id == "MigrationFailed");
        Assert.DoesNotContain("-Resume", finding.Guidance);
        Assert.Contains("-Force when the release is left pending-upgrade", finding.Guidance);

        report.ErrorId = "HelmUpgradeFailed";
        finding = Assert.Single(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.7.5", "1.7.7"), f => f.Id == "UpgradeFailed");
        Assert.DoesNotContain("-Resume", finding.Guidance);
        Assert.Contains("Invoke-Rollback", finding.Guidance);
    }

    [Fact]
    public void A_required_variable_missing_names_the_commands_that_add_it()
    {
        var report = Report(Running("server"));
        var finding = Assert.Single(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "2.0.0", null, "/srv/app/.env"));
        Assert.Equal("ConfigurationValueMissing", finding.Id);
        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.Equal("configuration", finding.Source);
        Assert.Contains("APP_SIGNING_KEY is not set in /srv/app/.env", finding.Evidence);
        Assert.Contains("Convert-UpgradeConfiguration -Deployment $d -To 2.0.0", finding.Guidance);
        Assert.Contains("Invoke-Upgrade -Deployment $d -To 2.0.0 -ConfigurationValue @{ APP_SIGNING_KEY = '...' }", finding.Guidance);

        // Needed only by the upgrade's target: a warning.
        Assert.Equal(FindingSeverity.Warning, Assert.Single(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.8.0", "2.0.0")).Severity);
        // Not needed yet, or set: nothing.
        Assert.Empty(DiagnosticAnalyzer.Analyze(report, Profile(), Env, Redactor, "1.8.0", "1.8.1"));
        var withKey = new Dictionary<string, string>(Env) { ["APP_SIGNING_KEY"] = "abcdef0123" };
        Assert.Empty(DiagnosticAnalyzer.Analyze(report, Profile(), withKey, new SecretRedactor(withKey), "2.0.0", null));
    }

    [Fact]
    public void Exited_restarting_and_paused_containers_are_findings()
    {
        var killed = new ServiceDiagnostic
        {
            Service = "worker", Container = "proj_worker_1", State = "exited", ExitCode = 137,
            FinishedAt = DateTimeOffset.Parse("2026-01-01T10:05:00Z"), LogTail = [$"2026-01-01T10:04:59Z INFO job done {Secret}"],
        };
        var looping = new ServiceDiagnostic { Service = "server", Container = "proj_server_1", State = "restarting", RestartCount = 5, ExitCode = 3 };
        var stopped = new ServiceDiagnostic { Service = "worker", Container = "proj_worker_2", State = "exited", ExitCode = 0 };
        var paused = new ServiceDiagnostic { Service = "worker", Container = "proj_worker_3", State = "paused" };
        var findings = DiagnosticAnalyzer.Analyze(Report(killed, looping, stopped, paused), Profile(), Env, Redactor, "1.8.0", null);

        var exited = Assert.Single(findings, f => f.Id == "ContainerExited");
        Assert.Equal("container: proj_worker_1", exited.Source);
        Assert.Contains("exit code 137", exited.Evidence);
        Assert.DoesNotContain(Secret, exited.Evidence);
        Assert.Contains("log lines above", exited.Guidance);
        Assert.Contains("Invoke-Rollback", exited.Guidance);
        Assert.Contains("has restarted 5 time(s)", Assert.Single(findings, f => f.Id == "ContainerRestarting").Evidence);
        Assert.Equal(FindingSeverity.Warning, Assert.Single(findings, f => f.Id == "ContainerStopped").Severity);
        Assert.Equal(FindingSeverity.Warning, Assert.Single(findings, f => f.Id == "ContainerPaused").Severity);
    }

    [Theory]
    [InlineData("id: x\n      pattern: '('\n      guidance: g", "not a valid regular expression")]
    [InlineData("id: x\n      pattern: a\n      guidance: g\n      appliesTo: everything", "appliesTo 'everything'")]
    [InlineData("id: x\n      pattern: a", "needs 'guidance'")]
    public void Invalid_patterns_are_refused_with_the_reason(string pattern, string reason)
    {
        var yaml = $"name: t\nservices:\n  - name: a\ndiagnostics:\n  patterns:\n    - {pattern}\n";
        var ex = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "bad.yml"));
        Assert.Equal("InvalidProfile", ex.ErrorId);
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void The_builtin_and_sandbox_profiles_declare_valid_patterns()
    {
        Assert.NotEmpty(ProfileLoader.Load("infrahub").Diagnostics.Patterns);
        var sandbox = ProfileLoader.Load(Path.Combine(RepoRoot(), "tests/Sandbox/profile.yml"));
        Assert.Contains(sandbox.Diagnostics.Patterns, p => p.Id == "signing-key-missing");
        // The sandbox's own messages (tests/Sandbox/app/sandbox/*.py) are recognised.
        var report = Report(Running("server",
            "2026-01-01T10:00:01Z ERROR configuration value APP_SIGNING_KEY is required since 2.0.0",
            "2026-01-01T10:00:01Z ERROR database schema 2.0.0 is newer than this version 1.8.0 (it needs 2.0.0 or later): downgrades are not supported"));
        var ids = DiagnosticAnalyzer.Analyze(report, sandbox, Env, Redactor, "1.8.0", null).Select(f => f.Id).ToList();
        Assert.Contains("signing-key-missing", ids);
        Assert.Contains("schema-newer-than-image", ids);
    }

    [Fact]
    public void The_bundle_holds_the_report_each_log_and_the_journal_all_redacted()
    {
        var report = Report(
            Running("server", $"2026-01-01T10:00:01Z INFO token {Secret}"),
            new ServiceDiagnostic { Service = "worker", Container = "proj_worker_1", State = "exited", ExitCode = 1, LogTail = ["ERROR boom"] });
        report.Error = $"failed with {SecretRedactor.Mask}";
        report.JournalText = $"{{ \"error\": \"{Secret}\" }}";
        report.Findings.Add(new DiagnosticFinding { Id = "x", Source = "error", Evidence = "e", Guidance = "g" });
        var folder = Directory.CreateTempSubdirectory("diag-").FullName;
        try
        {
            var path = Path.Combine(folder, "bundle.zip");
            DiagnosticBundle.Write(report, path, force: false);
            Assert.Equal(path, report.OutFile);
            Assert.Equal(["bundle.zip"], Directory.GetFiles(folder).Select(Path.GetFileName));

            using (var zip = ZipFile.OpenRead(path))
            {
                Assert.Equal(["journal.json", "logs/proj_server_1.log", "logs/proj_worker_1.log", "report.json"], zip.Entries.Select(e => e.FullName).Order());
                foreach (var entry in zip.Entries)
                {
                    using var reader = new StreamReader(entry.Open());
                    Assert.DoesNotContain(Secret, reader.ReadToEnd());
                }
                using var log = new StreamReader(zip.GetEntry("logs/proj_server_1.log")!.Open());
                Assert.Equal($"2026-01-01T10:00:01Z INFO token {SecretRedactor.Mask}\n", log.ReadToEnd());
                using var json = new StreamReader(zip.GetEntry("report.json")!.Open());
                var text = json.ReadToEnd();
                Assert.Contains("\"deploymentName\": \"proj\"", text);
                Assert.Contains("\"severity\": \"Error\"", text);
            }

            var before = File.ReadAllBytes(path);
            var refused = Assert.Throws<UpgradeOpsException>(() => DiagnosticBundle.Write(report, path, force: false));
            Assert.Equal("OutFileExists", refused.ErrorId);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal(["bundle.zip"], Directory.GetFiles(folder).Select(Path.GetFileName));

            DiagnosticBundle.Write(report, path, force: true);
            Assert.Equal(["bundle.zip"], Directory.GetFiles(folder).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Docker_timestamps_are_read_and_stripped()
    {
        Assert.Equal(DateTimeOffset.Parse("2026-01-01T10:00:01.1234567Z"), DiagnosticAnalyzer.Timestamp("2026-01-01T10:00:01.123456789Z INFO x"));
        Assert.Equal("INFO x", DiagnosticAnalyzer.StripTimestamp("2026-01-01T10:00:01.123456789Z INFO x"));
        Assert.Null(DiagnosticAnalyzer.Timestamp("INFO x"));
    }

    [Fact]
    public void The_journal_read_is_the_upgrade_a_successful_rollback_undid_or_the_one_asked_for()
    {
        var folder = Directory.CreateTempSubdirectory("diag-journal-").FullName;
        try
        {
            var compose = Path.Combine(folder, "docker-compose.yml");
            var journals = UpgradeOps.Journal.UpgradeJournal.JournalFolder(compose);
            UpgradeOps.Journal.UpgradeJournal Save(string id, string operation, UpgradeStatus status, int minute, Action<UpgradeResult>? edit = null)
            {
                var journal = new UpgradeOps.Journal.UpgradeJournal
                {
                    Path = Path.Combine(journals, id + ".json"), ComposeFile = compose,
                    Result = new UpgradeResult { Id = id, DeploymentName = "proj", From = "1.7.6", To = "1.7.7", Operation = operation, Status = status,
                        Started = DateTimeOffset.Parse("2026-01-01T10:00:00Z").AddMinutes(minute) },
                };
                edit?.Invoke(journal.Result);
                journal.Save();
                return journal;
            }
            Save("up", "Upgrade", UpgradeStatus.RolledBack, 0, r =>
            {
                r.RolledBackBy = "rb";
                r.ErrorId = "MigrationFailed";
                r.Error = $"failed: {Secret}";
                r.MigrationOutput.Add($"ERROR migration 1.7.7 failed {Secret}");
                r.Steps.Add(new UpgradeStepResult { Name = "migrate", Status = StepStatus.Failed });
            });
            Save("rb", "Rollback", UpgradeStatus.Succeeded, 1);

            var picked = UpgradeOps.Validation.Diagnostics.PickJournal(compose, null, "proj")!;
            Assert.Equal("up", picked.Result.Id);
            var report = Report();
            UpgradeOps.Validation.Diagnostics.ReadJournal(report, picked, Redactor);
            Assert.Equal("migrate", report.FailedStep);
            Assert.Equal("MigrationFailed", report.ErrorId);
            Assert.DoesNotContain(Secret, report.Error);
            Assert.DoesNotContain(Secret, report.MigrationOutput[0]);
            Assert.DoesNotContain(Secret, report.JournalText);

            Assert.Equal("rb", UpgradeOps.Validation.Diagnostics.PickJournal(compose, "rb", "proj")!.Result.Id);
            Assert.Equal("UpgradeNotFound", Assert.Throws<UpgradeOpsException>(() => UpgradeOps.Validation.Diagnostics.PickJournal(compose, "nope", "proj")).ErrorId);
            Assert.Null(UpgradeOps.Validation.Diagnostics.PickJournal(Path.Combine(folder, "other", "docker-compose.yml"), null, "proj"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "UpgradeOps.psd1"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

namespace UpgradeOps.Validation;

/// <summary>
/// Turns what a diagnostic collected into findings: the profile's patterns matched line by line against the
/// logs, the migration output and the failed step's error, and the engine's own rules (a configuration value a
/// rule requires is missing, a container exited or restarts, a migration or another upgrade step failed).
/// Pure: works on the report, the profile and the .env values, so it is tested without Docker.
/// </summary>
public static partial class DiagnosticAnalyzer
{
    private const int MaxEvidence = 300;
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Adds the findings to <paramref name="report"/> (its texts must already be redacted; evidence is redacted again).</summary>
    /// <param name="environment">The .env values (only their names and presence are used).</param>
    /// <param name="configuredVersion">The version the compose file / .env names.</param>
    /// <param name="targetVersion">The version the journal's upgrade was going to, if any.</param>
    public static IReadOnlyList<DiagnosticFinding> Analyze(DiagnosticReport report, ProductProfile profile, IReadOnlyDictionary<string, string> environment,
        SecretRedactor redactor, string? configuredVersion, string? targetVersion, string? envFilePath = null)
    {
        var findings = new List<DiagnosticFinding>();
        string Evidence(string line)
        {
            var text = redactor.Redact(line.Trim());
            return text.Length > MaxEvidence ? text[..MaxEvidence] + "…" : text;
        }

        // Engine rules first: they say the most specific thing.
        findings.AddRange(UpgradeRules(report, Evidence));
        findings.AddRange(ConfigurationRules(profile, environment, configuredVersion, targetVersion, envFilePath));
        findings.AddRange(ContainerRules(report, Evidence));

        foreach (var pattern in profile.Diagnostics.Patterns)
        {
            var regex = new Regex(pattern.Pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, MatchTimeout);
            if (pattern.Covers("logs"))
            {
                var matched = report.Services
                    .Select(s => (s.Container, Line: CurrentRunLines(s).FirstOrDefault(l => SafeMatch(regex, StripTimestamp(l)))))
                    .Where(m => m.Line is not null).ToList();
                if (matched.Count > 0)
                    findings.Add(new DiagnosticFinding
                    {
                        Id = pattern.Id, Severity = pattern.Severity, Source = "logs: " + string.Join(", ", matched.Select(m => m.Container)),
                        Evidence = Evidence(StripTimestamp(matched[0].Line!)), Guidance = pattern.Guidance.Trim(),
                    });
            }
            if (pattern.Covers("migration"))
            {
                var line = report.MigrationOutput.SelectMany(Lines).FirstOrDefault(l => SafeMatch(regex, l));
                if (line is not null)
                    findings.Add(new DiagnosticFinding { Id = pattern.Id, Severity = pattern.Severity, Source = "migration", Evidence = Evidence(line), Guidance = pattern.Guidance.Trim() });
            }
            if (pattern.Covers("error") && report.Error is not null)
            {
                var line = Lines(report.Error).FirstOrDefault(l => SafeMatch(regex, l));
                if (line is not null)
                    findings.Add(new DiagnosticFinding { Id = pattern.Id, Severity = pattern.Severity, Source = "error", Evidence = Evidence(line), Guidance = pattern.Guidance.Trim() });
            }
        }
        return findings;
    }

    private static IEnumerable<DiagnosticFinding> UpgradeRules(DiagnosticReport report, Func<string, string> evidence)
    {
        if (report.UpgradeId is null) yield break;
        var migration = report.ErrorId is "MigrationFailed" or "MigrationTimedOut" ||
                        report.FailedStep?.EndsWith("migrate", StringComparison.OrdinalIgnoreCase) == true;
        var rolledBack = report.UpgradeStatus == UpgradeStatus.RolledBack;
        var what = report.Operation == "Rollback" ? "rollback" : "upgrade";
        var firstErrorLine = report.Error is null ? null : evidence(Lines(report.Error).FirstOrDefault() ?? report.Error);
        // Compose resumes from the journal's failed step; helm has no such step to resume, so a Helm upgrade is run again
        // (-Force first rolls a release left pending back to its last deployed revision).
        var continueUpgrade = Platforms.DeploymentPlatforms.Of(report.Platform).ContinueUpgradeAdvice;

        if (migration && report.Operation != "Rollback")
        {
            yield return new DiagnosticFinding
            {
                Id = "MigrationFailed", Severity = FindingSeverity.Error, Source = "journal",
                Evidence = firstErrorLine ?? $"step '{report.FailedStep}' failed",
                Guidance = rolledBack
                    ? "The migration failed and the upgrade was rolled back to the backup, data included: the deployment runs its previous version. " +
                      "Read the migration output above for the cause; do not retry the same version until it is understood (a withdrawn or broken release needs a newer one)."
                    : "The migration failed and the upgrade stopped. Invoke-Rollback -Deployment $d returns to the backup taken before the upgrade " +
                      "(data and images); once the cause in the migration output is fixed, " + continueUpgrade + ".",
            };
        }
        else if (report.UpgradeStatus is UpgradeStatus.Failed or UpgradeStatus.Interrupted or UpgradeStatus.InProgress && report.Operation == "Rollback")
        {
            yield return new DiagnosticFinding
            {
                Id = "RollbackFailed", Severity = FindingSeverity.Error, Source = "journal",
                Evidence = firstErrorLine ?? $"the rollback stopped at '{report.FailedStep}'",
                Guidance = "The rollback did not finish. Fix the cause named in the error, then run Invoke-Rollback again: it restores from the same backup. " +
                           "Restore-DeploymentBackup restores the data alone if the containers are fine.",
            };
        }
        else if (report.ErrorId == "RolloutTimedOut" && report.UpgradeStatus is UpgradeStatus.Failed or UpgradeStatus.Interrupted or UpgradeStatus.InProgress)
        {
            // Invoke-Upgrade's rollout watch names the workloads that did not roll out and what their pods say: that is the cause to fix.
            yield return new DiagnosticFinding
            {
                Id = "RolloutTimedOut", Severity = FindingSeverity.Error, Source = "journal",
                Evidence = firstErrorLine ?? $"the rollout of {report.UpgradeId} did not finish",
                Guidance = "The new pods did not become ready in time; the error names each workload and what its pods say. ImagePullBackOff or " +
                           "ErrImagePull: the image, its tag or the registry credentials; CrashLoopBackOff: its last log line, usually a configuration " +
                           "value the new version needs (see the services' logs above). Fix that, then " + continueUpgrade +
                           "; Invoke-Rollback -Deployment $d returns to the previous revision and the backup's data instead.",
            };
        }
        else if (report.UpgradeStatus is UpgradeStatus.Failed or UpgradeStatus.Interrupted or UpgradeStatus.InProgress)
        {
            yield return new DiagnosticFinding
            {
                Id = report.UpgradeStatus == UpgradeStatus.Failed ? "UpgradeFailed" : "UpgradeNotFinished", Severity = FindingSeverity.Error, Source = "journal",
                Evidence = firstErrorLine ?? $"{what} {report.UpgradeId} is {report.UpgradeStatus} at step '{report.FailedStep ?? "(unknown)"}'",
                Guidance = "The upgrade did not finish" + (report.FailedStep is null ? "" : $" (step '{report.FailedStep}')") +
                           ". Fix the cause named in the error, then " + continueUpgrade + "; " +
                           "Invoke-Rollback -Deployment $d returns to the backup taken before the upgrade instead.",
            };
        }
    }

    private static IEnumerable<DiagnosticFinding> ConfigurationRules(ProductProfile profile, IReadOnlyDictionary<string, string> environment,
        string? configuredVersion, string? targetVersion, string? envFilePath)
    {
        var configured = ParseOrNull(configuredVersion);
        var target = ParseOrNull(targetVersion);
        var envFile = envFilePath ?? ".env";
        foreach (var rule in profile.ConfigurationRules.Where(r => r.RequiresVariable is not null && r.AppVersion is not null))
        {
            var from = ProductVersion.Parse(rule.AppVersion!);
            var name = rule.RequiresVariable!;
            if (environment.TryGetValue(name, out var value) && value.Trim().Length > 0) continue;
            var neededNow = configured is not null && configured >= from;
            var neededByTarget = target is not null && target >= from;
            if (!neededNow && !neededByTarget) continue;
            var version = neededNow ? configured! : target!;
            yield return new DiagnosticFinding
            {
                Id = "ConfigurationValueMissing",
                Severity = neededNow ? FindingSeverity.Error : FindingSeverity.Warning,
                Source = "configuration",
                Evidence = $"{name} is not set in {envFile}; rule '{rule.Id}' requires it from {rule.AppVersion} on" +
                           (neededNow ? $" and the deployment is configured for {configured}." : $" and the upgrade went to {target}.") +
                           (string.IsNullOrWhiteSpace(rule.Description) ? "" : " " + rule.Description.Trim()),
                Guidance = $"Add {name}: Convert-UpgradeConfiguration -Deployment $d -To {version} writes the values the profile's rules require " +
                           $"(a planned cmdlet); today, Invoke-Upgrade -Deployment $d -To {version} -ConfigurationValue @{{ {name} = '...' }} " +
                           $"writes it to .env during the upgrade (never shown), or add '{name}=...' to {envFile} yourself and recreate the containers.",
            };
        }
    }

    private static IEnumerable<DiagnosticFinding> ContainerRules(DiagnosticReport report, Func<string, string> evidence)
    {
        foreach (var service in report.Services)
        {
            var lastLine = service.LogTail.Count == 0 ? null : evidence(StripTimestamp(service.LogTail[^1]));
            var lastWords = lastLine is null ? "" : $"; last log line: {lastLine}";
            const string rollback = "Invoke-Rollback -Deployment $d returns to the backup taken before the upgrade.";
            switch (service.State)
            {
                case "exited" or "dead" when service.ExitCode is not 0:
                    yield return new DiagnosticFinding
                    {
                        Id = service.OomKilled ? "ContainerOutOfMemory" : "ContainerExited", Severity = FindingSeverity.Error, Source = "container: " + service.Container,
                        Evidence = $"{service.Container} ({service.Service}) {service.State} with exit code {service.ExitCode}" +
                                   (service.FinishedAt is { } finished ? $" at {finished.ToString("u", CultureInfo.InvariantCulture)}" : "") +
                                   (service.OomKilled ? ", killed for lack of memory" : "") + lastWords,
                        Guidance = (service.OomKilled ? "The kernel killed it for lack of memory: raise its memory limit. " : "") +
                                   $"Look at its log lines above (Services where Container is '{service.Container}', LogTail) for why it stopped; " +
                                   $"exit code 137 means it was killed (SIGKILL or out of memory), 143 stopped (SIGTERM). Once fixed, start it again ('docker start {service.Container}'). {rollback}",
                    };
                    break;
                case "exited" or "created":
                    yield return new DiagnosticFinding
                    {
                        Id = "ContainerStopped", Severity = FindingSeverity.Warning, Source = "container: " + service.Container,
                        Evidence = $"{service.Container} ({service.Service}) is {service.State}" + (service.ExitCode is { } code ? $" (exit code {code})" : "") + lastWords,
                        Guidance = $"It is not running. If nobody stopped it on purpose, start it again ('docker start {service.Container}') and look at its log lines above if it stops again.",
                    };
                    break;
                case "paused":
                    yield return new DiagnosticFinding
                    {
                        Id = "ContainerPaused", Severity = FindingSeverity.Warning, Source = "container: " + service.Container,
                        Evidence = $"{service.Container} ({service.Service}) is paused",
                        Guidance = $"A backup pauses writers while it runs; if none is running, an interrupted one left it paused: 'docker unpause {service.Container}'.",
                    };
                    break;
            }
            if (service.State == "restarting" || service.RestartCount >= 3)
                yield return new DiagnosticFinding
                {
                    Id = "ContainerRestarting", Severity = FindingSeverity.Error, Source = "container: " + service.Container,
                    Evidence = $"{service.Container} ({service.Service}) has restarted {service.RestartCount} time(s)" + (service.State == "restarting" ? " and is restarting now" : "") +
                               (service.ExitCode is { } code and not 0 ? $"; last exit code {code}" : "") + lastWords,
                    Guidance = $"It keeps failing at start: look at its log lines above for the error each start prints. {rollback}",
                };
            if (service.State == "running" && service.Health == "unhealthy")
                yield return new DiagnosticFinding
                {
                    Id = "ContainerUnhealthy", Severity = FindingSeverity.Error, Source = "container: " + service.Container,
                    Evidence = $"{service.Container} ({service.Service}) runs but its healthcheck fails" + lastWords,
                    Guidance = $"Look at its log lines above and 'docker inspect {service.Container}' (State.Health.Log) for what the healthcheck sees. {rollback}",
                };
        }
    }

    /// <summary>
    /// Lines of the container's current run: a container that runs again after a failure has moved past the errors
    /// of its earlier runs. A stopped or restarting container's lines all count.
    /// </summary>
    private static IEnumerable<string> CurrentRunLines(ServiceDiagnostic service)
    {
        if (service.State != "running" || service.StartedAt is not { } started) return service.LogTail;
        return service.LogTail.Where(l => Timestamp(l) is not { } at || at >= started.AddSeconds(-1));
    }

    private static bool SafeMatch(Regex regex, string line)
    {
        try
        {
            return regex.IsMatch(line);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0);

    /// <summary>Docker's "2024-05-01T12:00:00.123456789Z " prefix, removed.</summary>
    public static string StripTimestamp(string line)
    {
        var match = TimestampPrefix().Match(line);
        return match.Success ? line[match.Length..] : line;
    }

    public static DateTimeOffset? Timestamp(string line)
    {
        var match = TimestampPrefix().Match(line);
        if (!match.Success) return null;
        var text = match.Groups["at"].Value;
        // .NET parses at most 7 fraction digits; Docker writes 9.
        var fraction = FractionDigits().Match(text);
        if (fraction.Success && fraction.Groups[1].Value.Length > 7) text = text.Replace(fraction.Groups[1].Value, fraction.Groups[1].Value[..7]);
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;
    }

    private static ProductVersion? ParseOrNull(string? text) =>
        text is not null && ProductVersion.TryParse(text, out var version) ? version : null;

    [GeneratedRegex(@"^(?<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")]
    private static partial Regex TimestampPrefix();

    [GeneratedRegex(@"\.(\d+)")]
    private static partial Regex FractionDigits();
}

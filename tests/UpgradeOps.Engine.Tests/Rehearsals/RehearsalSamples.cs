using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;

namespace UpgradeOps.Engine.Tests.Rehearsals;

/// <summary>Reports and results built by hand, as Invoke-UpgradeRehearsal and Invoke-Upgrade would return them.</summary>
internal static class RehearsalSamples
{
    public static readonly DateTimeOffset Started = new(2026, 11, 20, 14, 0, 0, TimeSpan.Zero);

    public static RehearsalReport Rehearsal(RehearsalStatus status = RehearsalStatus.Passed, string from = "1.5.2", string to = "1.7.6", DateTimeOffset? started = null) => new()
    {
        Id = "rehearsal-20261120-140000", DeploymentName = "infrahub", CopyName = "infrahub-rehearsal-1", From = from, To = to,
        Route = $"{from} → 1.6.3 → {to}", Strategy = UpgradeStrategy.Standard, BackupId = "infrahub-20261120-135500-1.5.2",
        BackupPath = "/backups/infrahub-20261120-135500-1.5.2", Started = started ?? Started, Duration = TimeSpan.FromMinutes(9),
        Status = status, Restore = TimeSpan.FromSeconds(125), Downtime = TimeSpan.FromSeconds(41.3), Backup = TimeSpan.FromMinutes(4),
        EstimatedWindow = TimeSpan.FromMinutes(44.5), EstimateBasis = "backup 4 min + upgrade 6 min + validation 1 min, × 1.5",
        Hops =
        [
            new RehearsalHop { From = from, To = "1.6.3", Duration = TimeSpan.FromSeconds(150), Migration = TimeSpan.FromSeconds(30), ApiUnavailable = TimeSpan.FromSeconds(20), Status = StepStatus.Succeeded },
            new RehearsalHop { From = "1.6.3", To = to, Duration = TimeSpan.FromSeconds(210), Migration = TimeSpan.FromSeconds(95), ApiUnavailable = TimeSpan.FromSeconds(21), Status = StepStatus.Succeeded },
        ],
        Validation = new ValidationReport
        {
            DeploymentName = "infrahub-rehearsal-1", ExpectedVersion = to, CheckedAt = Started.AddMinutes(8),
            Checks =
            [
                new CheckResult { Name = "ApiVersion", Status = CheckStatus.Passed, Detail = $"version {to}" },
                new CheckResult { Name = "Logs", Status = CheckStatus.Warning, Detail = "2 lines | with a pipe\nand a second line", Remedy = "Read them." },
            ],
        },
        LogErrors = ["2026-11-20T14:03:00Z ERROR worker lost ```its``` connection"],
        LogWarnings = ["2026-11-20T14:03:01Z WARN slow query"],
        Warnings = ["The worker logged an error during the migration."],
    };

    public static ReleaseNoteDocument Notes() => new(
    [
        Release("1.7.6", (ReleaseNoteCategory.Fix, "Fixed a crash"), (ReleaseNoteCategory.ConfigurationChange, "New setting CACHE_TTL")),
        Release("1.7.0", (ReleaseNoteCategory.BreakingChange, "The REST endpoint /api/old is removed"), (ReleaseNoteCategory.Feature, "A new menu")),
        Release("1.6.0", (ReleaseNoteCategory.DatabaseMigration, "Schema 12: rewrites\nevery node")),
        Release("1.5.2", (ReleaseNoteCategory.BreakingChange, "Already installed, not crossed")),
    ], "CHANGELOG.md");

    private static ReleaseEntry Release(string version, params (ReleaseNoteCategory Category, string Text)[] notes) => new()
    {
        Version = ProductVersion.Parse(version),
        Notes = notes.Select(n => new ReleaseNote { Version = version, Category = n.Category, Title = n.Text.Split('\n')[0], Text = n.Text }).ToList(),
    };

    public static UpgradeResult Upgrade(string? composeFile = null, string detail = "ok")
    {
        UpgradeStepResult Step(string name, int startSecond, int seconds, StepStatus status = StepStatus.Succeeded) => new()
        {
            Name = name, Status = status, Started = Started.AddSeconds(startSecond), Duration = TimeSpan.FromSeconds(seconds), Detail = detail,
        };
        return new UpgradeResult
        {
            Id = "upgrade-20261201-220500", DeploymentName = "infrahub", From = "1.5.2", To = "1.7.6", Strategy = UpgradeStrategy.Standard,
            Status = UpgradeStatus.Succeeded, Started = Started, Duration = TimeSpan.FromSeconds(400), Downtime = TimeSpan.FromSeconds(45),
            BackupId = "infrahub-20261201-220000-1.5.2", BackupPath = "/backups/infrahub-20261201-220000-1.5.2",
            Deployment = composeFile is null ? null : new Deployment { Name = "infrahub", Platform = DeploymentPlatform.Compose, Profile = "infrahub", Location = composeFile },
            Steps =
            [
                Step("1.5.2→1.6.3 pull images", 0, 10), Step("1.5.2→1.6.3 stop API", 10, 2), Step("1.5.2→1.6.3 migrate", 12, 30),
                Step("1.5.2→1.6.3 recreate API", 42, 8), Step("1.5.2→1.6.3 clean up", 50, 5),
                Step("1.6.3→1.7.6 pull images", 60, 10), Step("1.6.3→1.7.6 stop API", 70, 1), Step("1.6.3→1.7.6 migrate", 71, 60),
                Step("1.6.3→1.7.6 recreate API", 131, 9),
            ],
            MigrationOutput = ["migrated to schema 12"],
        };
    }
}

using System.Globalization;
using System.Text;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.ReleaseNotes;
using UpgradeOps.Versioning;

using UpgradeOps.Rehearsals;

namespace UpgradeOps.Reporting;

/// <summary>What Export-UpgradeReport renders: a rehearsal or an upgrade, and what else is known about it.</summary>
public sealed class UpgradeReportRequest
{
    /// <summary>A rehearsal's report (from Invoke-UpgradeRehearsal); give this or <see cref="Upgrade"/>.</summary>
    public RehearsalReport? Rehearsal { get; init; }
    /// <summary>An upgrade's result (from Invoke-Upgrade or Get-UpgradeHistory).</summary>
    public UpgradeResult? Upgrade { get; init; }
    /// <summary>A validation of the upgraded deployment (Test-PostUpgrade); a rehearsal carries its own.</summary>
    public ValidationReport? Validation { get; init; }
    public ReleaseNoteDocument? ReleaseNotes { get; init; }
    /// <summary>What users lose during the window (the profile's impacts).</summary>
    public IReadOnlyList<string> Impacts { get; init; } = Array.Empty<string>();
    public DateTimeOffset? MaintenanceStart { get; init; }
    /// <summary>Masks once more on the way out whatever secret a text might still hold.</summary>
    public SecretRedactor? Redactor { get; init; }
    public DateTimeOffset GeneratedAt { get; init; } = DateTimeOffset.Now;
}

/// <summary>
/// Renders a rehearsal or an upgrade as Markdown for a change ticket (summary, hops with timings, the release notes that
/// matter, validation, logs, rollback plan, window) and as a short notice for the users of the maintenance window. It
/// prints only what the report carries (already redacted) and masks the deployment's secrets once more.
/// </summary>
public static class UpgradeReportWriter
{
    /// <summary>The release-note categories a change ticket must show.</summary>
    public static readonly IReadOnlyList<ReleaseNoteCategory> CategoriesThatMatter =
        [ReleaseNoteCategory.BreakingChange, ReleaseNoteCategory.DatabaseMigration, ReleaseNoteCategory.ConfigurationChange];

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public const string UnsupportedInputErrorId = "UnsupportedReportInput";

    /// <summary>
    /// A request for what was piped in: a rehearsal report or an upgrade result, anything else refused with what to give
    /// instead. The impacts come from <paramref name="profile"/>, else the profile the upgrade's deployment was described
    /// with, else the built-in infrahub profile.
    /// </summary>
    public static UpgradeReportRequest RequestFor(object? input, string? profile, ValidationReport? validation, ReleaseNoteDocument? releaseNotes,
        DateTimeOffset? maintenanceStart)
    {
        var (rehearsal, upgrade) = input switch
        {
            RehearsalReport r => (r, (UpgradeResult?)null),
            UpgradeResult u => ((RehearsalReport?)null, u),
            _ => throw new UpgradeOpsException(UnsupportedInputErrorId, ErrorKind.InvalidArgument, input,
                "A report can be written of a rehearsal (UpgradeOps.RehearsalReport, from Invoke-UpgradeRehearsal) or of an upgrade " +
                "(UpgradeOps.UpgradeResult, from Invoke-Upgrade, Invoke-Rollback or Get-UpgradeHistory), not of " +
                $"{(input is null ? "nothing" : $"a {input.GetType().FullName}")}. Pipe one of those into Export-UpgradeReport."),
        };
        profile ??= (upgrade ?? rehearsal?.Upgrade)?.Deployment?.Profile ?? "infrahub";
        return new UpgradeReportRequest
        {
            Rehearsal = rehearsal, Upgrade = upgrade, Validation = validation, ReleaseNotes = releaseNotes, MaintenanceStart = maintenanceStart,
            Impacts = Profiles.ProfileLoader.Load(profile).Impacts, Redactor = RedactorFor(rehearsal, upgrade),
        };
    }

    /// <summary>"rehearsal ID (infrahub 1.5.2 → 1.7.6)": what a -WhatIf line names.</summary>
    public static string Describe(UpgradeReportRequest request)
    {
        var s = Subject.Of(request);
        return $"{s.Kind.ToLowerInvariant()} {s.Id} ({s.DeploymentName} {s.From} → {s.To})";
    }

    /// <summary>The change-ticket report.</summary>
    public static string Report(UpgradeReportRequest request)
    {
        var s = Subject.Of(request);
        var md = new StringBuilder();
        md.Append($"# {s.Kind} report: {s.DeploymentName} {s.From} → {s.To}\n\n");
        Summary(md, s, request);
        Timings(md, s);
        ReleaseNotes(md, s, request.ReleaseNotes);
        Validation(md, s.Validation ?? request.Validation);
        Logs(md, s);
        Rollback(md, s);
        Window(md, s, request);
        md.Append($"_Written by Export-UpgradeReport on {Time(request.GeneratedAt)}._\n");
        return Redact(md, request);
    }

    /// <summary>The notice for users: when, how long, what is unavailable.</summary>
    public static string Notice(UpgradeReportRequest request)
    {
        var s = Subject.Of(request);
        var md = new StringBuilder();
        md.Append($"# Maintenance notice: {s.DeploymentName}\n\n");
        md.Append($"{s.DeploymentName} will be upgraded from version {s.From} to {s.To}.\n\n");
        md.Append($"- When: {When(request.MaintenanceStart, s.Window)}\n");
        md.Append($"- How long: {HowLong(s.Window)}\n");
        md.Append("- What is unavailable:");
        if (request.Impacts.Count == 0) md.Append(" the service may be unavailable during the whole window.\n");
        else
        {
            md.Append('\n');
            foreach (var impact in request.Impacts) md.Append($"  - {Inline(impact)}\n");
        }
        md.Append("\nPlease finish or save your work before the window starts: requests and connections open at that time will be ended, " +
                  "and background tasks resume after the upgrade.\n");
        return Redact(md, request);
    }

    /// <summary>"start → end" of the window, or "to be announced" without a start.</summary>
    public static string When(DateTimeOffset? start, TimeSpan window)
    {
        if (start is not { } from) return "to be announced";
        if (window <= TimeSpan.Zero) return $"from {Time(from)} (end to be announced)";
        var to = from + RoundUp(window);
        var end = to.Date == from.Date ? to.ToString("HH:mm", Invariant) : to.ToString("yyyy-MM-dd HH:mm", Invariant);
        return $"{from.ToString("yyyy-MM-dd HH:mm", Invariant)} → {end} ({Offset(from)})";
    }

    /// <summary>
    /// The deployment's secrets, as its platform finds them at each location the report names (the copy's and the deployment's:
    /// a Compose deployment's .env; a Helm release's values are masked where each text was made).
    /// </summary>
    public static SecretRedactor RedactorFor(RehearsalReport? rehearsal, UpgradeResult? upgrade)
    {
        var platform = Platforms.DeploymentPlatforms.Of(rehearsal?.Platform ?? upgrade?.Deployment?.Platform ?? upgrade!.Platform);
        // A result read back from the journal (Get-UpgradeHistory, Import-Clixml) has no Deployment, but keeps its Location.
        var locations = new[] { rehearsal?.CopyLocation, rehearsal?.Upgrade?.Deployment?.Location, rehearsal?.Upgrade?.Location, upgrade?.Deployment?.Location, upgrade?.Location }
            .OfType<string>().Distinct();
        return new SecretRedactor(locations.SelectMany(platform.SecretsAt).ToList());
    }

    private static void Summary(StringBuilder md, Subject s, UpgradeReportRequest request)
    {
        md.Append("## Summary\n\n| | |\n|---|---|\n");
        Row(md, "Deployment", s.DeploymentName);
        Row(md, "Versions", $"{s.From} → {s.To}");
        Row(md, "Route", s.Route);
        Row(md, "Strategy", s.Strategy.ToString());
        Row(md, "Status", s.Status);
        Row(md, "When", $"{Time(s.Started)}, {Duration(s.Duration)}");
        Row(md, s.Kind, s.Id);
        if (request.Rehearsal is { } r) Row(md, "Copy", r.CopyName + (r.Kept && r.CopyLocation is not null ? $" (kept: {r.CopyLocation})" : " (removed)"));
        Row(md, "Backup", s.BackupId ?? "none");
        md.Append('\n');
        if (s.Error is not null) md.Append($"**Error**: {Inline(s.Error)}\n\n");
    }

    private static void Timings(StringBuilder md, Subject s)
    {
        md.Append("## Path and timings\n\n");
        if (s.Hops.Count == 0) md.Append("No hop was recorded.\n\n");
        else
        {
            md.Append("| Hop | Status | Duration | Migration | API unavailable |\n|---|---|---|---|---|\n");
            foreach (var hop in s.Hops)
                md.Append($"| {Cell($"{hop.From} → {hop.To}")} | {hop.Status} | {Duration(hop.Duration)} | {Duration(hop.Migration)} | {Duration(hop.ApiUnavailable)} |\n");
            md.Append('\n');
        }
        md.Append($"Measured API downtime: **{Duration(s.Downtime)}** (the API probed every 20 ms during the upgrade). Total: {Duration(s.Duration)}.\n\n");
        if (s.Steps.Count == 0) return;
        md.Append("### Steps\n\n| Step | Status | Started | Duration | Detail |\n|---|---|---|---|---|\n");
        foreach (var step in s.Steps)
            md.Append($"| {Cell(step.Name)} | {step.Status} | {(step.Started is { } t ? Time(t) : "")} | {Duration(step.Duration)} | {Cell(step.Detail)} |\n");
        md.Append('\n');
    }

    private static void ReleaseNotes(StringBuilder md, Subject s, ReleaseNoteDocument? document)
    {
        md.Append("## Release notes that matter\n\n");
        if (document is null)
        {
            md.Append($"No release notes were given. Read the breaking changes, database migrations and configuration changes after {s.From} up to {s.To} " +
                      "(Get-UpgradeReleaseNote), or export again with -ReleaseNotePath.\n\n");
            return;
        }
        if (!ProductVersion.TryParse(s.To, out var to))
        {
            md.Append($"'{Inline(s.To)}' is not a version, so no release notes could be selected.\n\n");
            return;
        }
        // An unreadable From lists the notes from the first release the document has.
        var from = ProductVersion.TryParse(s.From, out var parsed) ? parsed : null;
        var notes = document.Between(from, to!, CategoriesThatMatter.ToList());
        if (notes.Count == 0)
        {
            md.Append($"No breaking change, database migration or configuration change is listed after {s.From} up to {s.To} (source: {document.Source ?? "release notes"}).\n\n");
            return;
        }
        foreach (var category in CategoriesThatMatter)
        {
            var ofCategory = notes.Where(n => n.Category == category).ToList();
            if (ofCategory.Count == 0) continue;
            md.Append($"### {Heading(category)}\n\n");
            foreach (var note in ofCategory)
                md.Append($"- **{note.Version}**: {Inline(note.Text)}{(note.References.Count > 0 ? $" ({string.Join(", ", note.References)})" : "")}\n");
            md.Append('\n');
        }
    }

    private static void Validation(StringBuilder md, ValidationReport? validation)
    {
        md.Append("## Validation\n\n");
        if (validation is null)
        {
            md.Append("No validation was recorded: run Test-PostUpgrade and export again with -Validation.\n\n");
            return;
        }
        md.Append($"{(validation.Passed ? "Passed" : "**Failed**")}, checked {Time(validation.CheckedAt)}" +
                  (validation.ExpectedVersion is { } v ? $" for version {v}" : "") + ".\n\n");
        md.Append("| Check | Status | Detail |\n|---|---|---|\n");
        foreach (var check in validation.Checks)
            md.Append($"| {Cell(check.Name)} | {check.Status} | {Cell(check.Detail + (check.Status != CheckStatus.Passed && check.Remedy is { } r ? $" — {r}" : ""))} |\n");
        md.Append('\n');
    }

    private static void Logs(StringBuilder md, Subject s)
    {
        md.Append("## Logs\n\n");
        if (s.LogErrors.Count == 0 && s.LogWarnings.Count == 0 && s.MigrationOutput.Count == 0)
            md.Append(s.Kind == "Rehearsal" ? "No error or warning line in the copy's logs.\n\n" : "No log lines were recorded with this result.\n\n");
        Block(md, $"Errors in the logs ({s.LogErrors.Count})", s.LogErrors);
        Block(md, $"Warnings in the logs ({s.LogWarnings.Count})", s.LogWarnings);
        Block(md, "Migration output", s.MigrationOutput);
        List(md, "What went wrong", s.Errors);
        List(md, "To look at before the real upgrade", s.Warnings);
    }

    private static void Rollback(StringBuilder md, Subject s)
    {
        md.Append("## Rollback plan\n\n");
        md.Append(s.BackupId is null
            ? "No backup is recorded: take one (New-DeploymentBackup) and verify it (Test-DeploymentBackup -RestoreTest) before the window.\n\n"
            : $"Backup **{s.BackupId}**{(s.BackupPath is null ? "" : $" at `{s.BackupPath}`")}.\n\n");
        if (s.Restore is { } restore)
            md.Append($"The rehearsal restored this backup into its copy in **{Duration(restore)}**: a restore in the window takes about as long. " +
                      "The real upgrade rolls back to the backup taken just before it (Invoke-Upgrade -Backup $b -RollbackOnFailure does so by itself).\n\n");
        md.Append("If the upgrade fails or the validation does not pass:\n\n```powershell\n");
        md.Append($"$d = {DescribeCommand(s)}\n");
        md.Append(s.UpgradeId is { } id
            ? $"Invoke-Rollback -Deployment $d -UpgradeId {Quote(id)} -Force   # data, images and compose files, from the journal\n"
            : "Invoke-Rollback -Deployment $d -Force   # undoes the newest upgrade from its journal: data, images and compose files\n");
        if (Platforms.DeploymentPlatforms.Of(s.Platform).RestoresDataAlone && s.BackupPath is not null)
            md.Append($"Restore-DeploymentBackup -Path {Quote(s.BackupPath)} -Deployment $d -Force   # the data of this backup only\n");
        md.Append("```\n\n");
    }

    private static void Window(StringBuilder md, Subject s, UpgradeReportRequest request)
    {
        md.Append("## Maintenance window\n\n");
        md.Append(s.Window > TimeSpan.Zero ? $"Estimated window: **{HowLong(s.Window)}** ({Duration(s.Window)})" : "Estimated window: not measured");
        md.Append(s.WindowBasis is null ? ".\n" : $". Basis: {Inline(s.WindowBasis)}.\n");
        md.Append($"Planned: {When(request.MaintenanceStart, s.Window)}.\n\n");
    }

    private static string DescribeCommand(Subject s) => Platforms.DeploymentPlatforms.Of(s.Platform).DescribeCommand(s.Deployment, s.DeploymentName);

    private static void Row(StringBuilder md, string name, string? value) => md.Append($"| {name} | {Cell(value)} |\n");

    private static void Block(StringBuilder md, string title, IReadOnlyList<string> lines)
    {
        if (lines.Count == 0) return;
        var text = string.Join('\n', lines).TrimEnd();
        // A fence longer than any run of backticks in the text, so a log line cannot close it.
        var longest = 0;
        for (int i = 0, run = 0; i < text.Length; i++) longest = Math.Max(longest, run = text[i] == '`' ? run + 1 : 0);
        var fence = new string('`', Math.Max(3, longest + 1));
        md.Append($"### {title}\n\n{fence}text\n{text}\n{fence}\n\n");
    }

    private static void List(StringBuilder md, string title, IReadOnlyList<string> items)
    {
        if (items.Count == 0) return;
        md.Append($"### {title}\n\n");
        foreach (var item in items) md.Append($"- {Inline(item)}\n");
        md.Append('\n');
    }

    /// <summary>A Markdown table cell: pipes escaped, line breaks as &lt;br&gt;.</summary>
    public static string Cell(string? text) =>
        (text ?? "").Replace("|", "\\|").Replace("\r\n", "<br>").Replace('\r', '\n').Replace("\n", "<br>").Trim();

    /// <summary>One line of text: line breaks become spaces.</summary>
    private static string Inline(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string Quote(string text) => "'" + text.Replace("'", "''") + "'";

    private static string Heading(ReleaseNoteCategory category) => category switch
    {
        ReleaseNoteCategory.BreakingChange => "Breaking changes",
        ReleaseNoteCategory.DatabaseMigration => "Database migrations",
        ReleaseNoteCategory.ConfigurationChange => "Configuration changes",
        _ => category.ToString(),
    };

    /// <summary>"42.1 s", "3 min 05 s", "1 h 20 min".</summary>
    public static string Duration(TimeSpan span) => DurationText.Of(span);

    private static string HowLong(TimeSpan window)
    {
        if (window <= TimeSpan.Zero) return "to be announced";
        var minutes = (int)RoundUp(window).TotalMinutes;
        return minutes < 120 ? $"about {minutes} minute{(minutes == 1 ? "" : "s")}" : $"about {minutes / 60} h {minutes % 60:00} min";
    }

    private static TimeSpan RoundUp(TimeSpan window) => TimeSpan.FromMinutes(Math.Max(1, Math.Ceiling(window.TotalMinutes)));

    private static string Time(DateTimeOffset time) => $"{time.ToString("yyyy-MM-dd HH:mm", Invariant)} ({Offset(time)})";

    private static string Offset(DateTimeOffset time) =>
        time.Offset == TimeSpan.Zero ? "UTC" : "UTC" + (time.Offset < TimeSpan.Zero ? "-" : "+") + time.Offset.ToString("hh\\:mm", Invariant);

    private static string Redact(StringBuilder md, UpgradeReportRequest request) => request.Redactor?.Redact(md.ToString()) ?? md.ToString();

    /// <summary>A rehearsal and an upgrade, seen the same way.</summary>
    private sealed class Subject
    {
        public required string Kind { get; init; }
        public required string Id { get; init; }
        public required string DeploymentName { get; init; }
        public required string From { get; init; }
        public required string To { get; init; }
        public required string Route { get; init; }
        public UpgradeStrategy Strategy { get; init; }
        public required string Status { get; init; }
        public DateTimeOffset Started { get; init; }
        public TimeSpan Duration { get; init; }
        public required IReadOnlyList<RehearsalHop> Hops { get; init; }
        public IReadOnlyList<UpgradeStepResult> Steps { get; init; } = Array.Empty<UpgradeStepResult>();
        public TimeSpan Downtime { get; init; }
        public string? BackupId { get; init; }
        public string? BackupPath { get; init; }
        public TimeSpan? Restore { get; init; }
        public TimeSpan Window { get; init; }
        public string? WindowBasis { get; init; }
        public ValidationReport? Validation { get; init; }
        public IReadOnlyList<string> LogErrors { get; init; } = Array.Empty<string>();
        public IReadOnlyList<string> LogWarnings { get; init; } = Array.Empty<string>();
        public IReadOnlyList<string> MigrationOutput { get; init; } = Array.Empty<string>();
        public IReadOnlyList<string> Errors { get; init; } = Array.Empty<string>();
        public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
        public string? Error { get; init; }
        public Deployment? Deployment { get; init; }
        public required DeploymentPlatform Platform { get; init; }
        /// <summary>The upgrade Invoke-Rollback should undo; none for a rehearsal (the real upgrade has not run yet).</summary>
        public string? UpgradeId { get; init; }

        public static Subject Of(UpgradeReportRequest request)
        {
            if (request.Rehearsal is { } r)
                return new Subject
                {
                    Kind = "Rehearsal", Id = r.Id, DeploymentName = r.DeploymentName, From = r.From, To = r.To,
                    Route = r.Route ?? RouteOf(r.Hops, r.From), Strategy = r.Strategy, Status = Bold(r.Status.ToString(), r.Passed),
                    Started = r.Started, Duration = r.Duration, Hops = r.Hops, Steps = r.Upgrade?.Steps ?? [], Downtime = r.Downtime,
                    BackupId = r.BackupId, BackupPath = r.BackupPath, Restore = r.Restore, Window = r.EstimatedWindow, WindowBasis = r.EstimateBasis,
                    Validation = r.Validation ?? request.Validation, LogErrors = r.LogErrors, LogWarnings = r.LogWarnings,
                    MigrationOutput = r.Upgrade?.MigrationOutput ?? [], Errors = r.Errors, Warnings = r.Warnings,
                    Platform = r.Platform,
                };
            var u = request.Upgrade ?? throw new ArgumentException("A rehearsal or an upgrade is needed.", nameof(request));
            var hops = UpgradeHops.Of(u);
            return new Subject
            {
                Kind = u.Operation == "Rollback" ? "Rollback" : "Upgrade", Id = u.Id, DeploymentName = u.DeploymentName, From = u.From, To = u.To,
                Route = RouteOf(hops, u.From), Strategy = u.Strategy, Status = Bold(u.Status.ToString(), u.Status == UpgradeStatus.Succeeded),
                Started = u.Started, Duration = u.Duration, Hops = hops, Steps = u.Steps, Downtime = u.Downtime,
                BackupId = u.BackupId, BackupPath = u.BackupPath, Window = u.Duration,
                WindowBasis = $"the {u.Operation.ToLowerInvariant()} itself took {UpgradeReportWriter.Duration(u.Duration)} (measured){(u.BackupId is null ? "" : "; the backup before it is not included")}",
                Validation = request.Validation, MigrationOutput = u.MigrationOutput,
                Error = u.Error is null ? null : $"{u.ErrorId}: {u.Error}", Deployment = u.Deployment, Platform = u.Deployment?.Platform ?? u.Platform,
                UpgradeId = u.Operation == "Rollback" ? null : u.Id,
            };
        }

        private static string RouteOf(IReadOnlyList<RehearsalHop> hops, string from) =>
            hops.Count == 0 ? from : string.Join(" → ", new[] { hops[0].From }.Concat(hops.Select(h => h.To)));

        private static string Bold(string status, bool good) => good ? status : $"**{status}**";
    }
}

using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Hosting;
using UpgradeOps.Rehearsals;
using UpgradeOps.ReleaseNotes;

using UpgradeOps.Reporting;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Writes a Markdown report of a rehearsal or an upgrade for a change ticket, and a short notice for the users of the maintenance window.</para>
/// <para type="description">Export-UpgradeReport turns a rehearsal report (from Invoke-UpgradeRehearsal) or an upgrade result (from
/// Invoke-Upgrade, Invoke-Rollback or Get-UpgradeHistory) into a Markdown file with these sections: Summary (deployment, versions,
/// route, strategy, status, when); Path and timings (each hop's duration, migration time and API outage, the measured API downtime,
/// and every step); Release notes that matter (the breaking changes, database migrations and configuration changes of the versions
/// crossed, when -ReleaseNotePath is given); Validation (each check with its status and detail: the rehearsal's own, or
/// -Validation); Logs (error and warning lines, migration output, what went wrong); Rollback plan (the backup, the exact
/// Invoke-Rollback and Restore-DeploymentBackup commands, and the restore time the rehearsal measured); and Maintenance window (the
/// estimate and its basis).</para>
/// <para type="description">-NoticePath also writes a short notice for users: when (from -MaintenanceStart and the estimated window,
/// or "to be announced"), how long, and what is unavailable (the profile's impacts: API, background tasks, active connections).</para>
/// <para type="description">The texts come from the report, which holds only redacted text; the values of the deployment's .env are
/// masked once more on the way out, and no environment value is added. Each file is written beside its final name and renamed into
/// place, so no reader ever sees half a file; an existing file is replaced only with -Force, and a missing folder is an error, not
/// created. -WhatIf names the files it would write and writes none. The output is the FileInfo of each file written.</para>
/// </summary>
/// <example>
/// <code>$rehearsal = $b | Invoke-UpgradeRehearsal -To 1.7.6
/// $rehearsal | Export-UpgradeReport -Path ./CHG-1234.md -NoticePath ./notice.md -MaintenanceStart '2026-12-01 22:00 +01:00' -ReleaseNotePath ./CHANGELOG.md</code>
/// <para>Writes the change-ticket report of the rehearsal, with the breaking changes, migrations and configuration changes between the versions, and a notice announcing the window from 22:00 for as long as the rehearsal says it takes.</para>
/// </example>
/// <example>
/// <code>$result = $path | Invoke-Upgrade -Backup $b -RollbackOnFailure
/// $result | Export-UpgradeReport -Path ./upgrade-1.7.6.md -Validation ($result | Test-PostUpgrade) -Force</code>
/// <para>Records what the upgrade did, with its validation, for the change ticket; replaces a report of the same name.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeHistory -Deployment $d | Select-Object -First 1 | Export-UpgradeReport -Path ./last-upgrade.md -WhatIf</code>
/// <para>Shows which file would be written for the newest upgrade in the journal, and writes nothing.</para>
/// </example>
/// <returns>System.IO.FileInfo of the report, then of the notice when -NoticePath is given.</returns>
/// <seealso cref="TestUpgradePathCommand"/>
/// <seealso cref="TestUpgradeReadinessCommand"/>
/// <seealso cref="GetUpgradeReleaseNoteCommand"/>
/// <seealso href="about_UpgradeOps">about_UpgradeOps</seealso>
[Cmdlet(VerbsData.Export, "UpgradeReport", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(FileInfo))]
public sealed class ExportUpgradeReportCommand : EngineCmdlet
{
    private ReleaseNoteDocument? _releaseNotes;

    /// <summary>
    /// <para type="description">The rehearsal report (UpgradeOps.RehearsalReport, from Invoke-UpgradeRehearsal) or upgrade result (UpgradeOps.UpgradeResult, from Invoke-Upgrade, Invoke-Rollback or Get-UpgradeHistory) to report on. Anything else is refused with an UnsupportedReportInput error.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [Rehydrate(typeof(RehearsalReport), typeof(UpgradeResult))]
    public object? InputObject { get; set; }

    /// <summary>
    /// <para type="description">The Markdown file to write (for example CHG-1234.md). Its folder must exist; an existing file is replaced only with -Force.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string Path { get; set; } = "";

    /// <summary>
    /// <para type="description">Also write the notice for users of the maintenance window here: when, how long, what is unavailable. Its folder must exist; an existing file is replaced only with -Force.</para>
    /// </summary>
    [Parameter]
    public string? NoticePath { get; set; }

    /// <summary>
    /// <para type="description">When the maintenance window starts. The window ends after the estimated window of the rehearsal (or the duration of the upgrade). Without it the notice says "to be announced".</para>
    /// </summary>
    [Parameter]
    public DateTimeOffset? MaintenanceStart { get; set; }

    /// <summary>
    /// <para type="description">The product's release notes (a CHANGELOG.md or GitHub releases JSON file, as Get-UpgradeReleaseNote reads): their breaking changes, database migrations and configuration changes between the versions go into the report.</para>
    /// </summary>
    [Parameter]
    public string? ReleaseNotePath { get; set; }

    /// <summary>
    /// <para type="description">A validation of the upgraded deployment, from Test-PostUpgrade, to report with an upgrade result. A rehearsal report carries its own validation, which this replaces only when the rehearsal has none.</para>
    /// </summary>
    [Parameter]
    [Rehydrate(typeof(ValidationReport))]
    public ValidationReport? Validation { get; set; }

    /// <summary>
    /// <para type="description">The product profile whose impacts the notice lists: a built-in name or a profile YAML path. Default: the profile of the upgraded deployment when the input carries it, else infrahub.</para>
    /// </summary>
    [Parameter]
    public string? Profile { get; set; }

    /// <summary>
    /// <para type="description">Replace existing files, without a prompt.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing() => _releaseNotes = LoadReleaseNotes(ReleaseNotePath);

    protected override void ProcessRecord() => RunOrWriteError(() =>
    {
        var input = InputObject is PSObject wrapped ? wrapped.BaseObject : InputObject;
        var request = UpgradeReportWriter.RequestFor(input, Profile is null ? null : ResolveProfile(Profile), Validation, _releaseNotes, MaintenanceStart);
        var report = new OutputFile(SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path), "-Path", "Report", "the report", "upgrade-report.md");
        var notice = NoticePath is null ? null
            : new OutputFile(SessionState.Path.GetUnresolvedProviderPathFromPSPath(NoticePath), "-NoticePath", "Notice", "the notice", "maintenance-notice.md");
        if (notice is not null && string.Equals(notice.Path, report.Path, StringComparison.Ordinal))
            throw new UpgradeOpsException("NoticePathSameAsPath", ErrorKind.InvalidArgument, notice.Path,
                $"-Path and -NoticePath both name {report.Path}. Give the notice a file of its own, for example {System.IO.Path.ChangeExtension(report.Path, ".notice.md")}.");
        // Both files are checked before either is written, so a refusal leaves nothing half done.
        report.Check(Force);
        notice?.Check(Force);

        var subject = UpgradeReportWriter.Describe(request);
        if (ShouldChange(report.Path, $"Write the Markdown report of {subject} to {report.Path}.", "Write", Force))
        {
            report.WriteText(Force, UpgradeReportWriter.Report(request));
            WriteObject(WrittenFile(report.Path));
        }
        if (notice is not null && ShouldChange(notice.Path, $"Write the maintenance notice of {subject} to {notice.Path}.", "Write", Force))
        {
            notice.WriteText(Force, UpgradeReportWriter.Notice(request));
            WriteObject(WrittenFile(notice.Path));
        }
    });

    /// <summary>
    /// The file as Get-Item shows it: a bare FileInfo lacks the provider's notes, so its Size, mode and owner columns were
    /// empty in the default view.
    /// </summary>
    private PSObject WrittenFile(string path) => SessionState.InvokeProvider.Item.Get([path], force: true, literalPath: true)[0];
}

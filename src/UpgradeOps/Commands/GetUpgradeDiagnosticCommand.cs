using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Validation;

using UpgradeOps.Compose;

using UpgradeOps.Platforms;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Collects what troubleshooting a failed upgrade, a service that does not start or an incompatible configuration needs, and says what to do.</para>
/// <para type="description">Get-UpgradeDiagnostic reads a Compose deployment without changing it, through the Docker Engine API: for every
/// container of every service its state, health, exit code, restart count, start and finish times, and its last log lines (stdout and
/// stderr, with timestamps; -Tail, default 50; -Since). From the deployment's newest upgrade journal (or the one of -UpgradeId, or of the
/// UpgradeResult piped in) it takes the failed step, the error, its ErrorId and the migration output. When the newest journal is a
/// rollback that succeeded, the upgrade it undid is read instead, since that is the one that failed.</para>
/// <para type="description">It then matches known patterns against the log lines, the migration output and the error, and turns each
/// match into a finding with guidance. The patterns come from the product profile (its optional diagnostics.patterns section: id,
/// pattern as a regular expression, appliesTo logs, migration or error, severity, guidance) and from rules of its own: a variable a
/// configuration rule requires is missing from .env while the configured or target version needs it (add it with
/// Convert-UpgradeConfiguration, or Invoke-Upgrade -ConfigurationValue); a container exited with a non-zero code, restarts repeatedly, is
/// unhealthy, stopped or paused; a migration or another upgrade step failed (Invoke-Rollback, Invoke-Upgrade -Resume). Log lines of a
/// running container from before its latest start are shown but not matched: it has moved past them.</para>
/// <para type="description">Every text in the report and in the bundle is redacted with the values of the deployment's .env (secret
/// variables whatever their length, other values of six characters or more, except those that name the deployment: the Compose
/// project name, image, version, user, database, host and address variables). -OutFile writes a zip (report.json, logs/&lt;container&gt;.log,
/// journal.json) to hand to support: it is written beside its final name and renamed into place, and an existing file is replaced only
/// with -Force. -WhatIf returns the report and writes no file.</para>
/// <para type="description">On a Helm release (Get-UpgradeDeployment -Namespace -Release) it reads the same through the Kubernetes API: every
/// pod of the release's workloads as one entry (Service is the workload, Container the pod; State running, restarting for
/// CrashLoopBackOff, exited, or created; Health from the pod's readiness; the last run's exit code; restarts; the pod's last log
/// lines), the release's upgrade journal (the failed step and the migration Job's log), and the same findings. Texts are redacted
/// with the release's values. It reads only the Kubernetes API, never the product's own API, so it needs no -ApiEndpoint and opens
/// no port-forward. Verified against the tests' in-memory API server only.</para>
/// </summary>
/// <example>
/// <code>Get-UpgradeDeployment -ComposeFile /srv/infrahub/docker-compose.yml | Get-UpgradeDiagnostic</code>
/// <para>Shows the state of every container and the findings; `| Select-Object -ExpandProperty Findings | Format-List` shows the guidance in full.</para>
/// </example>
/// <example>
/// <code>$result = $path | Invoke-Upgrade -Backup $b -RollbackOnFailure
/// $result | Get-UpgradeDiagnostic -OutFile ./upgrade-diagnostic.zip</code>
/// <para>After a failed upgrade: the failed step, the error, the migration output and the containers' logs, with a redacted bundle for a support ticket.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeDiagnostic -Deployment $d -Service worker, server-a -Tail 20</code>
/// <para>Only the workers and the first API server, with their last 20 log lines (service names complete with Tab from $d).</para>
/// </example>
/// <example>
/// <code>$d | Get-UpgradeDiagnostic -Tail 200 -Since (Get-Date).AddMinutes(-30) | Select-Object -ExpandProperty Services | Where-Object State -ne 'running'</code>
/// <para>Lists the containers that are not running, with up to 200 log lines each from the last half hour.</para>
/// </example>
/// <returns>An UpgradeOps.DiagnosticReport: DeploymentName, CollectedAt, Version, Services (Service, Container, Image, State, Health, ExitCode, RestartCount, OomKilled, StartedAt, FinishedAt, LogTail), UpgradeId, Operation, UpgradeStatus, FailedStep, Error, ErrorId, MigrationOutput, Findings (Id, Severity, Source, Evidence, Guidance), HasErrors, JournalPath, OutFile.</returns>
/// <seealso cref="InvokeUpgradeCommand"/>
/// <seealso cref="InvokeRollbackCommand"/>
/// <seealso cref="GetUpgradeHistoryCommand"/>
[Cmdlet(VerbsCommon.Get, "UpgradeDiagnostic", DefaultParameterSetName = DeploymentSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(DiagnosticReport))]
public sealed class GetUpgradeDiagnosticCommand : EngineCmdlet
{
    private const string DeploymentSet = "Deployment";
    private const string ResultSet = "Result";

    /// <summary>
    /// <para type="description">The deployment, from Get-UpgradeDeployment. With -Result it is optional: the result's own Deployment, or its journal's compose file and profile, are used.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = DeploymentSet, ValueFromPipeline = true)]
    [Parameter(ParameterSetName = ResultSet)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">An upgrade or rollback result (from Invoke-Upgrade, Invoke-Rollback or Get-UpgradeHistory): its journal is the one read.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = ResultSet, ValueFromPipeline = true)]
    [Rehydrate(typeof(UpgradeResult))]
    public UpgradeResult? Result { get; set; }

    /// <summary>
    /// <para type="description">The upgrade or rollback whose journal to read (an UpgradeResult's Id, as Get-UpgradeHistory lists them). Default: the newest; when that is a successful rollback, the upgrade it undid.</para>
    /// </summary>
    [Parameter(ParameterSetName = DeploymentSet)]
    public string? UpgradeId { get; set; }

    /// <summary>
    /// <para type="description">How many log lines to keep per container, the newest.</para>
    /// <para type="default">50</para>
    /// </summary>
    [Parameter]
    [ValidateRange(1, 100000)]
    public int Tail { get; set; } = 50;

    /// <summary>
    /// <para type="description">Only log lines written at or after this time (local time unless it says otherwise).</para>
    /// </summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>
    /// <para type="description">Also write a zip bundle here: report.json, logs/&lt;container&gt;.log per container and journal.json, all redacted. An existing file is not replaced without -Force.</para>
    /// </summary>
    [Parameter]
    public string? OutFile { get; set; }

    /// <summary>
    /// <para type="description">Replace an existing -OutFile, without a prompt.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>
    /// <para type="description">Only these services (compose service names, or a Helm release's workload names, as in the deployment's Services). Default: every service.</para>
    /// </summary>
    [Parameter]
    [ArgumentCompleter(typeof(Completion.ServiceNameCompleter))]
    public string[] Service { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord() => RunOrWriteError(() =>
    {
        var outFile = OutFile is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(OutFile);
        if (outFile is not null) DiagnosticBundle.CheckTarget(outFile, Force);
        var request = new DiagnosticRequest
        {
            Deployment = Deployment ?? Result?.Deployment,
            UpgradeId = Result is null ? UpgradeId : null,
            JournalPath = Result?.JournalPath,
            Tail = Tail,
            Services = Service,
            Since = Since is { } since ? new DateTimeOffset(since.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(since, DateTimeKind.Local) : since) : null,
        };
        if (Result is not null && request.JournalPath is null)
            request = new DiagnosticRequest { Deployment = request.Deployment, UpgradeId = Result.Id, Tail = request.Tail, Since = request.Since, Services = Service };
        if (request.Deployment is null && request.JournalPath is null)
            ThrowEngineError(new UpgradeOpsException("DeploymentRequired", ErrorKind.InvalidArgument, Result,
                "This result names no journal to find its deployment from. Give -Deployment (from Get-UpgradeDeployment)."));

        var report = RunEngine(context => Validation.Diagnostics.CollectAsync(request, context));
        if (outFile is not null &&
            ShouldChange(outFile, $"Write the diagnostic bundle of '{report.DeploymentName}' (report.json, {report.Services.Count} container logs, journal.json; redacted) to {outFile}.",
                "Write", Force))
        {
            DiagnosticBundle.Write(report, outFile, Force);
            WriteVerbose($"Diagnostic bundle written to {report.OutFile}");
        }
        WriteObject(report);
    });
}

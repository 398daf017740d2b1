using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Validation;
using UpgradeOps.Commands.Completion;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Proves that an upgraded deployment works: version, health, GraphQL, artifacts, Git sync, logs and latency.</para>
/// <para type="description">Test-PostUpgrade runs the validation steps of the upgrade guide against a deployment, in parallel, each with its
/// own timeout, so one failing check never hides another:</para>
/// <para type="description">ApiVersion: the info endpoint and the GraphQL version query both report the expected version (-ExpectedVersion, the
/// upgrade's target version when an UpgradeResult comes down the pipeline, else the version the compose file names).
/// ServiceHealth: every service runs, healthy, with the number of containers the profile expects.
/// GraphQL: the profile's smoke queries answer with data and no errors.
/// ArtifactGeneration: a known artifact is regenerated and completes with a checksum.
/// GitSync: each repository is synchronised and reaches in-sync on the commit its remote has (read from inside a worker).
/// Logs: every container's log since the upgrade started (or -Since) holds none of the profile's error patterns; the
/// first matching lines are shown with secrets masked.
/// Performance: the p50 and p95 latency of the profile's requests, compared with a baseline taken before the upgrade
/// (-Baseline, or the Baseline of the UpgradeResult; Invoke-Upgrade takes one); a Warning above the profile's threshold.</para>
/// <para type="description">ArtifactGeneration and GitSync ask the product to do real work (regenerate one artifact, sync the repositories),
/// as the guide's validation does. Leave them out with -Check when that is not wanted. They need an account on the product: when
/// the profile names one (api.tokenHeader, api.tokenVariable; Infrahub: X-INFRAHUB-KEY with INFRAHUB_INITIAL_ADMIN_TOKEN of the
/// server), the token is read from the API service's container and sent with every request, never shown. Checks a profile does not
/// declare are Skipped. With -CaptureBaseline nothing is checked: the latencies are measured and returned as the
/// baseline for a later run.</para>
/// <para type="description">On a Helm release (Get-UpgradeDeployment -Namespace -Release) the same checks run on its pods: ServiceHealth from
/// each workload's pods (Running and Ready, restarts, exit codes), GitSync's expected commit through pod exec in a ready worker pod,
/// Logs from the pods' logs through the Kubernetes API. The API checks reach the release's API through a port-forward that
/// Test-PostUpgrade opens itself through the Kubernetes API (as 'kubectl port-forward' does, over WebSockets) to a ready pod of the
/// workload that plays the profile's API (its api.service, else a service of role Api, by kubernetesWorkload), on the pod's port
/// that is the profile's api.port, else the container port named http; it listens on 127.0.0.1 on a free port for the duration of
/// the command only and is closed when it ends, fails or is stopped (-Verbose names the pod and port). Your identity needs
/// pods/portforward in the namespace. When the forward cannot be made (no ready pod: ApiPodNotReady; no workload plays the API:
/// ApiWorkloadNotFound; the API refuses: PortForwardRefused; nothing answers on the port: PortForwardFailed) the API checks fail with
/// that ErrorId and the other checks still run. -ApiEndpoint (an ingress URL) replaces the port-forward. Verified against the tests'
/// in-memory API server only, never a real cluster.</para>
/// </summary>
/// <example>
/// <code>$d | Test-UpgradePath -To 1.7.6 | Invoke-Upgrade -Backup $b -RollbackOnFailure | Test-PostUpgrade</code>
/// <para>Upgrades and validates in one pipeline: the expected version, the start of the log scan and the latency baseline come from the upgrade result.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeDeployment -Namespace infrahub -Release infrahub | Test-PostUpgrade -Verbose</code>
/// <para>Validates a Helm release; its API is reached through a port-forward to a ready API pod, opened and closed by the command (Verbose says which pod and port).</para>
/// </example>
/// <example>
/// <code>Get-UpgradeDeployment -Namespace infrahub -Release infrahub | Test-PostUpgrade -ApiEndpoint https://infrahub.example.com</code>
/// <para>Validates a Helm release through its ingress instead of a port-forward.</para>
/// </example>
/// <example>
/// <code>$before = $d | Test-PostUpgrade -CaptureBaseline
/// # ... upgrade by hand ...
/// $d | Test-PostUpgrade -ExpectedVersion 1.7.6 -Baseline $before</code>
/// <para>Measures latency before a manual upgrade and compares with it afterwards.</para>
/// </example>
/// <example>
/// <code>$report = $d | Test-PostUpgrade -Check ApiVersion, ServiceHealth, Logs
/// if (-not $report.Passed) { $report.Checks | Where-Object Status -eq Failed | Format-List Name, Detail, Remedy }</code>
/// <para>Runs only the read-only checks and prints what failed with the remedy.</para>
/// </example>
/// <returns>An UpgradeOps.ValidationReport (DeploymentName, ExpectedVersion, Passed, Checks with Name, Status, Detail, ErrorId, Remedy, Duration; Performance), or with -CaptureBaseline an UpgradeOps.PerformanceBaseline.</returns>
/// <seealso cref="InvokeUpgradeCommand"/>
/// <seealso cref="TestUpgradeReadinessCommand"/>
[Cmdlet(VerbsDiagnostic.Test, "PostUpgrade", DefaultParameterSetName = DeploymentSet)]
[OutputType(typeof(ValidationReport), ParameterSetName = new[] { DeploymentSet, ResultSet })]
[OutputType(typeof(PerformanceBaseline), ParameterSetName = new[] { BaselineSet })]
public sealed class TestPostUpgradeCommand : EngineCmdlet
{
    private const string DeploymentSet = "Deployment";
    private const string ResultSet = "UpgradeResult";
    private const string BaselineSet = "CaptureBaseline";

    /// <summary>
    /// <para type="description">The deployment to validate, from Get-UpgradeDeployment.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = DeploymentSet)]
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = BaselineSet)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The result of Invoke-Upgrade: its deployment, target version, start time and latency baseline are used.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ResultSet)]
    [Rehydrate(typeof(UpgradeResult))]
    public UpgradeResult? UpgradeResult { get; set; }

    /// <summary>
    /// <para type="description">The version the API must report. Default: the upgrade's target, else the version the compose file names.</para>
    /// </summary>
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = ResultSet)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string? ExpectedVersion { get; set; }

    /// <summary>
    /// <para type="description">Latencies from before the upgrade (Test-PostUpgrade -CaptureBaseline). Default: the UpgradeResult's Baseline.</para>
    /// </summary>
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = ResultSet)]
    [Rehydrate(typeof(PerformanceBaseline))]
    public PerformanceBaseline? Baseline { get; set; }

    /// <summary>
    /// <para type="description">Run only these checks; the others are in the report as Skipped, saying they were not asked for. Default: all.</para>
    /// </summary>
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = ResultSet)]
    [ValidateSet("ApiVersion", "ServiceHealth", "GraphQL", "ArtifactGeneration", "GitSync", "Logs", "Performance")]
    public string[] Check { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">Scan the logs from this moment. Default: the start of the upgrade (of an upgrade that was rolled back: the end of its rollback), else the start of the newest product container.</para>
    /// </summary>
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = ResultSet)]
    public DateTimeOffset? Since { get; set; }

    /// <summary>
    /// <para type="description">How long each check may take. Default: the profile's validation.checkTimeoutSeconds (60 s).</para>
    /// </summary>
    [Parameter(ParameterSetName = DeploymentSet)]
    [Parameter(ParameterSetName = ResultSet)]
    public TimeSpan? CheckTimeout { get; set; }

    /// <summary>
    /// <para type="description">The API's base URL, without a user name or password, when the one found from the profile is not reachable from here (e.g. http://127.0.0.1:8000). Optional on a Helm release: without it the API is reached through a port-forward to a ready API pod that the command opens and closes itself; with it (an ingress URL) no port-forward is opened.</para>
    /// </summary>
    [Parameter]
    public string? ApiEndpoint { get; set; }

    /// <summary>
    /// <para type="description">Measure the latency of the profile's requests and return it as a baseline, without checking anything.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = BaselineSet)]
    public SwitchParameter CaptureBaseline { get; set; }

    protected override void BeginProcessing() => CheckParameters(() =>
    {
        if (CheckTimeout is { } timeout) ParameterChecks.Positive(nameof(CheckTimeout), timeout);
        if (ExpectedVersion is not null) Versioning.ProductVersion.Parse(ExpectedVersion);
        ParameterChecks.ApiEndpoint(ApiEndpoint);
    });

    protected override void ProcessRecord()
    {
        if (CaptureBaseline)
        {
            // No API to measure (none known, or a Helm release's port-forward failed) is an ErrorRecord for this deployment.
            RunEngineOrWriteError(context => PostUpgradeValidator.CaptureBaselineAsync(Deployment!, ApiEndpoint, context), baseline => WriteObject(baseline));
            return;
        }
        var deployment = Deployment ?? UpgradeResult!.Deployment;
        if (deployment is null)
        {
            ThrowEngineError(new UpgradeOpsException("DeploymentUnknown", ErrorKind.InvalidArgument, UpgradeResult,
                $"The upgrade result {UpgradeResult!.Id} does not carry its deployment (it was read from history). Pipe the deployment instead: " +
                "Get-UpgradeDeployment ... | Test-PostUpgrade -ExpectedVersion " + UpgradeResult.To));
            return;
        }
        var request = new ValidationRequest
        {
            Deployment = deployment,
            ExpectedVersion = ExpectedVersion ?? ValidationRequest.ExpectedAfter(UpgradeResult),
            Baseline = Baseline ?? UpgradeResult?.Baseline,
            Checks = Check,
            Since = Since ?? ValidationRequest.LogsSince(UpgradeResult),
            ApiEndpoint = ApiEndpoint,
            CheckTimeout = CheckTimeout,
        };
        RunEngineOrWriteError(context => PostUpgradeValidator.ValidateAsync(request, context), report => WriteObject(report));
    }
}

using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.ReleaseNotes;
using UpgradeOps.Hosting;
using UpgradeOps.Versioning;
using UpgradeOps.Commands.Completion;

using UpgradeOps.Planning;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Checks whether an upgrade from one version to another is supported and plans its hops.</para>
/// <para type="description">Test-UpgradePath applies the upgrade guide's version rules from the product profile: a patch
/// upgrade or an upgrade to the next minor version is direct; an upgrade that skips minor versions goes one hop at a
/// time through the latest patch of each minor version in between; a major upgrade is a hop of its own, marked
/// RequiresMigration and carrying the profile's migration notes (a hop whose release notes hold a DatabaseMigration entry is
/// marked RequiresMigration too, with those entries as its MigrationNotes); a downgrade, an unknown target or a pre-release
/// (without -AllowPrerelease) is not supported, and the Reason says what to do instead (for a downgrade: restore the
/// backup taken before the upgrade).</para>
/// <para type="description">The result is an UpgradeOps.UpgradePath object, never an exception, for a path that is
/// merely unsupported: check its IsSupported property in scripts. Each step has its kind and a time estimate
/// (patch 5-10 minutes, minor 10-30, major 30-60 for the built-in Infrahub profile, more when the database size is
/// known); EstimatedDowntime adds them up and Impacts lists what users lose during the window.</para>
/// <para type="description">With -Rehearsal (a report from Invoke-UpgradeRehearsal that passed for the same versions), the path carries the
/// measured figures besides the estimates: MeasuredWindow, MeasuredDowntime, RehearsalId, and MeasuredDuration on each hop the
/// rehearsal ran; the Reason says the window was measured and by which rehearsal.</para>
/// <para type="description">Known releases come from the profile's catalog, from -AvailableVersion and from release
/// notes (-ReleaseNotePath or -ReleaseNoteUri); when release notes are given, each step carries the notes of the
/// versions it crosses; when they do not cover the path (they stop before its target, or begin after its start), a warning
/// names the first and last version they have, so an empty ReleaseNotes is not read as "nothing to review". The command reads
/// only; it changes nothing and uses the network only for -ReleaseNoteUri.</para>
/// <para type="description">On a Helm release (Get-UpgradeDeployment -Namespace -Release) whose profile lists its chart versions
/// (version.helmCharts: each chart version with the appVersion it ships, and the app versions it installs through the image-tag
/// values key), every hop also carries the chart version to install: ToChartVersion, the newest listed chart that installs the
/// hop's app version, and FromChartVersion, the chart before it (the release's chart for the first hop); the path has
/// FromChartVersion, ToChartVersion and ChartRoute. Invoke-Upgrade installs each hop's chart version unless -ChartVersion is given.
/// The target can be given as a chart version with -ToChartVersion: the path goes to the app version that chart ships (with -To
/// as well, to that app version on that chart), and the last hop installs it; the same app version on a newer chart is a
/// chart-only hop, and a chart older than the release's is not supported (roll back instead). A hop that moves the chart to a
/// new major version, or across a chart version a configuration rule starts at, has ChartNotes and a warning. An app version no
/// listed chart installs is the error NoChartForVersion, a chart version the profile does not list ChartVersionNotMapped; both
/// say what to add to the profile. Without version.helmCharts, and on Compose, the path is planned as before.</para>
/// </summary>
/// <example>
/// <code>Test-UpgradePath -From 1.5.2 -To 1.7.6 -AvailableVersion 1.6.0,1.6.3,1.7.0,1.7.6</code>
/// <para>Plans 1.5.2 → 1.6.3 → 1.7.6: minor 1.6 is skipped, so the upgrade goes through its latest patch first.</para>
/// </example>
/// <example>
/// <code>Test-UpgradePath -From 1.7.6 -To 1.7.5</code>
/// <para>Returns IsSupported = False with a Reason that explains downgrades are refused and a backup must be restored instead.</para>
/// </example>
/// <example>
/// <code>$d = Get-UpgradeDeployment -ComposeFile ./docker-compose.yml
/// $d | Test-UpgradePath -To 2.0.0 -ReleaseNotePath ./CHANGELOG.md | Format-List *</code>
/// <para>Plans the path for a running deployment, with the release notes of each hop attached.</para>
/// </example>
/// <example>
/// <code>$d | Test-UpgradePath -To 1.7.6 -Rehearsal $rehearsal | Select-Object Route, EstimatedDowntime, MeasuredWindow, MeasuredDowntime, RehearsalId</code>
/// <para>Plans the path with the window and downtime that the rehearsal measured on a copy, next to the profile's estimate.</para>
/// </example>
/// <example>
/// <code>$release = Get-UpgradeDeployment -Namespace sandbox -Release sbx -Profile ./profile.yml
/// $release | Test-UpgradePath -To 1.7.6 | Select-Object -ExpandProperty Steps</code>
/// <para>Plans a Helm release's upgrade: each hop shows the chart version it installs (Chart column), taken from the profile's version.helmCharts.</para>
/// </example>
/// <example>
/// <code>$release = Get-UpgradeDeployment -Namespace infrahub -Release infrahub -Profile ./infrahub-charts.yml
/// $release | Test-UpgradePath -ToChartVersion 4.1.13 | Invoke-Upgrade -Chart infrahub/infrahub -Backup $b</code>
/// <para>Upgrades the release to the app version chart 4.1.13 ships, installing on each hop the chart version the path gives it. The profile (here a copy of the built-in one) must list the charts in version.helmCharts, for example 4.1.13 with appVersion 1.1.8.</para>
/// </example>
/// <returns>One UpgradeOps.UpgradePath per input: IsSupported, Reason, Steps (From, To, Kind, RequiresMigration, EstimatedMinutes, MeasuredDuration, ReleaseNotes, FromChartVersion, ToChartVersion, ChartNotes), EstimatedDowntime, MeasuredWindow, MeasuredDowntime, RehearsalId, Impacts, FromChartVersion, ToChartVersion, ChartRoute.</returns>
/// <seealso cref="GetUpgradeReleaseNoteCommand"/>
/// <seealso href="about_UpgradeOps">about_UpgradeOps</seealso>
[Cmdlet(VerbsDiagnostic.Test, "UpgradePath", DefaultParameterSetName = DeploymentSet)]
[OutputType(typeof(UpgradePath))]
public sealed class TestUpgradePathCommand : EngineCmdlet
{
    private const string VersionsSet = "Versions";
    private const string DeploymentSet = "Deployment";
    private const string VersionsChartSet = "VersionsChart";
    private const string DeploymentChartSet = "DeploymentChart";
    private ReleaseNoteDocument? _releaseNotes;

    /// <summary>
    /// <para type="description">The version running now, such as 1.5.2 or v1.5.2. Binds from the From, Version or CurrentVersion property of piped objects.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = VersionsSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = VersionsChartSet)]
    [Alias("Version", "CurrentVersion")]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string From { get; set; } = "";

    /// <summary>
    /// <para type="description">The version to upgrade to, a full semantic version such as 1.7.6. With -ToChartVersion it is optional: the app version to install with that chart.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = VersionsSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = DeploymentSet)]
    [Parameter(Position = 1, ParameterSetName = VersionsChartSet)]
    [Parameter(Position = 1, ParameterSetName = DeploymentChartSet)]
    [Alias("TargetVersion")]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string To { get; set; } = "";

    /// <summary>
    /// <para type="description">Helm: the target as a chart version, such as 4.1.13, which the profile's version.helmCharts must list. The path goes to the app version that chart ships, and its last hop installs this chart; with -To as well, to that app version on this chart (the chart must install it). The same app version on a newer chart is a chart-only hop. A chart the profile does not list is the error ChartVersionNotMapped; on a Compose deployment ChartVersionNotApplicable.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = VersionsChartSet)]
    [Parameter(Mandatory = true, ParameterSetName = DeploymentChartSet)]
    public string? ToChartVersion { get; set; }

    /// <summary>
    /// <para type="description">A deployment from Get-UpgradeDeployment; its version, profile and database size are used, and on a Helm release its chart version (the first hop's FromChartVersion).</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = DeploymentSet, ValueFromPipeline = true)]
    [Parameter(Mandatory = true, ParameterSetName = DeploymentChartSet, ValueFromPipeline = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The product profile: a built-in name (infrahub) or the path of a profile YAML file. Default: the deployment's profile, else infrahub.</para>
    /// <para type="default">infrahub</para>
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Profile { get; set; }

    /// <summary>
    /// <para type="description">Released versions of the product, added to the profile's catalog and to the release notes, to find the latest patch of each minor version.</para>
    /// </summary>
    [Parameter]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string[] AvailableVersion { get; set; } = Array.Empty<string>();

    /// <summary>
    /// <para type="description">A CHANGELOG.md (Keep a Changelog or towncrier) or GitHub releases JSON file whose versions are known releases and whose notes are attached to each step.</para>
    /// </summary>
    [Parameter]
    public string? ReleaseNotePath { get; set; }

    /// <summary>
    /// <para type="description">The URL of release notes (a raw CHANGELOG.md or the GitHub releases API); the only time this command uses the network.</para>
    /// </summary>
    [Parameter]
    public Uri? ReleaseNoteUri { get; set; }

    /// <summary>
    /// <para type="description">Allows a pre-release (such as 2.0.0-rc.1) as the target and as a hop.</para>
    /// </summary>
    [Parameter]
    public SwitchParameter AllowPrerelease { get; set; }

    /// <summary>
    /// <para type="description">The size of the product's databases in bytes, when no deployment gives it; migrating steps take longer on larger databases.</para>
    /// </summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long? DatabaseSize { get; set; }

    /// <summary>
    /// <para type="description">A rehearsal of this upgrade, from Invoke-UpgradeRehearsal. When it passed and went from the same version to the same target, the path carries what it measured: MeasuredWindow, MeasuredDowntime and RehearsalId, and each hop its MeasuredDuration; the Reason says the figure was measured. A rehearsal of other versions gives only the hops it ran, and a warning.</para>
    /// </summary>
    [Parameter]
    [Rehydrate(typeof(RehearsalReport))]
    public RehearsalReport? Rehearsal { get; set; }

    protected override void BeginProcessing() => _releaseNotes = LoadReleaseNotes(ReleaseNotePath, ReleaseNoteUri);

    protected override void ProcessRecord()
    {
        var from = Deployment is not null ? Deployment.Version : From;
        if (Deployment is not null && string.IsNullOrEmpty(from))
        {
            WriteEngineError(new UpgradeOpsException("DeploymentVersionUnknown", ErrorKind.InvalidData, Deployment,
                $"The version of deployment '{Deployment.Name}' is not known, so no path can be planned from it. Run Get-UpgradeDeployment again, or give -From."));
            return;
        }

        RunEngineOrWriteError(context => Task.FromResult(UpgradePathService.Test(new UpgradePathRequest
            {
                From = from!,
                To = To,
                ToChartVersion = ToChartVersion,
                Profile = ResolveProfile(Profile ?? Deployment?.Profile ?? "infrahub"),
                AvailableVersions = AvailableVersion,
                ReleaseNotes = _releaseNotes,
                AllowPrerelease = AllowPrerelease,
                Deployment = Deployment,
                DatabaseSizeBytes = DatabaseSize,
                Rehearsal = Rehearsal,
            }, context)),
            path =>
            {
                foreach (var warning in path.Warnings) WriteWarning(warning);
                WriteObject(path);
            });
    }
}

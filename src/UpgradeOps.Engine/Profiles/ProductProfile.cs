namespace UpgradeOps.Profiles;

/// <summary>
/// A product profile: what the services are, where the version lives, the version policy, how data is
/// backed up, which migrations and checks apply. Loaded from YAML by <see cref="ProfileLoader"/>.
/// Property names map to camelCase YAML keys.
/// </summary>
public sealed class ProductProfile
{
    /// <summary>The backup component that holds the kubernetesResources (a data store may not take its name).</summary>
    public const string KubernetesResourcesComponent = "resources";

    public int SchemaVersion { get; set; } = 1;
    public string Name { get; set; } = "";
    public string? DisplayName { get; set; }
    /// <summary>Where the profile came from: "builtin:infrahub" or a full path. Set by the loader, not a key of the file.</summary>
    [YamlDotNet.Serialization.YamlIgnore]
    public string Source { get; set; } = "";
    public List<ServiceDefinition> Services { get; set; } = new();
    public VersionLocation Version { get; set; } = new();
    public VersionPolicy VersionPolicy { get; set; } = new();
    /// <summary>Released versions the profile knows of; -AvailableVersion and release notes add to it.</summary>
    public List<string> Catalog { get; set; } = new();
    public EstimateTable Estimates { get; set; } = new();
    public List<string> Impacts { get; set; } = new();
    public ApiDefinition Api { get; set; } = new();
    /// <summary>What Test-PostUpgrade and Test-UpgradeReadiness ask of the product beyond its API definition.</summary>
    public ValidationDefinition Validation { get; set; } = new();
    public List<DataStoreDefinition> DataStores { get; set; } = new();
    /// <summary>Helm: the ConfigMaps and Secrets a backup keeps (Secrets' values only when it is encrypted) and a restore re-applies.</summary>
    public List<KubernetesResourceReference> KubernetesResources { get; set; } = new();
    public MigrationDefinition Migration { get; set; } = new();
    public List<ConfigurationRule> ConfigurationRules { get; set; } = new();
    /// <summary>Known log and error patterns Get-UpgradeDiagnostic turns into guidance (optional).</summary>
    public DiagnosticsDefinition Diagnostics { get; set; } = new();
    /// <summary>How Invoke-UpgradeRehearsal makes a disposable copy of a deployment (optional).</summary>
    public RehearsalDefinition Rehearsal { get; set; } = new();
    public RollingDefinition Rolling { get; set; } = new();

    public override string ToString() => Name;
}

/// <summary>The Rolling strategy (Invoke-Upgrade -Strategy Rolling on Compose).</summary>
public sealed class RollingDefinition
{
    /// <summary>
    /// How long a replaced API server must stay healthy before the next one is stopped: a load balancer that saw it fail
    /// keeps it out of rotation for a while (nginx's fail_timeout), and stopping the last server in rotation then fails
    /// every request. Kubernetes calls this minReadySeconds.
    /// </summary>
    public int MinReadySeconds { get; set; }
}

public sealed class RehearsalDefinition
{
    /// <summary>
    /// Ports the deployment listens on that a copy must not share (host networking): each gets a free one, replaced wherever
    /// it appears in the copy's environment, command and healthcheck. Published host ports, the API port and data-store ports
    /// are added without being listed.
    /// </summary>
    public List<int> Ports { get; set; } = new();
    /// <summary>The measured window is multiplied by this to plan the real one (the real machine and day differ).</summary>
    public double WindowSafetyFactor { get; set; } = 1.5;
}


public sealed class ServiceDefinition
{
    /// <summary>Logical name; also the compose service and workload name unless those are given.</summary>
    public string Name { get; set; } = "";
    public ServiceRole Role { get; set; } = ServiceRole.Other;
    public string? ComposeService { get; set; }
    public string? KubernetesWorkload { get; set; }
    /// <summary>
    /// Helm: the labels that say a Deployment/StatefulSet plays this service, on its pod template (or on itself). Matched
    /// before any kubernetesWorkload name, because a chart's own labels survive fullnameOverride and subchart naming.
    /// </summary>
    public KubernetesSelector? KubernetesSelector { get; set; }

    /// <summary>How this service's workload is found on a Helm release, for messages.</summary>
    public string DescribeKubernetesMatch() => (KubernetesSelector, KubernetesWorkload) switch
    {
        ({ } selector, { } workload) => $"labels {selector}, else the name {workload}",
        ({ } selector, null) => $"labels {selector}",
        (null, { } workload) => workload,
        _ => "no kubernetesWorkload or kubernetesSelector",
    };
    /// <summary>Whether the service runs the product image (and so changes version on upgrade).</summary>
    public bool ProductImage { get; set; }
    public int? Replicas { get; set; }
    public bool Optional { get; set; }
}

/// <summary>A Kubernetes label selector as a profile gives it: equality on every pair (matchExpressions are not read).</summary>
public sealed class KubernetesSelector
{
    public Dictionary<string, string> MatchLabels { get; set; } = new();

    public override string ToString() => string.Join(",", MatchLabels.Select(p => $"{p.Key}={p.Value}"));
}

public sealed class VersionLocation
{
    /// <summary>The .env variable that holds the version, used as ${VAR:-default} in the image reference.</summary>
    public string? EnvironmentVariable { get; set; }
    /// <summary>The service whose image tag is the product version.</summary>
    public string? Service { get; set; }
    /// <summary>Helm: the values key that overrides the image tag (dotted path).</summary>
    public string? HelmValuesKey { get; set; }
    /// <summary>Helm: whether the chart's appVersion is the product version.</summary>
    public bool HelmAppVersion { get; set; } = true;
    /// <summary>
    /// Helm: the chart versions and the app versions each one installs. When given, Test-UpgradePath gives every hop of a
    /// Helm release the chart version to install, and accepts a target given as a chart version.
    /// </summary>
    public List<HelmChartVersion> HelmCharts { get; set; } = new();
}

/// <summary>One chart version, as `helm search repo CHART --versions` lists it: its version and the appVersion it ships.</summary>
public sealed class HelmChartVersion
{
    /// <summary>The chart's version (Chart.yaml version).</summary>
    public string Version { get; set; } = "";
    /// <summary>The app version the chart ships (Chart.yaml appVersion); a target given as this chart version upgrades to it.</summary>
    public string AppVersion { get; set; } = "";
    /// <summary>Other app versions the chart installs through version.helmValuesKey (the image tag), as a range such as "&gt;=1.6.4 &lt;=2.0.0".</summary>
    public string? AppVersionRange { get; set; }
}

public sealed class VersionPolicy
{
    /// <summary>How many minors one hop may advance (Infrahub: 1, upgrades only from the previous minor).</summary>
    public int MaxMinorStep { get; set; } = 1;
    /// <summary>A major upgrade starts from the latest release of the previous major.</summary>
    public bool MajorFromLatestMinor { get; set; } = true;
    public bool AllowPrerelease { get; set; }
}

public sealed class EstimateTable
{
    public List<int> Patch { get; set; } = new() { 5, 10 };
    public List<int> Minor { get; set; } = new() { 10, 30 };
    public List<int> Major { get; set; } = new() { 30, 60 };
    /// <summary>Minutes added to each migrating step per GiB of database, when the size is known.</summary>
    public double MinutesPerGigabyte { get; set; } = 2;
}

public sealed class ApiDefinition
{
    public string? Info { get; set; }
    public string? Config { get; set; }
    public string? Health { get; set; }
    public string? GraphQL { get; set; }
    public string? VersionQuery { get; set; }
    /// <summary>JSON path (dotted) of the version in the GraphQL answer, e.g. data.InfrahubInfo.version.</summary>
    public string? VersionQueryPath { get; set; }
    public string? Metrics { get; set; }
    /// <summary>The service and container port that serve the API.</summary>
    public string? Service { get; set; }
    public int? Port { get; set; }
    /// <summary>
    /// Test-PostUpgrade's credentials: the header that carries an API token (e.g. X-INFRAHUB-KEY), and the environment variable
    /// of the API service's container that holds it. The product's own operations (artifact generation, repository sync)
    /// need an account; without the variable set, the requests go without it.
    /// </summary>
    public string? TokenHeader { get; set; }
    public string? TokenVariable { get; set; }
}

/// <summary>
/// The product's own post-upgrade checks: GraphQL smoke queries, an asynchronous operation to run end to end
/// (artifact generation, repository sync), log patterns and the requests whose latency is compared with a baseline.
/// Queries may use placeholders such as {name}, filled from the listed items (see AsyncOperationDefinition).
/// </summary>
public sealed class ValidationDefinition
{
    /// <summary>How long one check may take before it fails (checks run in parallel).</summary>
    public int CheckTimeoutSeconds { get; set; } = 60;
    public List<GraphQLCheckDefinition> GraphQL { get; set; } = new();
    public AsyncOperationDefinition? ArtifactGeneration { get; set; }
    public AsyncOperationDefinition? GitSync { get; set; }
    /// <summary>Regular expressions of log lines that count as errors.</summary>
    public List<string> LogErrorPatterns { get; set; } = new() { @"\bERROR\b", @"\bCRITICAL\b", @"Traceback \(most recent call last\)" };
    /// <summary>Lines that match an error pattern but are known to be harmless.</summary>
    public List<string> LogIgnorePatterns { get; set; } = new();
    public PerformanceDefinition Performance { get; set; } = new();
    /// <summary>A GraphQL query whose numbers (at RunningTasksPaths) count background tasks still running.</summary>
    public string? RunningTasksQuery { get; set; }
    public List<string> RunningTasksPaths { get; set; } = new();
}

/// <summary>A GraphQL smoke query: it must answer without errors and with data at DataPath.</summary>
public sealed class GraphQLCheckDefinition
{
    public string Name { get; set; } = "";
    public string Query { get; set; } = "";
    public string? DataPath { get; set; }
}

/// <summary>
/// An operation the product completes in the background: Request (a GraphQL mutation) or RequestPath (an HTTP request to
/// the API) starts it, StatusQuery is polled until the value at StatusPath is ReadyStatus (or FailedStatus). With ListQuery,
/// the operation runs for each item at ListPath. Placeholders such as {name} are filled from the item: from ItemFields
/// (placeholder: dotted path in the item) when given, else from the item's top-level scalar fields.
/// </summary>
public sealed class AsyncOperationDefinition
{
    /// <summary>The one item to run it on (the {name} placeholder) when there is no ListQuery.</summary>
    public string? Name { get; set; }
    public string? ListQuery { get; set; }
    public string? ListPath { get; set; }
    /// <summary>The placeholders a listed item fills, each with its dotted path in the item (id: id, name: name.value).</summary>
    public Dictionary<string, string> ItemFields { get; set; } = new();
    /// <summary>A GraphQL request that starts the operation; or give RequestPath.</summary>
    public string? Request { get; set; }
    /// <summary>An HTTP request to the API that starts the operation (placeholders are URL-escaped), sent without a body.</summary>
    public string? RequestPath { get; set; }
    /// <summary>The method of RequestPath (default POST).</summary>
    public string? RequestMethod { get; set; }
    public string StatusQuery { get; set; } = "";
    public string StatusPath { get; set; } = "";
    public string ReadyStatus { get; set; } = "ready";
    public string? FailedStatus { get; set; }
    /// <summary>Where the result's proof is: an artifact's checksum, a repository's commit.</summary>
    public string? ResultPath { get; set; }
    public string? ErrorPath { get; set; }
    /// <summary>A command run in a container of Service whose output starts with the result expected (e.g. git ls-remote).</summary>
    public List<string> ExpectedResultCommand { get; set; } = new();
    public string? Service { get; set; }
}

/// <summary>Requests timed before and after an upgrade; Warning when p95 grows beyond WarningRatio (and MinimumDifferenceMs).</summary>
public sealed class PerformanceDefinition
{
    public List<PerformanceRequestDefinition> Requests { get; set; } = new();
    public int Samples { get; set; } = 20;
    public double WarningRatio { get; set; } = 1.5;
    public double MinimumDifferenceMs { get; set; } = 25;
}

/// <summary>A GET of Path on the API, or a GraphQL Query.</summary>
public sealed class PerformanceRequestDefinition
{
    public string Name { get; set; } = "";
    public string? Path { get; set; }
    public string? Query { get; set; }
}

public enum DataStoreKind { Postgres, Neo4j, Volume, ConfigFile }

public sealed class DataStoreDefinition
{
    public string Name { get; set; } = "";
    public DataStoreKind Kind { get; set; }
    /// <summary>The service (container) that holds the data store.</summary>
    public string? Service { get; set; }
    public string? Database { get; set; }
    /// <summary>Environment variable in the container that holds the database user / password.</summary>
    public string? UserVariable { get; set; }
    public string? PasswordVariable { get; set; }
    /// <summary>
    /// PostgreSQL: environment variables of the container that may name the database, tried in order; <see cref="Database"/>
    /// when none is set. One product's database image differs by platform (POSTGRES_DB in the official image, POSTGRES_DATABASE
    /// in Bitnami's), and so may the name (Infrahub's task manager: prefect on Compose, server in its Helm chart).
    /// </summary>
    public List<string> DatabaseVariables { get; set; } = new();

    /// <summary>The database as a plan names it before any container is read.</summary>
    public string DatabaseShown => DatabaseVariables.Count == 0 ? $"'{Database}'" : $"'{Database}' (or the one {string.Join(" or ", DatabaseVariables)} names)";

    /// <summary>The database to use: the first of <see cref="DatabaseVariables"/> the container sets, else <see cref="Database"/>.</summary>
    public string? DatabaseIn(Func<string, string?> environmentValue) =>
        DatabaseVariables.Select(environmentValue).FirstOrDefault(value => !string.IsNullOrWhiteSpace(value)) ?? Database;
    /// <summary>PostgreSQL: the port the server listens on inside its container (default 5432).</summary>
    public int Port { get; set; } = 5432;
    public string? Volume { get; set; }
    /// <summary>Volume on Kubernetes: the absolute path in the pod where the data lives (tarred through pod exec).</summary>
    public string? Path { get; set; }
    /// <summary>Volume on Kubernetes: the declared service whose workload's pod mounts <see cref="Path"/>.</summary>
    public string? KubernetesWorkload { get; set; }
    /// <summary>The backup must be taken with the API stopped, not only the workers.</summary>
    public bool Offline { get; set; }
    /// <summary>Neo4j: the edition, when it must not be detected (the server's dbms.components(), else the image tag or NEO4J_ACCEPT_LICENSE_AGREEMENT).</summary>
    public Neo4jEdition? Edition { get; set; }
}

/// <summary>A Kubernetes object of the release's namespace; {release} in the name is the release's name.</summary>
public sealed class KubernetesResourceReference
{
    /// <summary>ConfigMap or Secret.</summary>
    public string Kind { get; set; } = "";
    public string Name { get; set; } = "";
}

public sealed class MigrationDefinition
{
    public List<string> Command { get; set; } = new();
    public List<string> CheckCommand { get; set; } = new();
    /// <summary>The service whose image and configuration run the migration.</summary>
    public string? Service { get; set; }
    /// <summary>Notes shown with a major hop (what the migration does, what to read first).</summary>
    public string? MajorNotes { get; set; }
    /// <summary>Versions whose migrations are safe with old and new API servers running side by side (Rolling).</summary>
    public List<string> MixedVersionSafe { get; set; } = new();
    /// <summary>Regular expressions of output lines that mean the migration failed even when it exits 0 (Infrahub's
    /// 'infrahub upgrade' prints "Upgrade cancelled due to migration failure." and exits 0).</summary>
    public List<string> FailurePatterns { get; set; } = new();
    /// <summary>Helm: the chart's migration Job (a pre-upgrade hook), matched like kubernetesWorkload: its full name, its
    /// name without the release prefix, or its app.kubernetes.io/component label. Its outcome and pod logs are the
    /// upgrade's migration output.</summary>
    public string? KubernetesJob { get; set; }
    /// <summary>Helm: the value that makes the chart render <see cref="KubernetesJob"/> (Infrahub's later charts:
    /// upgrade.enabled=true), named when an upgrade finds the Job not rendered and has no pod exec to fall back on.</summary>
    public string? KubernetesJobEnabledBy { get; set; }
    /// <summary>Helm: the service (declared, with a kubernetesWorkload or selector) in one of whose pods Invoke-Upgrade runs
    /// <see cref="Command"/> by pod exec after helm upgrade, in a running pod of the new version (as Infrahub's guide runs
    /// 'infrahub upgrade' in a server pod); then the rollout is waited for. With <see cref="KubernetesJob"/>, only when the
    /// chart does not render that Job for the upgrade.</summary>
    public string? KubernetesExec { get; set; }
}

public sealed class ConfigurationRule
{
    public string Id { get; set; } = "";
    public string Description { get; set; } = "";
    /// <summary>The rule applies from this app version on (inclusive).</summary>
    public string? AppVersion { get; set; }
    /// <summary>The rule applies from this chart version on (inclusive).</summary>
    public string? ChartVersion { get; set; }
    /// <summary>Compose: an environment variable that must be set. Helm: a dotted values key.</summary>
    public string? RequiresVariable { get; set; }
    public string? RequiresValuesKey { get; set; }
    public string? DefaultValue { get; set; }
    /// <summary>When no default is given: generate a random secret value (written to .env, never shown).</summary>
    public bool Generate { get; set; }
    /// <summary>Helm: an older key whose value moves to the new key.</summary>
    public string? MovedFrom { get; set; }
}

/// <summary>The profile's troubleshooting knowledge: patterns Get-UpgradeDiagnostic matches, each with guidance.</summary>
public sealed class DiagnosticsDefinition
{
    public List<DiagnosticPattern> Patterns { get; set; } = new();
}

/// <summary>
/// A known problem: a regular expression (case-insensitive) matched line by line against the containers' logs,
/// the migration output or the failed step's error, and the guidance shown when it matches.
/// </summary>
public sealed class DiagnosticPattern
{
    public string Id { get; set; } = "";
    public string Pattern { get; set; } = "";
    /// <summary>logs, migration or error; null: all three.</summary>
    public string? AppliesTo { get; set; }
    public FindingSeverity Severity { get; set; } = FindingSeverity.Error;
    public string Guidance { get; set; } = "";

    /// <summary>The places a pattern can look in.</summary>
    public static readonly IReadOnlyList<string> Targets = ["logs", "migration", "error"];

    public bool Covers(string target) => AppliesTo is null || string.Equals(AppliesTo, target, StringComparison.OrdinalIgnoreCase);
}

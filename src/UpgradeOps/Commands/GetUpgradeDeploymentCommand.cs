using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Compose;
using UpgradeOps.Kubernetes;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Finds a deployment of the product and describes what runs, at which version, and whether it is healthy.</para>
/// <para type="description">Get-UpgradeDeployment reads a Docker Compose deployment from two sources: the compose file with the
/// .env file beside it (anchors, merge keys and ${VAR:-default} interpolation resolved the way compose resolves them), and
/// the containers that compose created on the Docker Engine (found by their com.docker.compose labels). It returns an
/// UpgradeOps.Deployment: every service with its role from the product profile, image, version, running and expected
/// containers and health (container state and healthcheck), the API endpoint, and the product version.</para>
/// <para type="description">Version is the version the product's containers run. ConfiguredVersion is the one the compose file
/// and .env name. When the two disagree, or the containers run different versions, the command says so in a warning and in
/// the Warnings property and does not guess: finish or roll back the interrupted change first.</para>
/// <para type="description">The Docker Engine is found through -DockerHost, else the DOCKER_HOST environment variable, else the
/// current docker context. The command only reads; it works with Docker Engine 20.10 (API 1.41) and later and starts no
/// process.</para>
/// <para type="description">With -Namespace and -Release it describes a Helm release instead, natively from the release Secrets
/// (sh.helm.release.v1.NAME.vN: no helm binary needed): chart name and version, app version, revision and status, and the
/// Deployments and StatefulSets helm manages for it, mapped to roles by the labels each profile service's kubernetesSelector
/// names (on the pod template or the workload), else by its kubernetesWorkload name, with their replicas, readiness and the
/// PersistentVolumeClaims their pods mount (Volumes: claim, path, and the profile's data store kept there). The cluster is found through -Kubeconfig, else KUBECONFIG and ~/.kube/config (with
/// -KubeContext), else the in-cluster service account. Verified here against a test API server only, not a real cluster.</para>
/// </summary>
/// <example>
/// <code>$d = Get-UpgradeDeployment -ComposeFile /srv/infrahub/docker-compose.yml
/// $d.Services | Format-Table</code>
/// <para>Describes the deployment created from that compose file, then lists its services, versions and health.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeDeployment -ProjectName infrahub -Profile ./myproduct.yml -DockerHost unix:///run/user/1000/docker.sock</code>
/// <para>Finds a running project by its compose project name with a profile of your own, on a rootless engine; the compose
/// file is located through the containers' labels.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeDeployment -Namespace infrahub -Release infrahub -KubeContext prod</code>
/// <para>Describes a Helm release from its release Secrets: chart, app version, revision and status (a release stuck in
/// pending-upgrade, pending-install or pending-rollback is a warning naming the revision it returns to), and its Deployments and StatefulSets mapped to roles with their replicas.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeDeployment -ComposeFile ./docker-compose.yml | Test-UpgradePath -To 1.7.6</code>
/// <para>Checks the upgrade path from the version the deployment runs now.</para>
/// </example>
/// <returns>An UpgradeOps.Deployment: Name, Platform, Profile, Version, ConfiguredVersion, RunningVersion, ChartName, ChartVersion, Revision, ReleaseStatus, DeployedRevision (Helm: the newest deployed revision, which a release left pending-* returns to), Services (Name, Role, Image, Version, Replicas, ExpectedReplicas, Healthy, Containers, Volumes), ApiEndpoint, Location, Endpoint, Healthy, Warnings.</returns>
/// <seealso cref="TestUpgradePathCommand"/>
[Cmdlet(VerbsCommon.Get, "UpgradeDeployment", DefaultParameterSetName = ComposeFileSet)]
[OutputType(typeof(Deployment))]
public sealed class GetUpgradeDeploymentCommand : EngineCmdlet
{
    private const string ComposeFileSet = "ComposeFile";
    private const string ProjectNameSet = "ProjectName";
    private const string HelmSet = "Helm";

    /// <summary>
    /// <para type="description">The deployment's compose file (docker-compose.yml). The .env file beside it is read too. Binds from the FullName of piped files.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ComposeFileSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "Path")]
    public string ComposeFile { get; set; } = "";

    /// <summary>
    /// <para type="description">The compose project name of a running deployment; its compose file is found through the containers' labels.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = ProjectNameSet, ValueFromPipelineByPropertyName = true)]
    public string ProjectName { get; set; } = "";

    /// <summary>
    /// <para type="description">The Kubernetes namespace of the Helm release.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = HelmSet, ValueFromPipelineByPropertyName = true)]
    public string Namespace { get; set; } = "";

    /// <summary>
    /// <para type="description">The Helm release name. The release is read from its release Secrets (no helm binary needed).</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = HelmSet, ValueFromPipelineByPropertyName = true)]
    public string Release { get; set; } = "";

    /// <summary>
    /// <para type="description">The kubeconfig context to use. Default: the kubeconfig's current context.</para>
    /// </summary>
    [Parameter(ParameterSetName = HelmSet)]
    public string? KubeContext { get; set; }

    /// <summary>
    /// <para type="description">The kubeconfig file. Default: KUBECONFIG, then ~/.kube/config, then the in-cluster service account.</para>
    /// </summary>
    [Parameter(ParameterSetName = HelmSet)]
    public string? Kubeconfig { get; set; }

    /// <summary>
    /// <para type="description">The product profile: a built-in name (infrahub) or the path of a profile YAML file.</para>
    /// <para type="default">infrahub</para>
    /// </summary>
    [Parameter]
    public string Profile { get; set; } = "infrahub";

    /// <summary>
    /// <para type="description">The Docker Engine endpoint, such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375. Default: DOCKER_HOST, else the current docker context.</para>
    /// </summary>
    [Parameter(ParameterSetName = ComposeFileSet)]
    [Parameter(ParameterSetName = ProjectNameSet)]
    public string? DockerHost { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == HelmSet)
        {
            var helm = new KubernetesDiscoveryRequest
            {
                Namespace = Namespace, Release = Release, KubeContext = KubeContext, Profile = ResolveProfile(Profile),
                Kubeconfig = Kubeconfig is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Kubeconfig),
            };
            RunEngineOrWriteError(context => KubernetesDiscovery.DiscoverAsync(helm, context), Emit);
            return;
        }
        var request = new ComposeDiscoveryRequest
        {
            ComposeFile = ParameterSetName == ComposeFileSet ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(ComposeFile) : null,
            ProjectName = ParameterSetName == ProjectNameSet ? ProjectName : null,
            Profile = ResolveProfile(Profile),
            DockerHost = DockerHost,
        };
        RunEngineOrWriteError(context => ComposeDiscovery.DiscoverAsync(request, context), Emit);
    }

    private void Emit(Deployment deployment)
    {
        foreach (var warning in deployment.Warnings) WriteWarning(warning);
        WriteObject(deployment);
    }
}

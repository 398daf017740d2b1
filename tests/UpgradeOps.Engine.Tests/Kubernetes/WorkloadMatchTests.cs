using k8s.Models;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>
/// How a Helm release's Deployments and StatefulSets are mapped to the profile's services: by the labels a profile's
/// kubernetesSelector gives (a chart's own labels), else by kubernetesWorkload names. The labels below are those
/// opsmill/infrahub-helm chart 4.1.13 and its subcharts render (tests/Sandbox/infrahub-helm-subcharts/README.md); the whole
/// chart is mapped with the real helm in tests/Pester/HelmChartLabels.Tests.ps1.
/// </summary>
public class WorkloadMatchTests
{
    private static readonly ProductProfile Infrahub = ProfileLoader.Load("infrahub");

    private static V1ObjectMeta Meta(string name, params (string Key, string Value)[] labels) =>
        new() { Name = name, Labels = labels.ToDictionary(l => l.Key, l => l.Value) };

    private static Dictionary<string, string> Labels(params (string Key, string Value)[] labels) => labels.ToDictionary(l => l.Key, l => l.Value);

    [Theory]
    // Workload name (fullnameOverride "acme", so no name answers to kubernetesWorkload), its pod template's labels.
    [InlineData("acme-infrahub-server", "server", "infrahub-server", ServiceRole.Api)]
    [InlineData("acme-infrahub-task-worker", "task-worker", "task-worker", ServiceRole.Worker)]
    [InlineData("prod-cache-master", "cache", "cache", ServiceRole.Cache)]
    [InlineData("prod-message-queue", "message-queue", "message-queue", ServiceRole.Queue)]
    [InlineData("prefect-server", "task-manager", "task-manager", ServiceRole.TaskManager)]
    [InlineData("prod-postgresql", "task-manager-db", "task-manager-db", ServiceRole.Database)]
    public void The_builtin_profile_maps_each_component_by_its_pods_infrahub_service_label(string name, string label, string service, ServiceRole role)
    {
        var found = KubernetesDiscovery.ServiceOf(Meta(name, ("app.kubernetes.io/instance", "prod")), Labels(("infrahub/service", label)), Infrahub, "prod");
        Assert.Equal(service, found?.Name);
        Assert.Equal(role, found?.Role);
    }

    [Fact]
    public void Neo4js_label_on_the_StatefulSet_itself_is_enough()
    {
        // The neo4j chart puts neo4j.labels on the StatefulSet and on its pods; either set alone maps it.
        var onWorkload = KubernetesDiscovery.ServiceOf(Meta("prod-database", ("infrahub/service", "database")), Labels(("app", "infrahub")), Infrahub, "prod");
        Assert.Equal("database", onWorkload?.Name);
    }

    [Fact]
    public void Every_pair_must_match_in_one_set_of_labels()
    {
        var selector = new KubernetesSelector { MatchLabels = { ["app"] = "shop", ["tier"] = "web" } };
        Assert.True(KubernetesDiscovery.Selects(selector, null, Labels(("app", "shop"), ("tier", "web"), ("extra", "x"))));
        Assert.True(KubernetesDiscovery.Selects(selector, Labels(("app", "shop"), ("tier", "web")), null));
        Assert.False(KubernetesDiscovery.Selects(selector, null, Labels(("app", "shop"))));
        Assert.False(KubernetesDiscovery.Selects(selector, null, Labels(("app", "shop"), ("tier", "api"))));
        // Half on the workload and half on the pods is no match: no one object carries both.
        Assert.False(KubernetesDiscovery.Selects(selector, Labels(("app", "shop")), Labels(("tier", "web"))));
        Assert.False(KubernetesDiscovery.Selects(new KubernetesSelector(), Labels(("app", "shop")), Labels(("app", "shop"))));
    }

    [Fact]
    public void The_name_is_the_fallback_for_a_workload_whose_labels_match_no_selector()
    {
        // A chart (or values) without Infrahub's labels: the server is still found by its name without the release prefix.
        var server = KubernetesDiscovery.ServiceOf(Meta("prod-infrahub-server"), Labels(("service", "infrahub-server")), Infrahub, "prod");
        Assert.Equal("infrahub-server", server?.Name);
        Assert.Null(KubernetesDiscovery.ServiceOf(Meta("acme-infrahub-server"), Labels(("service", "infrahub-server")), Infrahub, "prod"));
    }

    [Fact]
    public void A_matching_selector_wins_over_another_services_name()
    {
        var profile = ProfileLoader.Parse("""
            name: p
            services:
              - name: api
                role: Api
                kubernetesWorkload: worker
              - name: worker
                role: Worker
                kubernetesSelector:
                  matchLabels: { component: worker }
            """, "p.yml");
        // Named like the api's kubernetesWorkload, labelled as the worker: the label decides.
        Assert.Equal("worker", KubernetesDiscovery.ServiceOf(Meta("worker"), Labels(("component", "worker")), profile, "rel")?.Name);
        Assert.Equal("api", KubernetesDiscovery.ServiceOf(Meta("worker"), Labels(("component", "other")), profile, "rel")?.Name);
    }

    [Fact]
    public void The_servers_claim_is_the_storage_data_store_at_its_mount_path()
    {
        var server = Infrahub.Services.Single(s => s.Name == "infrahub-server");
        var spec = new V1PodSpec
        {
            Containers = [new V1Container { Name = "infrahub-server", VolumeMounts = [new V1VolumeMount { Name = "infrahub-server-storage-data", MountPath = "/opt/infrahub/storage" }] }],
            Volumes = [new V1Volume { Name = "infrahub-server-storage-data", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "acme-infrahub-server-storage-data" } }],
        };
        var volume = Assert.Single(KubernetesDiscovery.VolumesOf(spec, server, Infrahub));
        Assert.Equal("acme-infrahub-server-storage-data", volume.Claim);
        Assert.Equal("/opt/infrahub/storage", volume.Path);
        Assert.Equal("storage", volume.DataStore);

        // persistence.enabled: false makes it an emptyDir: no claim, nothing listed.
        spec.Volumes[0] = new V1Volume { Name = "infrahub-server-storage-data", EmptyDir = new V1EmptyDirVolumeSource() };
        Assert.Empty(KubernetesDiscovery.VolumesOf(spec, server, Infrahub));
        // A claim of a workload that plays no service is listed without a data store.
        spec.Volumes[0] = new V1Volume { Name = "infrahub-server-storage-data", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "c" } };
        Assert.Null(Assert.Single(KubernetesDiscovery.VolumesOf(spec, null, Infrahub)).DataStore);
    }
}

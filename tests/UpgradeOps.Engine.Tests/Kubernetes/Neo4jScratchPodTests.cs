using k8s.Models;
using UpgradeOps.Kubernetes;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>The restore test's scratch pod as made from a database pod of the neo4j chart's shape, without a server.</summary>
public sealed class Neo4jScratchPodTests
{
    private static (V1Pod Pod, V1Container Container) LiveDatabasePod()
    {
        var container = new V1Container
        {
            Name = "neo4j",
            Image = "neo4j:5.20.0",
            EnvFrom = new List<V1EnvFromSource> { new() { ConfigMapRef = new V1ConfigMapEnvSource { Name = "infrahub-database-env" } }, new() { SecretRef = new V1SecretEnvSource { Name = "infrahub-auth" } } },
            VolumeMounts = new List<V1VolumeMount>
            {
                new() { Name = "data", MountPath = "/data" },
                new() { Name = "neo4j-conf", MountPath = "/config/neo4j.conf" },
                new() { Name = "logs", MountPath = "/logs" },
            },
            SecurityContext = new V1SecurityContext { RunAsUser = 7474 },
        };
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "infrahub-database-0", NamespaceProperty = "infrahub" },
            Spec = new V1PodSpec
            {
                Containers = new List<V1Container> { container },
                SecurityContext = new V1PodSecurityContext { FsGroup = 7474 },
                ServiceAccountName = "infrahub-database",
                NodeSelector = new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64" },
                Volumes = new List<V1Volume>
                {
                    new() { Name = "neo4j-conf", ConfigMap = new V1ConfigMapVolumeSource { Name = "infrahub-database-default-config" } },
                    new() { Name = "logs", HostPath = new V1HostPathVolumeSource { Path = "/var/log/neo4j" } },
                    new() { Name = "unused", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "other" } },
                },
            },
        };
        return (pod, container);
    }

    [Fact]
    public void Runs_the_database_image_and_environment_with_sleep_instead_of_the_server()
    {
        var (live, container) = LiveDatabasePod();
        var scratch = Neo4jScratchPod.Describe("infrahub", "infrahub", live, container);
        var made = Assert.Single(scratch.Spec.Containers);
        Assert.Equal(("neo4j", "neo4j:5.20.0"), (made.Name, made.Image));
        Assert.Equal(new[] { "sleep" }, made.Command);
        Assert.Equal(new[] { "3600" }, made.Args);
        Assert.Same(container.EnvFrom, made.EnvFrom);
        Assert.Equal(7474, made.SecurityContext.RunAsUser);
        Assert.Equal(7474, scratch.Spec.SecurityContext.FsGroup);
        Assert.Equal("amd64", scratch.Spec.NodeSelector["kubernetes.io/arch"]);
        Assert.Equal("Never", scratch.Spec.RestartPolicy);
        Assert.False(scratch.Spec.AutomountServiceAccountToken);
        // Not the database's service account: the scratch needs no rights.
        Assert.Null(scratch.Spec.ServiceAccountName);
        Assert.Equal("neo4j-restore-test", scratch.Metadata.Labels["org.upgradeops.purpose"]);
        Assert.Equal("infrahub", scratch.Metadata.NamespaceProperty);
    }

    [Fact]
    public void Keeps_configuration_volumes_and_gives_every_other_mount_an_emptyDir_of_its_own()
    {
        var (live, container) = LiveDatabasePod();
        var volumes = Neo4jScratchPod.Describe("infrahub", "infrahub", live, container).Spec.Volumes.ToDictionary(v => v.Name);
        // Only what the container mounts; the claim of a StatefulSet's volumeClaimTemplates ("data") is not in the pod spec
        // read here, and a host path could be the live logs: both are fresh.
        Assert.Equal(new[] { "data", "logs", "neo4j-conf" }, volumes.Keys.Order());
        Assert.Equal("infrahub-database-default-config", volumes["neo4j-conf"].ConfigMap.Name);
        Assert.NotNull(volumes["data"].EmptyDir);
        Assert.NotNull(volumes["logs"].EmptyDir);
        Assert.Null(volumes["logs"].HostPath);
    }

    [Fact]
    public void Its_name_fits_a_pod_name_and_differs_each_time()
    {
        var (live, container) = LiveDatabasePod();
        var release = new string('r', 60);
        var first = Neo4jScratchPod.Describe("infrahub", release, live, container).Metadata.Name;
        var second = Neo4jScratchPod.Describe("infrahub", release, live, container).Metadata.Name;
        Assert.True(first.Length <= 63, first);
        Assert.StartsWith(new string('r', 30) + "-upgradeops-neo4j-verify-", first);
        Assert.NotEqual(first, second);
    }
}

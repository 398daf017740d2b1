using k8s.Models;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Upgrades;

using UpgradeOps.Platforms;

namespace UpgradeOps.Engine.Tests.Kubernetes;

/// <summary>How Invoke-Upgrade reads a Helm release's rollout from workload and pod status objects, and the exec migration's profile.</summary>
public class RolloutStatusTests
{
    private static V1Deployment Deployment(long generation, long observed, int desired, int current, int updated, int ready, int? available = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "hv-sandbox-server", Generation = generation, Uid = "u1" },
        Spec = new V1DeploymentSpec { Replicas = desired },
        Status = new V1DeploymentStatus
        {
            ObservedGeneration = observed, Replicas = current, UpdatedReplicas = updated, ReadyReplicas = ready, AvailableReplicas = available ?? ready,
        },
    };

    [Fact]
    public void A_deployment_is_rolled_out_when_every_replica_is_updated_ready_and_available_and_no_old_one_is_left()
    {
        var done = WorkloadRolloutStatus.Of(Deployment(3, 3, 2, 2, 2, 2));
        Assert.True(done.IsRolledOut);
        Assert.Null(done.Pending);
        Assert.Equal("2/2 updated, 2/2 ready", done.Progress);
        Assert.Equal(100, done.Percent);
    }

    [Theory]
    [InlineData(3, 2, 2, 2, 2, 2, 2, "the controller has not seen generation 3 yet")]  // the status is the previous spec's
    [InlineData(3, 3, 2, 3, 1, 2, 2, "1 of 2 replicas updated")]
    [InlineData(3, 3, 2, 3, 2, 2, 2, "1 old replica(s) still terminating")]
    [InlineData(3, 3, 2, 2, 2, 1, 1, "1 of 2 replicas ready")]
    [InlineData(3, 3, 2, 2, 2, 2, 1, "1 of 2 replicas available")]                     // minReadySeconds not over yet
    public void A_deployment_says_what_its_rollout_waits_for(long generation, long observed, int desired, int current, int updated, int ready, int available, string pending)
    {
        var status = WorkloadRolloutStatus.Of(Deployment(generation, observed, desired, current, updated, ready, available));
        Assert.False(status.IsRolledOut);
        Assert.Equal(pending, status.Pending);
    }

    [Fact]
    public void Progress_shows_updated_and_ready_replicas_and_half_the_bar_for_each()
    {
        var status = WorkloadRolloutStatus.Of(Deployment(2, 2, 2, 3, 1, 1));
        Assert.Equal("1/2 updated, 1/2 ready", status.Progress);
        Assert.Equal(50, status.Percent);
        // What the progress does not show is said beside it; what it shows is not repeated.
        Assert.Null(status.Beyond);
        Assert.Equal("the controller has not seen generation 3 yet", WorkloadRolloutStatus.Of(Deployment(3, 2, 2, 2, 2, 2)).Beyond);
        Assert.Equal("1 old replica(s) still terminating", WorkloadRolloutStatus.Of(Deployment(3, 3, 2, 3, 2, 2)).Beyond);
    }

    [Fact]
    public void A_deployment_scaled_to_zero_is_rolled_out_once_its_spec_is_seen()
    {
        Assert.True(WorkloadRolloutStatus.Of(Deployment(4, 4, 0, 0, 0, 0)).IsRolledOut);
        Assert.Equal(100, WorkloadRolloutStatus.Of(Deployment(4, 4, 0, 0, 0, 0)).Percent);
    }

    private static V1StatefulSet StatefulSet(int desired, int updated, int ready, string current, string update, string strategy = "RollingUpdate", int? partition = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "hv-sandbox-database", Generation = 2 },
        Spec = new V1StatefulSetSpec
        {
            Replicas = desired,
            UpdateStrategy = new V1StatefulSetUpdateStrategy
            {
                Type = strategy, RollingUpdate = partition is null ? null : new V1RollingUpdateStatefulSetStrategy { Partition = partition },
            },
        },
        Status = new V1StatefulSetStatus
        {
            ObservedGeneration = 2, Replicas = desired, UpdatedReplicas = updated, ReadyReplicas = ready, CurrentRevision = current, UpdateRevision = update,
        },
    };

    [Fact]
    public void A_statefulset_is_rolled_out_when_its_update_revision_is_current()
    {
        Assert.True(WorkloadRolloutStatus.Of(StatefulSet(1, 1, 1, "db-2", "db-2")).IsRolledOut);
        Assert.Equal("revision db-3 not current yet", WorkloadRolloutStatus.Of(StatefulSet(1, 1, 1, "db-2", "db-3")).Pending);
        Assert.Equal("0 of 1 replicas updated", WorkloadRolloutStatus.Of(StatefulSet(1, 0, 1, "db-2", "db-3")).Pending);
    }

    [Fact]
    public void A_statefulset_partition_or_OnDelete_expects_only_the_pods_it_replaces_by_itself()
    {
        // Partition 2 of 3: one pod moves to the new revision; the others stay on the current one.
        Assert.True(WorkloadRolloutStatus.Of(StatefulSet(3, 1, 3, "db-2", "db-3", partition: 2)).IsRolledOut);
        Assert.True(WorkloadRolloutStatus.Of(StatefulSet(3, 0, 3, "db-2", "db-3", strategy: "OnDelete")).IsRolledOut);
        Assert.False(WorkloadRolloutStatus.Of(StatefulSet(3, 0, 2, "db-2", "db-3", strategy: "OnDelete")).IsRolledOut);
    }

    private static V1Pod Pod(V1ContainerState state, int restarts = 0, V1ContainerState? last = null, bool ready = false) => new()
    {
        Metadata = new V1ObjectMeta { Name = "hv-sandbox-server-abc-0" },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "server", Image = "app:1.7.6" }] },
        Status = new V1PodStatus
        {
            Phase = state.Running is not null ? "Running" : "Pending",
            Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False" }],
            ContainerStatuses = [new V1ContainerStatus { Name = "server", Ready = ready, RestartCount = restarts, State = state, LastState = last, Image = "app:1.7.6" }],
        },
    };

    [Fact]
    public void A_pod_that_cannot_pull_its_image_says_so_with_the_kubelets_message()
    {
        var pod = Pod(new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ImagePullBackOff", Message = "Back-off pulling image \"app:9.9.9\"" } });
        Assert.Equal("ImagePullBackOff (Back-off pulling image \"app:9.9.9\")", PodStatusText.Describe(pod));
        Assert.Equal(["ImagePullBackOff"], PodStatusText.Reasons([pod]));
    }

    [Fact]
    public void A_crash_loop_says_its_restarts_and_last_exit_code_not_the_back_off_message()
    {
        var pod = Pod(new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff", Message = "back-off 40s restarting failed container=server pod=hv-sandbox-server-abc-0" } },
            restarts: 4, last: new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 1, Reason = "Error" } });
        Assert.Equal("CrashLoopBackOff, restarted 4 times, last exit code 1 (Error)", PodStatusText.Describe(pod));
        // Between two crashes it runs for a moment: still its restarts and last exit code.
        var running = Pod(new V1ContainerState { Running = new V1ContainerStateRunning() }, restarts: 1,
            last: new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 137, Reason = "OOMKilled" } });
        Assert.Equal("running, not ready, restarted 1 time, last exit code 137 (OOMKilled)", PodStatusText.Describe(running));
    }

    [Fact]
    public void A_ready_pod_says_nothing_and_an_unscheduled_one_says_why()
    {
        Assert.Null(PodStatusText.Describe(Pod(new V1ContainerState { Running = new V1ContainerStateRunning() }, ready: true)));
        var pending = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "p" },
            Status = new V1PodStatus
            {
                Phase = "Pending",
                Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/3 nodes are available: 3 Insufficient memory." }],
            },
        };
        Assert.Equal("not scheduled: Unschedulable (0/3 nodes are available: 3 Insufficient memory.)", PodStatusText.Describe(pending));
        Assert.Empty(PodStatusText.Reasons([pending]));
    }

    [Fact]
    public void The_rollout_record_reads_as_a_sentence()
    {
        Assert.Equal("hv-sandbox-server (Api) 2/2 updated, 2/2 ready 4.2 s after its new spec",
            new WorkloadRollout { Workload = "hv-sandbox-server", Role = ServiceRole.Api, Replicas = 2, Updated = 2, Ready = 2, Changed = true, TimeToReady = TimeSpan.FromSeconds(4.2) }.ToString());
        Assert.EndsWith(", not rolled out", new WorkloadRollout { Workload = "w", Replicas = 2, Changed = true }.ToString());
        Assert.EndsWith(", unchanged", new WorkloadRollout { Workload = "db", Replicas = 1, Updated = 1, Ready = 1 }.ToString());
    }

    private const string ExecProfile = """
        name: x
        services:
          - name: server
            role: Api
            kubernetesWorkload: server
          - name: cache
        migration:
          command: [app, upgrade]
          kubernetesExec: server
        """;

    [Fact]
    public void A_profile_may_run_its_migration_by_exec_in_a_pod_of_a_declared_service()
    {
        var profile = ProfileLoader.Parse(ExecProfile, "p.yml");
        Assert.Equal("server", profile.Migration.KubernetesExec);
        Assert.Equal("'app upgrade' by pod exec in a pod of server (server) at the new version", HelmArguments.MigrationPlan(profile));
        Assert.Null(HelmArguments.MigrationPlan(new ProductProfile()));
    }

    [Theory]
    [InlineData("  kubernetesExec: server", "  kubernetesExec: server\n  kubernetesJobEnabledBy: upgrade.enabled=true", "kubernetesJobEnabledBy 'upgrade.enabled=true' says how the chart renders a migration Job, but migration names no kubernetesJob")]
    [InlineData("  kubernetesExec: server", "  kubernetesExec: nope", "kubernetesExec 'nope' is not one of the declared services")]
    [InlineData("  kubernetesExec: server", "  kubernetesExec: cache", "names service 'cache', which has no kubernetesWorkload")]
    [InlineData("  command: [app, upgrade]\n", "", "needs the migration 'command'")]
    public void A_profile_names_a_way_to_run_a_Helm_migration_it_can_use(string replace, string with, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(ExecProfile.Replace(replace, with), "p.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_profile_may_name_the_charts_Job_with_a_pod_exec_to_fall_back_on()
    {
        var profile = ProfileLoader.Parse(ExecProfile.Replace("  kubernetesExec: server", "  kubernetesExec: server\n  kubernetesJob: migrate\n  kubernetesJobEnabledBy: upgrade.enabled=true"), "p.yml");
        Assert.Equal(("migrate", "server", "upgrade.enabled=true"), (profile.Migration.KubernetesJob, profile.Migration.KubernetesExec, profile.Migration.KubernetesJobEnabledBy));
        // Without rendering, the Job is the way: helm waits for the rollout.
        var release = new Deployment { Name = "sbx", Platform = DeploymentPlatform.Kubernetes, Profile = "p", Location = "sandbox/sbx" };
        Assert.Contains("--wait", HelmArguments.UpgradeArguments(release, profile, "1.7.6", new HelmUpgradeOptions { Chart = "./chart" }, TimeSpan.FromMinutes(5)));
        Assert.DoesNotContain("--wait", HelmArguments.UpgradeArguments(release, profile, "1.7.6", new HelmUpgradeOptions { Chart = "./chart" }, TimeSpan.FromMinutes(5),
            execMigration: true));
    }

    /// <summary>What helm upgrade --dry-run prints (helm v4, text output): its summary, HOOKS:, MANIFEST:, NOTES:, the documents between.</summary>
    private const string DryRun = """
        Release "ih" has been upgraded. Happy Helming!
        NAME: ih
        LAST DEPLOYED: Sat Dec  5 07:10:00 2026
        NAMESPACE: infrahub
        STATUS: pending-upgrade
        REVISION: 2
        DESCRIPTION: Dry run complete
        TEST SUITE: None
        HOOKS:
        ---
        # Source: infrahub/templates/infrahub-upgrade-job.yaml
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: ih-infrahub-infrahub-upgrade
          labels:
            service: infrahub-upgrade
            helm.sh/chart: infrahub-4.2.0
            app.kubernetes.io/name: infrahub
          annotations:
            "helm.sh/hook": post-install,pre-upgrade
        spec:
          template:
            spec:
              containers:
                - name: infrahub-upgrade
                  command: ["infrahub", "upgrade"]
        MANIFEST:
        ---
        # Source: infrahub/templates/infrahub-server.yaml
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: ih-infrahub-infrahub-server
        ---
        # Source: infrahub/templates/other-job.yaml
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: ih-infrahub-cleanup

        NOTES:
        Infrahub is upgraded: {{ not yaml: [
        """;

    [Theory]
    [InlineData("infrahub-upgrade", "ih", "ih-infrahub-infrahub-upgrade")]
    [InlineData("ih-infrahub-infrahub-upgrade", "ih", "ih-infrahub-infrahub-upgrade")]
    [InlineData("cleanup", "ih-infrahub", "ih-infrahub-cleanup")]
    [InlineData("migrate", "ih", null)]
    public void The_migration_Job_is_found_among_the_documents_helm_renders_for_the_upgrade(string wanted, string release, string? expected) =>
        Assert.Equal(expected, HelmMigrationRender.RenderedJob(DryRun, wanted, release));

    [Fact]
    public void A_chart_that_renders_no_Job_has_none()
    {
        Assert.Null(HelmMigrationRender.RenderedJob(DryRun.Replace("kind: Job", "kind: ConfigMap"), "infrahub-upgrade", "ih"));
        Assert.Null(HelmMigrationRender.RenderedJob("Error: nothing rendered", "infrahub-upgrade", "ih"));
    }

    [Fact]
    public void With_a_migration_by_exec_helm_does_not_wait_the_rollout_watch_does()
    {
        var release = new Deployment { Name = "sbx", Platform = DeploymentPlatform.Kubernetes, Profile = "p", Location = "sandbox/sbx" };
        var arguments = HelmArguments.UpgradeArguments(release, ProfileLoader.Parse(ExecProfile, "p.yml"), "1.7.6", new HelmUpgradeOptions { Chart = "./chart" },
            TimeSpan.FromMinutes(5));
        Assert.Equal(["upgrade", "sbx", "./chart", "-n", "sandbox", "--timeout", "300s", "--reset-then-reuse-values"], arguments);
    }

    [Fact]
    public void A_failed_migration_is_MigrationFailed_with_its_exit_code_and_last_lines_on_either_platform()
    {
        var error = MigrationRun.Failed(["app", "upgrade"], "1.7.7", 3, "INFO start\nERROR configuration value APP_KEY is required\n", " in pod ns/p-0");
        Assert.Equal("MigrationFailed", error.ErrorId);
        Assert.Equal("app upgrade", error.Target);
        Assert.StartsWith("The migration to 1.7.7 in pod ns/p-0 failed with exit code 3: INFO start | ERROR configuration value APP_KEY is required ", error.Message);
        Assert.Equal("INFO start\nERROR configuration value APP_KEY is required\n", error.Data[MigrationRun.OutputKey]);
        Assert.Equal("MigrationTimedOut", MigrationRun.TimedOut(["app", "upgrade"], "1.7.7", TimeSpan.FromMinutes(1), "", "it was stopped").ErrorId);
    }

    [Fact]
    public void Exec_output_is_collected_line_by_line_and_whole()
    {
        var lines = new List<string>();
        using var collector = new LineCollector(lines.Add);
        collector.Write("INFO one\nINFO tw"u8);
        collector.Write("o\r\nlast"u8);
        Assert.Equal(["INFO one", "INFO two"], lines);
        Assert.Equal("INFO one\nINFO two\nlast\n", collector.Text);
    }

    [Fact]
    public void A_character_split_across_two_writes_stays_whole()
    {
        var lines = new List<string>();
        using var collector = new LineCollector(lines.Add);
        var bytes = "schéma → 1.7.6\n"u8.ToArray();
        collector.Write(bytes, 0, 4); // "sch" and the first byte of "é"
        collector.Write(bytes, 4, bytes.Length - 4);
        Assert.Equal(["schéma → 1.7.6"], lines);
    }

    [Theory]
    // Restarted and running again: its current log may hold only start-up lines; the crash is in the previous run's.
    [InlineData(3, "running", true)]
    // CrashLoopBackOff: no current run; the previous one crashed.
    [InlineData(3, "waiting", true)]
    // Just terminated: the current log is the crashed run's.
    [InlineData(3, "terminated", false)]
    // Never restarted: there is no previous log.
    [InlineData(0, "running", false)]
    [InlineData(0, "terminated", false)]
    public void A_crashing_containers_last_words_are_read_from_the_run_that_crashed(int restarts, string state, bool previous)
    {
        var status = new V1ContainerStatus
        {
            Name = "server", RestartCount = restarts,
            State = state switch
            {
                "running" => new V1ContainerState { Running = new V1ContainerStateRunning() },
                "waiting" => new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } },
                _ => new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 1 } },
            },
        };
        Assert.Equal(previous, RolloutWatch.CrashIsInPreviousLog(status));
    }
}

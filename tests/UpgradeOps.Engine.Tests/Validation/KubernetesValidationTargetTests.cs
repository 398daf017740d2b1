using k8s.Models;
using UpgradeOps.Validation;

using UpgradeOps.Kubernetes;

namespace UpgradeOps.Engine.Tests.Validation;

public class KubernetesValidationTargetTests
{
    [Fact]
    public void Pod_logs_read_with_timestamps_keep_the_lines_from_the_moment_on_without_their_stamps()
    {
        var log = "2026-01-01T10:00:00.123456789Z INFO before\n2026-01-01T10:00:05.000000001Z ERROR after\nno stamp at all\n" +
                  "2026-01-01T10:00:06Z INFO later\n";
        Assert.Equal("ERROR after\nno stamp at all\nINFO later\n",
            KubernetesValidationTarget.CutBefore(log, new DateTimeOffset(2026, 1, 1, 10, 0, 1, TimeSpan.Zero)));
        Assert.Equal("", KubernetesValidationTarget.CutBefore("", DateTimeOffset.UtcNow));
    }

    [Fact]
    public void A_pod_stands_for_a_container_healthy_only_when_running_and_ready()
    {
        V1Pod Pod(string phase, bool ready, V1ContainerStatus? status = null) => new()
        {
            Metadata = new V1ObjectMeta { Name = "p", Uid = "u" },
            Status = new V1PodStatus
            {
                Phase = phase, Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False" }],
                ContainerStatuses = status is null ? null : [status],
            },
        };
        Assert.True(KubernetesValidationTarget.Describe(Pod("Running", true)).IsHealthy);
        var notReady = KubernetesValidationTarget.Describe(Pod("Running", false));
        Assert.False(notReady.IsHealthy);
        Assert.Equal("not ready", notReady.Health);
        var crashing = KubernetesValidationTarget.Describe(Pod("Running", false, new V1ContainerStatus
        {
            Name = "server", Image = "img", ImageID = "", Ready = false, RestartCount = 3,
            State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } },
            LastState = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 2 } },
        }));
        Assert.Equal("running, CrashLoopBackOff", crashing.State);
        Assert.Equal(2, crashing.ExitCode);
        Assert.False(crashing.IsHealthy);
    }
}

public class KubernetesDiagnosticTests
{
    private static V1Pod Pod(string phase, bool ready, V1ContainerStatus status) => new()
    {
        Metadata = new V1ObjectMeta { Name = "hv-sandbox-server-abc-0" },
        Status = new V1PodStatus { Phase = phase, Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False" }], ContainerStatuses = [status] },
    };

    private static V1ContainerStatus Status(V1ContainerState state, V1ContainerState? last = null, int restarts = 0) =>
        new() { Name = "server", Image = "img:1", ImageID = "", Ready = false, RestartCount = restarts, State = state, LastState = last };

    [Fact]
    public void A_crash_looping_pod_is_restarting_with_its_last_exit_code_so_the_container_rules_apply()
    {
        var d = HelmDiagnostics.Describe("hv-sandbox-server", Pod("Running", false, Status(
            new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } },
            new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 2, Reason = "Error" } }, restarts: 4)));
        Assert.Equal(("restarting", (long?)2, 4L, (string?)null), (d.State, d.ExitCode, d.RestartCount, d.Health));
        Assert.Equal("hv-sandbox-server", d.Service);
        Assert.Equal("hv-sandbox-server-abc-0", d.Container);
    }

    [Fact]
    public void A_running_pod_is_healthy_only_when_ready_and_an_ended_one_exited()
    {
        var running = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc) } };
        Assert.Equal("healthy", HelmDiagnostics.Describe("w", Pod("Running", true, Status(running))).Health);
        Assert.Equal("unhealthy", HelmDiagnostics.Describe("w", Pod("Running", false, Status(running))).Health);
        var oom = HelmDiagnostics.Describe("w", Pod("Failed", false, Status(
            new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 137, Reason = "OOMKilled" } })));
        Assert.Equal(("exited", (long?)137, true), (oom.State, oom.ExitCode, oom.OomKilled));
    }
}

using k8s.Models;
using UpgradeOps.Validation;

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

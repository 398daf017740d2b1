using k8s.Models;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// A Deployment's or StatefulSet's rollout as its status tells it, the way 'kubectl rollout status' reads it: the
/// controller has seen the newest spec (observedGeneration), every replica runs the new pod template (updatedReplicas),
/// no old replica is left (Deployment), and every replica is ready (and available, Deployment; on the update revision,
/// StatefulSet).
/// </summary>
public sealed record WorkloadRolloutStatus(string Kind, string Name, string? Uid, long Generation, long ObservedGeneration, int Desired, int Current,
    int Updated, int Ready, int Available, int ExpectedUpdated, string? CurrentRevision, string? UpdateRevision)
{
    public static WorkloadRolloutStatus Of(V1Deployment deployment)
    {
        var desired = deployment.Spec?.Replicas ?? 1;
        var status = deployment.Status;
        return new("Deployment", deployment.Metadata.Name, deployment.Metadata.Uid, deployment.Metadata.Generation ?? 0, status?.ObservedGeneration ?? 0,
            desired, status?.Replicas ?? 0, status?.UpdatedReplicas ?? 0, status?.ReadyReplicas ?? 0, status?.AvailableReplicas ?? 0, desired, null, null);
    }

    public static WorkloadRolloutStatus Of(V1StatefulSet statefulSet)
    {
        var desired = statefulSet.Spec?.Replicas ?? 1;
        var status = statefulSet.Status;
        var strategy = statefulSet.Spec?.UpdateStrategy;
        // OnDelete replaces no pod by itself; a partition keeps the pods below it on the old revision.
        var expected = strategy?.Type == "OnDelete" ? 0 : Math.Max(0, desired - (strategy?.RollingUpdate?.Partition ?? 0));
        return new("StatefulSet", statefulSet.Metadata.Name, statefulSet.Metadata.Uid, statefulSet.Metadata.Generation ?? 0, status?.ObservedGeneration ?? 0,
            desired, status?.Replicas ?? 0, status?.UpdatedReplicas ?? 0, status?.ReadyReplicas ?? 0, status?.AvailableReplicas ?? 0, expected,
            status?.CurrentRevision, status?.UpdateRevision);
    }

    /// <summary>What the rollout still waits for; null once it is done.</summary>
    public string? Pending =>
        ObservedGeneration < Generation ? $"the controller has not seen generation {Generation} yet"
        : Updated < ExpectedUpdated ? $"{Updated} of {ExpectedUpdated} replicas updated"
        : Kind == "Deployment" && Current > Updated ? $"{Current - Updated} old replica(s) still terminating"
        : Ready < Desired ? $"{Ready} of {Desired} replicas ready"
        : Kind == "Deployment" && Available < Desired ? $"{Available} of {Desired} replicas available"
        : Kind == "StatefulSet" && ExpectedUpdated == Desired && UpdateRevision is not null && CurrentRevision is not null && CurrentRevision != UpdateRevision
            ? $"revision {UpdateRevision} not current yet"
        : null;

    public bool IsRolledOut => Pending is null;

    /// <summary>What the rollout waits for beyond what <see cref="Progress"/> shows (a generation not seen, old replicas, availability), or null.</summary>
    public string? Beyond => ObservedGeneration < Generation || Updated >= ExpectedUpdated && Ready >= Desired ? Pending : null;

    /// <summary>"1/2 updated, 1/2 ready".</summary>
    public string Progress => $"{Math.Min(Updated, Desired)}/{Desired} updated, {Math.Min(Ready, Desired)}/{Desired} ready";

    /// <summary>Half for updated replicas, half for ready ones.</summary>
    public int Percent => Desired == 0 ? 100 : (Math.Min(Updated, Desired) + Math.Min(Ready, Desired)) * 50 / Desired;
}

/// <summary>What a pod says about why it is not ready, in a kubelet's words.</summary>
public static class PodStatusText
{
    /// <summary>
    /// "ImagePullBackOff (Back-off pulling image ...)", "CrashLoopBackOff, restarted 4 times, last exit code 1 (Error)",
    /// "running, not ready", "not scheduled: 0/3 nodes are available ..."; null for a running, ready pod.
    /// </summary>
    public static string? Describe(V1Pod pod)
    {
        var status = pod.Status;
        if (pod.Metadata?.DeletionTimestamp is not null) return "terminating";
        if (status?.Phase is "Succeeded") return null;
        var parts = new List<string>();
        // A pod stuck in its init containers says so there first.
        foreach (var init in status?.InitContainerStatuses ?? new List<V1ContainerStatus>())
            if (init.State?.Terminated is not { ExitCode: 0 })
                parts.Add($"init container {init.Name}: " + (init.State?.Running is not null ? "running" : Container(init)));
        var containers = status?.ContainerStatuses ?? new List<V1ContainerStatus>();
        foreach (var container in containers.Where(c => c.Ready != true))
            parts.Add((containers.Count > 1 ? $"container {container.Name}: " : "") + Container(container));
        if (parts.Count > 0) return string.Join("; ", parts);
        if (containers.Count > 0 && status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") != false) return null;
        if (status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled" && c.Status == "False") is { } unscheduled)
            return $"not scheduled: {unscheduled.Reason}{(string.IsNullOrEmpty(unscheduled.Message) ? "" : $" ({unscheduled.Message})")}";
        return (status?.Phase ?? "Pending").ToLowerInvariant() + (status?.Reason is { Length: > 0 } reason ? $" ({reason}{(string.IsNullOrEmpty(status.Message) ? "" : $": {status.Message}")})" : "") +
               (containers.Count > 0 ? ", not ready" : "");
    }

    private static string Container(V1ContainerStatus container)
    {
        var state = container.State;
        // A crash loop's message only repeats the pod's name: its restarts, exit code and log say more.
        var text = state?.Waiting is { } waiting ? waiting.Reason + (string.IsNullOrEmpty(waiting.Message) || waiting.Reason == "CrashLoopBackOff" ? "" : $" ({waiting.Message.Trim()})")
            : state?.Terminated is { } terminated ? $"exited with code {terminated.ExitCode}{(string.IsNullOrEmpty(terminated.Reason) ? "" : $" ({terminated.Reason})")}"
            : state?.Running is not null ? "running, not ready"
            : "not started";
        if (container.RestartCount > 0)
            text += $", restarted {container.RestartCount} time{(container.RestartCount == 1 ? "" : "s")}" +
                    (container.LastState?.Terminated is { } last ? $", last exit code {last.ExitCode}{(string.IsNullOrEmpty(last.Reason) ? "" : $" ({last.Reason})")}" : "");
        else if (state?.Waiting is not null && container.LastState?.Terminated is { } previous)
            text += $", last exit code {previous.ExitCode}";
        return text;
    }

    /// <summary>The reasons to show beside a workload's progress: the distinct waiting reasons of its pods ("CrashLoopBackOff").</summary>
    public static IReadOnlyList<string> Reasons(IEnumerable<V1Pod> pods) =>
        pods.SelectMany(p => (p.Status?.InitContainerStatuses ?? new List<V1ContainerStatus>()).Concat(p.Status?.ContainerStatuses ?? new List<V1ContainerStatus>()))
            .Select(c => c.State?.Waiting?.Reason).OfType<string>().Where(r => r is not ("ContainerCreating" or "PodInitializing")).Distinct().ToList();
}

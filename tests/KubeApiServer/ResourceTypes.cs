namespace KubeApiServer;

/// <summary>A kind the server knows: what discovery lists and what the REST paths accept.</summary>
public sealed record ResourceType(string Group, string Version, string Plural, string Singular, string Kind, bool Namespaced, params string[] ShortNames)
{
    public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public string Key => $"{Group}/{Plural}";
}

public static class ResourceTypes
{
    public static readonly string[] Verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    public static readonly IReadOnlyList<ResourceType> All =
    [
        new("", "v1", "namespaces", "namespace", "Namespace", false, "ns"),
        new("", "v1", "secrets", "secret", "Secret", true),
        new("", "v1", "configmaps", "configmap", "ConfigMap", true, "cm"),
        new("", "v1", "services", "service", "Service", true, "svc"),
        new("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, "sa"),
        new("", "v1", "pods", "pod", "Pod", true, "po"),
        new("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true, "pvc"),
        new("", "v1", "endpoints", "endpoints", "Endpoints", true, "ep"),
        new("", "v1", "events", "event", "Event", true, "ev"),
        new("apps", "v1", "deployments", "deployment", "Deployment", true, "deploy"),
        new("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, "sts"),
        new("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, "ds"),
        new("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, "rs"),
        new("batch", "v1", "jobs", "job", "Job", true),
        new("batch", "v1", "cronjobs", "cronjob", "CronJob", true, "cj"),
        new("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, "ing"),
        new("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, "netpol"),
        new("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, "pdb"),
        new("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, "hpa"),
        new("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true),
        new("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true),
        new("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false),
        new("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false),
    ];

    public static ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);

    public static IEnumerable<string> Groups => All.Where(t => t.Group.Length > 0).Select(t => t.Group).Distinct();
}

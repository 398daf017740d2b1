using Docker.DotNet;
using UpgradeOps.Compose;

namespace UpgradeOps.Backups;

/// <summary>
/// Where a data store's tools (pg_dump, pg_restore, psql, tar) run: inside its Docker container through the Engine's
/// exec API, or inside its Kubernetes pod through the API server's exec. One contract, so the tools' logic exists once.
/// </summary>
internal interface IContainerExec
{
    /// <summary>Where the command runs, for messages ("container ab12cd", "pod ns/name (container database)").</summary>
    string Description { get; }

    /// <param name="standardOutput">Where stdout goes; null keeps up to 1 MiB of it as text in the result.</param>
    /// <param name="standardInput">Fed to the command's stdin, then closed.</param>
    Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null);
}

/// <summary>Docker exec (DockerExec, with its blocking Unix-socket path); the environment goes with the exec, never in the command line.</summary>
internal sealed class DockerContainerExec(DockerClient client, string containerId, IReadOnlyList<string> environment) : IContainerExec
{
    public string Description => $"container {containerId[..Math.Min(12, containerId.Length)]}";

    public Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null) =>
        DockerExec.RunAsync(client, containerId, command, ct, standardOutput, standardInput, environment);
}

/// <summary>Where a deployment's data stores live (its containers, or its release's pods): what verification and restores need.</summary>
internal interface IDataStoreHost : IDisposable
{
    Profiles.ProductProfile Profile { get; }

    /// <summary>The PostgreSQL of a data store, where its tools run.</summary>
    Task<PostgresTarget> PostgresAsync(Profiles.DataStoreDefinition store, CancellationToken ct);
}

internal static class DataStoreHost
{
    public static async Task<IDataStoreHost> OpenAsync(Deployment deployment, CancellationToken ct) =>
        deployment.Platform == DeploymentPlatform.Kubernetes
            ? Kubernetes.KubernetesBackupSource.Open(deployment)
            : await ComposeBackupSource.OpenAsync(deployment, ct).ConfigureAwait(false);
}

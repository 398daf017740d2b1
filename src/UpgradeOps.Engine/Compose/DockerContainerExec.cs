using Docker.DotNet;
using UpgradeOps.Backups;

namespace UpgradeOps.Compose;

/// <summary>Docker exec (DockerExec, with its blocking Unix-socket path); the environment goes with the exec, never in the command line.</summary>
internal sealed class DockerContainerExec(DockerClient client, string containerId, IReadOnlyList<string> environment) : IContainerExec
{
    public string Description => $"container {containerId[..Math.Min(12, containerId.Length)]}";

    public Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null) =>
        DockerExec.RunAsync(client, containerId, command, ct, standardOutput, standardInput, environment);

    public Task<bool> RestartIfHeldBackAsync(CancellationToken ct) => DockerEngine.RestartIfHeldBackAsync(client, containerId, ct);
}

using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace UpgradeOps.Compose;

/// <summary>A container's log through the Engine API: stdout and stderr, from a moment on and/or the last lines only.</summary>
public static class ContainerLogs
{
    public static async Task<(string Stdout, string Stderr)> ReadAsync(DockerClient client, string containerId, DateTimeOffset? since, int? tail,
        bool timestamps, CancellationToken ct)
    {
        using var stream = await client.Containers.GetContainerLogsAsync(containerId, new ContainerLogsParameters
        {
            ShowStdout = true, ShowStderr = true, Timestamps = timestamps, Follow = false,
            Tail = tail?.ToString(CultureInfo.InvariantCulture),
            Since = since?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        }, ct).ConfigureAwait(false);
        return await stream.ReadOutputToEndAsync(ct).ConfigureAwait(false);
    }
}

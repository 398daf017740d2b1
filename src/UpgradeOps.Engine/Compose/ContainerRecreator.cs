using Docker.DotNet;
using Docker.DotNet.Models;

namespace UpgradeOps.Compose;

/// <summary>A container that was replaced: the new one runs under the old name, the old one waits, stopped, under another.</summary>
public sealed record ReplacedContainer(string Name, string PreviousId, string PreviousName, string NewId, string PreviousImage, string NewImage);

/// <summary>
/// Recreates a container from its own inspected configuration with only the image changed: ports,
/// networks and their aliases, mounts, environment, labels (compose's included), healthcheck, restart
/// policy, user and command all carry over. What the old image contributed (its default environment,
/// labels, command, entrypoint, working directory, user, healthcheck) is left for the new image to supply,
/// as docker does for a fresh container, so the new image's defaults apply.
/// </summary>
public static class ContainerRecreator
{
    internal const string PreviousSuffix = "-upgradeops-previous";

    /// <param name="environment">Variables to set or replace (a configuration migration's new values); a null value removes one.</param>
    public static async Task<CreateContainerParameters> BuildAsync(DockerClient client, ContainerInspectResponse current, string newImage, CancellationToken ct,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var oldImage = await client.Images.InspectImageAsync(current.Image, ct).ConfigureAwait(false);
        return Build(current, oldImage.Config ?? new DockerOCIImageConfig(), newImage, environment);
    }

    /// <summary>The create request of <see cref="BuildAsync"/>, from the old container and its image's configuration.</summary>
    internal static CreateContainerParameters Build(ContainerInspectResponse current, DockerOCIImageConfig image, string newImage,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var config = DockerModels.ConfigOf(current);
        var name = current.Name.TrimStart('/');
        var hostNetwork = current.HostConfig?.NetworkMode == "host";

        // A request field left null is not sent: the Engine then uses the new image's own value (or none). The request
        // model declares these fields non-nullable, hence the '!' on the values that may be null.
        var parameters = new CreateContainerParameters
        {
            Name = name,
            Image = newImage,
            Hostname = (hostNetwork || current.ID.StartsWith(config.Hostname ?? "-", StringComparison.Ordinal) ? null : config.Hostname)!,
            Domainname = config.Domainname,
            User = Own(config.User, image.User)!,
            AttachStdin = config.AttachStdin,
            AttachStdout = config.AttachStdout,
            AttachStderr = config.AttachStderr,
            Tty = config.Tty,
            OpenStdin = config.OpenStdin,
            StdinOnce = config.StdinOnce,
            Env = WithOverrides(config.Env?.Except(image.Env ?? new List<string>()).ToList(), environment)!,
            Cmd = (SameList(config.Cmd, image.Cmd) && SameList(config.Entrypoint, image.Entrypoint) ? null : config.Cmd)!,
            Entrypoint = (SameList(config.Entrypoint, image.Entrypoint) ? null : config.Entrypoint)!,
            WorkingDir = Own(config.WorkingDir, image.WorkingDir)!,
            Healthcheck = SameHealthcheck(config.Healthcheck, image.Healthcheck) ? null : config.Healthcheck,
            ExposedPorts = Except(config.ExposedPorts, image.ExposedPorts),
            Volumes = Except(config.Volumes, image.Volumes)!,
            Labels = config.Labels?.Where(l => !(image.Labels?.TryGetValue(l.Key, out var v) == true && v == l.Value))
                .ToDictionary(l => l.Key, l => l.Value)!,
            StopSignal = Own(config.StopSignal, image.StopSignal),
            StopTimeout = config.StopTimeout,
            Shell = SameList(config.Shell, image.Shell) ? null : config.Shell,
            HostConfig = current.HostConfig,
        };

        // One network at creation (API 1.41 allows no more); the others are connected before the start.
        var primary = PrimaryNetwork(current);
        if (primary is not null)
        {
            parameters.NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [primary.Value.Key] = Endpoint(primary.Value.Value, current.ID) },
            };
        }
        return parameters;
    }

    /// <summary>
    /// Stops the container, renames it aside, creates its replacement under the original name, connects the
    /// other networks and starts it. The old container is kept (stopped) for <see cref="RevertAsync"/>.
    /// </summary>
    public static async Task<ReplacedContainer> ReplaceAsync(DockerClient client, string containerId, string newImage, TimeSpan stopTimeout, CancellationToken ct,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var current = await client.Containers.InspectContainerAsync(containerId, ct).ConfigureAwait(false);
        var parameters = await BuildAsync(client, current, newImage, ct, environment).ConfigureAwait(false);
        var name = current.Name.TrimStart('/');
        var previousName = name + PreviousSuffix;

        var wasRunning = DockerModels.StateOf(current).Running;
        if (wasRunning)
            await client.Containers.StopContainerAsync(current.ID, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)stopTimeout.TotalSeconds }, ct).ConfigureAwait(false);
        await client.Containers.RenameContainerAsync(current.ID, new ContainerRenameParameters { NewName = previousName }, ct).ConfigureAwait(false);

        string? newId = null;
        try
        {
            newId = (await client.Containers.CreateContainerAsync(parameters, ct).ConfigureAwait(false)).ID;
            foreach (var (network, endpoint) in SecondaryEndpoints(current))
                await client.Networks.ConnectNetworkAsync(network, new NetworkConnectParameters { Container = newId, EndpointConfig = endpoint }, ct).ConfigureAwait(false);
            await client.Containers.StartContainerAsync(newId, new ContainerStartParameters(), ct).ConfigureAwait(false);
        }
        catch
        {
            await UndoAsync(client, newId, current.ID, name, wasRunning).ConfigureAwait(false);
            throw;
        }
        return new ReplacedContainer(name, current.ID, previousName, newId, DockerModels.ConfigOf(current).Image, newImage);
    }

    /// <summary>Removes the replacement and brings the previous container back under its name, started if it ran.</summary>
    public static Task RevertAsync(DockerClient client, ReplacedContainer replaced, bool start) =>
        UndoAsync(client, replaced.NewId, replaced.PreviousId, replaced.Name, start);

    /// <summary>Removes the previous container once its replacement is proven.</summary>
    public static Task RemovePreviousAsync(DockerClient client, ReplacedContainer replaced) =>
        client.Containers.RemoveContainerAsync(replaced.PreviousId, new ContainerRemoveParameters { Force = true }, CancellationToken.None);

    private static async Task UndoAsync(DockerClient client, string? newId, string previousId, string name, bool start)
    {
        // Never with the caller's token: an undo must finish even after Ctrl+C.
        var none = CancellationToken.None;
        if (newId is not null)
            await client.Containers.RemoveContainerAsync(newId, new ContainerRemoveParameters { Force = true }, none).ConfigureAwait(false);
        await client.Containers.RenameContainerAsync(previousId, new ContainerRenameParameters { NewName = name }, none).ConfigureAwait(false);
        if (start) await client.Containers.StartContainerAsync(previousId, new ContainerStartParameters(), none).ConfigureAwait(false);
    }

    /// <summary>The networks other than the one the replacement is created on, each with its endpoint as configured: connected before the start.</summary>
    internal static List<KeyValuePair<string, EndpointSettings>> SecondaryEndpoints(ContainerInspectResponse current)
    {
        var primary = PrimaryNetwork(current)?.Key;
        if (primary is null) return new();
        return (current.NetworkSettings?.Networks ?? new Dictionary<string, EndpointSettings>())
            .Where(n => n.Key != primary).Select(n => KeyValuePair.Create(n.Key, Endpoint(n.Value, current.ID))).ToList();
    }

    private static KeyValuePair<string, EndpointSettings>? PrimaryNetwork(ContainerInspectResponse current)
    {
        var mode = current.HostConfig?.NetworkMode;
        if (mode is null or "host" or "none" || mode.StartsWith("container:", StringComparison.Ordinal)) return null;
        var networks = current.NetworkSettings?.Networks;
        if (networks is null || networks.Count == 0) return null;
        return networks.TryGetValue(mode, out var endpoint) ? new(mode, endpoint) : networks.First();
    }

    /// <summary>The endpoint as configured: aliases, static addresses, links; not the old container's id alias or runtime state.</summary>
    private static EndpointSettings Endpoint(EndpointSettings current, string oldContainerId) => new()
    {
        // Null fields are not sent (see BuildAsync).
        Aliases = current.Aliases?.Where(a => !oldContainerId.StartsWith(a, StringComparison.Ordinal)).ToList()!,
        IPAMConfig = current.IPAMConfig,
        Links = current.Links,
        DriverOpts = current.DriverOpts,
        // API 1.48 (Docker 28): which network's gateway is the default route. Older engines ignore the field.
        GwPriority = current.GwPriority,
        MacAddress = null!,
    };

    private static List<string>? WithOverrides(List<string>? env, IReadOnlyDictionary<string, string?>? overrides)
    {
        if (overrides is null || overrides.Count == 0) return env;
        var result = (env ?? new List<string>()).Where(e => !overrides.ContainsKey(e.Split('=', 2)[0])).ToList();
        result.AddRange(overrides.Where(o => o.Value is not null).Select(o => $"{o.Key}={o.Value}"));
        return result;
    }

    private static string? Own(string? containerValue, string? imageValue) =>
        string.IsNullOrEmpty(containerValue) || containerValue == imageValue ? null : containerValue;

    private static bool SameList(IList<string>? a, IList<string>? b) =>
        (a is null || a.Count == 0) && (b is null || b.Count == 0) || a is not null && b is not null && a.SequenceEqual(b);

    private static bool SameHealthcheck(HealthcheckConfig? a, HealthcheckConfig? b) =>
        a is null || b is not null && SameList(a.Test, b.Test) && a.Interval == b.Interval && a.Timeout == b.Timeout && a.Retries == b.Retries && a.StartPeriod == b.StartPeriod
        // API 1.44 (Docker 25): start_interval; a container whose only difference from its image is this one must keep it.
        && a.StartInterval == b.StartInterval;

    private static IDictionary<string, TValue>? Except<TValue>(IDictionary<string, TValue>? container, IDictionary<string, TValue>? image)
    {
        if (container is null) return null;
        var own = container.Where(p => image is null || !image.ContainsKey(p.Key)).ToDictionary(p => p.Key, p => p.Value);
        return own.Count == 0 ? null : own;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Profiles;

using UpgradeOps.Versioning;

using UpgradeOps.Rehearsals;

namespace UpgradeOps.Compose;

/// <summary>
/// A disposable copy of a Compose deployment: the production containers' own configuration (read, never changed) under
/// another project name, with fresh volumes, its own ports, and the backup's compose file and .env in a folder of its
/// own. Everything it creates carries the rehearsal labels, so whatever a crash leaves behind is found and removed.
/// </summary>
internal sealed class ComposeRehearsalCopy
{
    private const string ComposeProjectLabel = "com.docker.compose.project";
    private const string ComposeVolumeLabel = "com.docker.compose.volume";
    private const string WorkingDirLabel = "com.docker.compose.project.working_dir";
    private const string ConfigFilesLabel = "com.docker.compose.project.config_files";

    private ComposeRehearsalCopy(string id, string projectName, string folder, string composeFile, IReadOnlyDictionary<int, int> portMap)
    {
        Id = id;
        ProjectName = projectName;
        Folder = folder;
        ComposeFile = composeFile;
        PortMap = portMap;
    }

    public string Id { get; }
    public string ProjectName { get; }
    public string Folder { get; }
    public string ComposeFile { get; }
    public IReadOnlyDictionary<int, int> PortMap { get; }

    /// <summary>Where copies live unless the caller says otherwise (the user's data folder).</summary>
    public static string DefaultRoot =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "UpgradeOps", "rehearsals");

    /// <summary>
    /// Creates the copy's folder, volumes and containers (not started), checking first that its names and ports are free.
    /// Nothing of production is changed: its containers are only inspected.
    /// </summary>
    public static async Task<ComposeRehearsalCopy> CreateAsync(DockerEngine engine, ComposeDeployment production, DeploymentBackup backup, string backupFolder,
        byte[]? passphrase, string root, string id, ILogger log, CancellationToken ct)
    {
        var client = engine.Client;
        var projectName = Compose.ComposeFile.NormalizeProjectName($"{production.Deployment.Name}-rehearsal-{id[^6..]}");
        var containers = new List<ContainerInspectResponse>();
        foreach (var listed in production.Containers.Where(IsProjectContainer))
            containers.Add(await client.Containers.InspectContainerAsync(listed.ID, ct).ConfigureAwait(false));
        if (containers.Count == 0)
            throw new UpgradeOpsException("RehearsalSourceNotRunning", ErrorKind.ObjectNotFound, production.Deployment.Name,
                $"No containers of '{production.Deployment.Name}' exist to copy. A rehearsal copies the deployment's containers on the same Docker Engine: run it where the deployment runs.");
        foreach (var container in containers)
        {
            var mode = container.HostConfig?.NetworkMode;
            if (mode is not ("host" or "none"))
                throw new UpgradeOpsException("RehearsalNetworkNotSupported", ErrorKind.NotImplemented, container.Name.TrimStart('/'),
                    $"{container.Name.TrimStart('/')} uses Docker network '{mode}'. UpgradeOps copies only deployments on the host network for now; " +
                    "rehearse by hand on another machine (restore the backup there with Restore-DeploymentBackup, then Invoke-Upgrade).");
            foreach (var mount in container.Mounts ?? new List<MountPoint>())
                if (mount.Type == "bind" && mount.RW)
                    throw new UpgradeOpsException("RehearsalWritableBindMount", ErrorKind.NotImplemented, mount.Source,
                        $"{container.Name.TrimStart('/')} writes to the host folder {mount.Source}: a copy would write to production's files. " +
                        "Mount it read-only, or use a named volume, to rehearse this deployment.");
        }

        var names = containers.ToDictionary(c => c.ID, c => CopyName(c.Name.TrimStart('/'), production.Deployment.Name, projectName));
        var existing = await client.Containers.ListContainersAsync(new ContainersListParameters { All = true }, ct).ConfigureAwait(false);
        var taken = existing.SelectMany(c => c.Names.Select(n => n.TrimStart('/'))).Intersect(names.Values).ToList();
        if (taken.Count > 0)
            throw new UpgradeOpsException("RehearsalNameInUse", ErrorKind.ResourceUnavailable, taken[0],
                $"Containers named {string.Join(", ", taken)} already exist. Remove them ('docker rm -f NAME') or run the rehearsal again: its name changes every time.");

        var sourceVolumes = containers.SelectMany(c => c.Mounts ?? new List<MountPoint>()).Where(m => m.Type == "volume" && IsNamed(m.Name)).Select(m => m.Name!).Distinct().ToList();
        var volumeNames = sourceVolumes.ToDictionary(v => v, v => $"{projectName}_{ShortVolumeName(v, production.Deployment.Name)}");
        var existingVolumes = (await client.Volumes.ListAsync(ct).ConfigureAwait(false)).Volumes?.Select(v => v.Name).ToHashSet() ?? new HashSet<string>();
        var takenVolumes = volumeNames.Values.Where(existingVolumes.Contains).ToList();
        if (takenVolumes.Count > 0)
            throw new UpgradeOpsException("RehearsalVolumeInUse", ErrorKind.ResourceUnavailable, takenVolumes[0],
                $"Volumes named {string.Join(", ", takenVolumes)} already exist: a copy must start empty. Remove them ('docker volume rm NAME') or run the rehearsal again: its name changes every time.");

        var clientPorts = ClientPortRange();
        var moving = new HashSet<int>(PortsToMove(production.Profile, containers));
        await AddListeningPortsAsync(client, containers, moving, clientPorts, log, ct).ConfigureAwait(false);
        var portMap = ChoosePorts(moving, clientPorts: clientPorts);
        var folder = Path.Combine(root, projectName);
        if (Directory.Exists(folder))
            throw new UpgradeOpsException("RehearsalFolderInUse", ErrorKind.ResourceUnavailable, folder,
                $"The folder {folder} already exists. Remove it, or run the rehearsal again: its name changes every time.");
        var copy = new ComposeRehearsalCopy(id, projectName, folder, Path.Combine(folder, Path.GetFileName(production.File.Path)), portMap);
        log.LogInformation("Rehearsal copy {Project}: ports {Ports}, folder {Folder}", projectName, RehearsalLabels.Format(portMap), folder);

        // Half a copy is never left behind: whatever was created is removed before the error goes up.
        try
        {
            BackupFiles.CreatePrivateDirectory(folder);
            await copy.WriteConfigurationAsync(production, backup, backupFolder, passphrase, log, ct).ConfigureAwait(false);
            var labels = new Dictionary<string, string>
            {
                [RehearsalLabels.Id] = id, [RehearsalLabels.Source] = production.Deployment.Name, [RehearsalLabels.Owner] = RehearsalLabels.CurrentOwner,
                [RehearsalLabels.Ports] = RehearsalLabels.Format(portMap),
            };

            foreach (var (volume, copyVolume) in volumeNames)
            {
                await client.Volumes.CreateAsync(new VolumesCreateParameters
                {
                    Name = copyVolume,
                    Labels = new Dictionary<string, string>(labels) { [ComposeProjectLabel] = projectName, [ComposeVolumeLabel] = ShortVolumeName(volume, production.Deployment.Name) },
                }, ct).ConfigureAwait(false);
            }

            foreach (var container in containers)
            {
                var parameters = await ContainerRecreator.BuildAsync(client, container, ImageAtVersion(production, container, backup.Version), ct).ConfigureAwait(false);
                copy.Adapt(parameters, container, names[container.ID], volumeNames, labels);
                await client.Containers.CreateContainerAsync(parameters, ct).ConfigureAwait(false);
            }
        }
        catch
        {
            await RemoveAsync(engine, id, folder, log).ConfigureAwait(false);
            throw;
        }
        return copy;
    }

    /// <summary>Removes the copy's containers, volumes and folder; returns what could not be removed (with the command that removes it).</summary>
    public Task<IReadOnlyList<string>> RemoveAsync(DockerEngine engine, ILogger log) => RemoveAsync(engine, Id, Folder, log);

    private static async Task<IReadOnlyList<string>> RemoveAsync(DockerEngine engine, string id, string? folder, ILogger log)
    {
        var left = new List<string>();
        var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{RehearsalLabels.Id}={id}"] = true } };
        // Never with the caller's token: a teardown must finish after Ctrl+C.
        var none = CancellationToken.None;
        foreach (var container in await engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, none).ConfigureAwait(false))
        {
            try
            {
                await engine.RemoveOneOffAsync(container.ID, none).ConfigureAwait(false);
            }
            catch (DockerApiException ex)
            {
                left.Add($"docker rm -f {container.Names.First().TrimStart('/')}  # {ex.StatusCode}");
            }
        }
        var volumes = await engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, none).ConfigureAwait(false);
        foreach (var volume in volumes.Volumes ?? new List<VolumeResponse>())
        {
            try
            {
                await engine.Client.Volumes.RemoveAsync(volume.Name, force: true, none).ConfigureAwait(false);
            }
            catch (DockerApiException ex)
            {
                left.Add($"docker volume rm {volume.Name}  # {ex.StatusCode}");
            }
        }
        if (folder is not null && Directory.Exists(folder))
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                left.Add($"rm -r '{folder}'  # {ex.Message}");
            }
        }
        foreach (var item in left) log.LogWarning("Rehearsal copy {Id}: could not remove: {Item}", id, item);
        return left;
    }

    /// <summary>
    /// Removes the copies of <paramref name="source"/> whose owning process is gone (a crash, a killed session, a -Keep);
    /// copies of a rehearsal that still runs, and other deployments' copies, are left alone. Returns the rehearsal ids removed.
    /// </summary>
    public static async Task<IReadOnlyList<string>> RemoveAbandonedAsync(DockerEngine engine, string root, string source, ILogger log, CancellationToken ct)
    {
        var filter = new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [RehearsalLabels.Id] = true, [$"{RehearsalLabels.Source}={source}"] = true },
        };
        var containers = await engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, ct).ConfigureAwait(false);
        var volumes = (await engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, ct).ConfigureAwait(false)).Volumes ?? new List<VolumeResponse>();
        var labelled = containers.Select(c => (Labels: c.Labels, Folder: Label(c.Labels, WorkingDirLabel)))
            .Concat(volumes.Select(v => (Labels: v.Labels ?? new Dictionary<string, string>(), Folder: (string?)null)));
        var owners = labelled.GroupBy(x => Label(x.Labels, RehearsalLabels.Id)!)
            .Select(g => (Id: g.Key, Owner: g.Select(x => Label(x.Labels, RehearsalLabels.Owner)).FirstOrDefault(o => o is not null),
                Folder: g.Select(x => x.Folder).FirstOrDefault(f => f is not null)))
            .ToList();
        var removed = new List<string>();
        foreach (var (id, owner, folder) in owners)
        {
            if (owner is not null && RehearsalLabels.OwnerAlive(owner)) continue;
            // Only a folder under the rehearsal root is ever deleted, whatever a label says.
            var safeFolder = folder is not null && Path.GetFullPath(folder).StartsWith(Path.GetFullPath(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? folder : null;
            log.LogWarning("Removing rehearsal copy {Id} left behind by a rehearsal that did not finish (process {Owner} is gone)", id, owner);
            await RemoveAsync(engine, id, safeFolder, log).ConfigureAwait(false);
            removed.Add(id);
        }
        return removed;
    }

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    /// <summary>Compose names containers PROJECT-SERVICE-N (or PROJECT_SERVICE_N): the copy's get its project in front.</summary>
    internal static string CopyName(string name, string sourceProject, string copyProject) =>
        name.StartsWith(sourceProject, StringComparison.Ordinal) ? copyProject + name[sourceProject.Length..] : $"{copyProject}-{name}";

    /// <summary>The ports a copy must not share: the profile's own list, its API and data-store ports, and published host ports.</summary>
    internal static IReadOnlyCollection<int> PortsToMove(ProductProfile profile, IEnumerable<ContainerInspectResponse> containers)
    {
        var ports = new HashSet<int>(profile.Rehearsal.Ports);
        if (profile.Api.Port is { } api) ports.Add(api);
        foreach (var store in profile.DataStores.Where(s => s.Port > 0)) ports.Add(store.Port);
        foreach (var container in containers)
            foreach (var binding in container.HostConfig?.PortBindings?.Values.SelectMany(b => b ?? new List<PortBinding>()) ?? Enumerable.Empty<PortBinding>())
                if (int.TryParse(binding.HostPort, out var hostPort) && hostPort > 0) ports.Add(hostPort);
        return ports;
    }

    /// <summary>
    /// Adds each port a host-network container listens on to the ports to move; refuses, before anything is created, a port
    /// its copy could not be moved off (<see cref="UnmovablePorts"/>). A container whose ports cannot be read there (no
    /// shell in its image) keeps the profile's list, with a warning.
    /// </summary>
    private static async Task AddListeningPortsAsync(DockerClient client, IEnumerable<ContainerInspectResponse> containers, HashSet<int> moving,
        (int Low, int High) clientPorts, ILogger log, CancellationToken ct)
    {
        foreach (var container in containers.Where(c => c.HostConfig?.NetworkMode == "host" && c.State is { Running: true, Paused: false }))
        {
            var name = container.Name.TrimStart('/');
            var listening = await HostListeningPorts.ReadAsync(client, container.ID, ct).ConfigureAwait(false);
            if (listening is null)
            {
                log.LogWarning("Rehearsal: the ports {Container} listens on could not be read in it (no shell?); the copy moves only the profile's rehearsal.ports and the ports the profile and compose file name", name);
                continue;
            }
            var unmovable = UnmovablePorts(container, listening, moving, clientPorts);
            if (unmovable.Count > 0)
            {
                var service = Label(container.Config?.Labels, "com.docker.compose.service") ?? name;
                throw new UpgradeOpsException("RehearsalPortNotMovable", ErrorKind.NotImplemented, name,
                    $"Service {service} ({name}) listens on port {string.Join(", ", unmovable)} on the host network, and nothing in its settings " +
                    "(environment, command, healthcheck) names it, so its copy could not be moved off it: the copy would fail to start, or its clients " +
                    $"would reach production's. Set the port in {service}'s environment or command in the compose file (its own listen-port setting), then rehearse again.");
            }
            foreach (var port in listening.Where(p => !moving.Contains(p) && NamesPort(container, p)))
            {
                log.LogInformation("Rehearsal: {Container} listens on {Port}: moved in the copy", name, port);
                moving.Add(port);
            }
        }
    }

    /// <summary>
    /// The ports a host-network container listens on that its copy could not be moved off: not moved already, and named
    /// nowhere in its settings, so nothing could be rewritten. A port in the kernel's client range is left out: there, a
    /// port nobody names is one a process picked for itself (port 0), and its copy picks another.
    /// </summary>
    internal static IReadOnlyList<int> UnmovablePorts(ContainerInspectResponse container, IEnumerable<int> listening, IReadOnlySet<int> moving, (int Low, int High) clientPorts) =>
        listening.Where(p => !moving.Contains(p) && !NamesPort(container, p) && (p < clientPorts.Low || p > clientPorts.High)).Order().ToList();

    /// <summary>Whether the port stands alone somewhere the copy's settings are rewritten: environment, command, entrypoint, healthcheck.</summary>
    internal static bool NamesPort(ContainerInspectResponse container, int port)
    {
        var config = container.Config;
        var texts = (config?.Env ?? new List<string>()).Concat(config?.Cmd ?? new List<string>()).Concat(config?.Entrypoint ?? new List<string>())
            .Concat(config?.Healthcheck?.Test ?? new List<string>());
        var number = port.ToString(CultureInfo.InvariantCulture);
        return texts.Any(text => StandalonePort.Matches(text).Any(m => m.Value == number));
    }

    /// <summary>
    /// The same offset for every port (58000 → 59000, 55432 → 56432) so the copy's ports read like production's, the first
    /// offset whose ports are all free on 127.0.0.1 and clear of the ports being moved. Offsets that keep every port out of
    /// <paramref name="clientPorts"/> (the kernel's ephemeral range) come first: a port in it is free when checked, but any
    /// outgoing connection or port-0 listener on the host may take it before the copy's container binds it, and the
    /// container then fails to start.
    /// </summary>
    internal static IReadOnlyDictionary<int, int> ChoosePorts(IReadOnlyCollection<int> ports, Func<int, bool>? isFree = null, (int Low, int High)? clientPorts = null)
    {
        isFree ??= PortIsFree;
        if (ports.Count == 0) return new Dictionary<int, int>();
        var candidates = Enumerable.Range(1, 63).Select(step => ports.ToDictionary(p => p, p => (p + step * 1000 - 1024) % (65535 - 1024) + 1024))
            .Where(candidate => !candidate.Values.Any(ports.Contains) && candidate.Values.Distinct().Count() == candidate.Count);
        bool OutsideClientPorts(IReadOnlyDictionary<int, int> candidate) =>
            clientPorts is not { } range || candidate.Values.All(p => p < range.Low || p > range.High);
        foreach (var candidate in candidates.OrderBy(c => OutsideClientPorts(c) ? 0 : 1))
            if (candidate.Values.All(isFree)) return candidate;
        throw new UpgradeOpsException("RehearsalNoFreePorts", ErrorKind.ResourceUnavailable, string.Join(", ", ports),
            $"No free set of ports was found for a copy of ports {string.Join(", ", ports)}. Remove earlier copies (they are labelled {RehearsalLabels.Id}) or free some ports.");
    }

    /// <summary>The range the kernel hands out to outgoing connections and port-0 listeners (Linux reads it from /proc; elsewhere the IANA dynamic range).</summary>
    internal static (int Low, int High) ClientPortRange(string procFile = "/proc/sys/net/ipv4/ip_local_port_range")
    {
        try
        {
            var parts = File.ReadAllText(procFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && int.TryParse(parts[0], out var low) && int.TryParse(parts[1], out var high) && low <= high) return (low, high);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return (49152, 65535);
    }

    private static bool PortIsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Replaces each moved port where it stands alone (":58000", "-p 55432", "58001"), never inside a longer word or number.</summary>
    internal static string MapPorts(string text, IReadOnlyDictionary<int, int> map)
    {
        if (map.Count == 0 || string.IsNullOrEmpty(text)) return text;
        return StandalonePort.Replace(text, m =>
            int.TryParse(m.Value, out var port) && map.TryGetValue(port, out var mapped) ? mapped.ToString() : m.Value);
    }

    /// <summary>A port number where it stands alone (":58000", "-p 55432", "58001"), never inside a longer word or number.</summary>
    private static readonly Regex StandalonePort = new(@"(?<![\w.])(\d{2,5})(?![\w])", RegexOptions.Compiled);

    private static List<string>? MapPorts(IList<string>? values, IReadOnlyDictionary<int, int> map) =>
        values?.Select(v => MapPorts(v, map)).ToList();

    private static bool IsProjectContainer(ContainerListResponse container) =>
        !(container.Labels.TryGetValue("com.docker.compose.oneoff", out var oneOff) && oneOff == "True") &&
        !container.Names.Any(n => n.EndsWith(ContainerRecreator.PreviousSuffix, StringComparison.Ordinal));

    /// <summary>Compose names volumes PROJECT_VOLUME; the copy's are COPY_VOLUME (an external volume keeps its whole name after COPY_).</summary>
    private static string ShortVolumeName(string volume, string project) =>
        volume.StartsWith(project + "_", StringComparison.Ordinal) ? volume[(project.Length + 1)..] : volume;

    /// <summary>Anonymous volumes are 64 hex characters: the copy's containers get fresh ones from Docker.</summary>
    private static bool IsNamed(string? volume) => volume is not null && !Regex.IsMatch(volume, "^[0-9a-f]{64}$");

    /// <summary>Product images at the backup's version: the copy starts where the backup was taken, whatever production runs now.</summary>
    private static string ImageAtVersion(ComposeDeployment production, ContainerInspectResponse container, string? version)
    {
        var config = DockerModels.ConfigOf(container);
        var service = Label(config.Labels, "com.docker.compose.service");
        var product = production.Profile.Services.Any(s => s.ProductImage && production.ComposeName(s.Name) == service);
        return product && version is not null ? ImageReference.WithTag(config.Image, version) : config.Image;
    }

    /// <summary>The production container's parameters turned into the copy's: name, labels, ports, volumes, no restart policy.</summary>
    private void Adapt(CreateContainerParameters parameters, ContainerInspectResponse source, string name, IReadOnlyDictionary<string, string> volumes,
        IReadOnlyDictionary<string, string> rehearsalLabels)
    {
        var config = DockerModels.ConfigOf(source);
        parameters.Name = name;
        // Everything explicit (the image's defaults included), so each port in it can be moved; a null field is not sent.
        parameters.Env = MapPorts(config.Env, PortMap)!;
        parameters.Cmd = MapPorts(config.Cmd, PortMap)!;
        parameters.Entrypoint = MapPorts(config.Entrypoint, PortMap)!;
        if (config.Healthcheck is { } health)
            parameters.Healthcheck = new HealthcheckConfig
            {
                Test = MapPorts(health.Test, PortMap), Interval = health.Interval, Timeout = health.Timeout, Retries = health.Retries, StartPeriod = health.StartPeriod,
            };
        var labels = new Dictionary<string, string>(config.Labels ?? new Dictionary<string, string>());
        foreach (var (key, value) in rehearsalLabels) labels[key] = value;
        labels[ComposeProjectLabel] = ProjectName;
        labels[WorkingDirLabel] = Folder;
        labels[ConfigFilesLabel] = ComposeFile;
        labels.Remove("com.docker.compose.project.environment_file");
        parameters.Labels = labels;

        var host = DockerModels.HostConfigOf(source);
        host.RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No };
        // Null Binds are not sent (the container has none).
        host.Binds = host.Binds?.Select(bind =>
        {
            var parts = bind.Split(':');
            return volumes.TryGetValue(parts[0], out var copyVolume) ? string.Join(':', new[] { copyVolume }.Concat(parts.Skip(1))) : bind;
        }).ToList()!;
        host.Mounts = host.Mounts?.Select(mount =>
        {
            if (mount.Type == "volume" && mount.Source is not null && volumes.TryGetValue(mount.Source, out var copyVolume)) mount.Source = copyVolume;
            return mount;
        }).ToList();
        // Volumes the container mounts without naming them in HostConfig (compose v1 passes them as binds, others as mounts).
        var named = (host.Binds ?? new List<string>()).Select(b => b.Split(':')[0]).Concat((host.Mounts ?? new List<Mount>()).Select(m => m.Source)).ToHashSet();
        foreach (var mount in source.Mounts ?? Enumerable.Empty<MountPoint>())
        {
            if (mount.Type != "volume" || mount.Name is not { } volume || !volumes.TryGetValue(volume, out var copyVolume)) continue;
            if (named.Contains(copyVolume) || named.Contains(volume)) continue;
            host.Mounts ??= new List<Mount>();
            host.Mounts.Add(new Mount { Type = "volume", Source = copyVolume, Target = mount.Destination, ReadOnly = !mount.RW });
        }
        if (host.PortBindings is not null)
            host.PortBindings = host.PortBindings.ToDictionary(p => p.Key, p => (IList<PortBinding>)(p.Value ?? new List<PortBinding>())
                .Select(b => new PortBinding { HostIP = b.HostIP, HostPort = MapPorts(b.HostPort ?? "", PortMap) }).ToList());
        parameters.HostConfig = host;
    }

    /// <summary>
    /// The backup's compose file and .env (what production ran when the backup was taken), named for the copy. A backup
    /// without its configuration falls back on production's files as they are now, with a warning.
    /// </summary>
    private async Task WriteConfigurationAsync(ComposeDeployment production, DeploymentBackup backup, string backupFolder, byte[]? passphrase, ILogger log,
        CancellationToken ct)
    {
        var files = backup.Components.Where(c => c.Kind == BackupComponentKind.ConfigFile && c.Source is not null).ToList();
        var composeComponent = files.FirstOrDefault(c => Path.GetFileName(c.Source!) == Path.GetFileName(production.File.Path));
        var envComponent = files.FirstOrDefault(c => Path.GetFileName(c.Source!) == ".env");
        if (composeComponent is null)
            log.LogWarning("Backup {Backup} holds no compose file: the copy uses production's current {File}.", backup.Id, production.File.Path);

        async Task<string> ReadAsync(BackupComponent? component, string fallback)
        {
            if (component is null) return File.Exists(fallback) ? await File.ReadAllTextAsync(fallback, ct).ConfigureAwait(false) : "";
            await using var content = BackupVerifier.OpenContent(backupFolder, component, passphrase);
            using var reader = new StreamReader(content);
            return await reader.ReadToEndAsync(ct).ConfigureAwait(false);
        }

        var compose = await ReadAsync(composeComponent, production.File.Path).ConfigureAwait(false);
        // A top-level 'name:' would give the copy production's project name.
        compose = Regex.Replace(compose, @"(?m)^name:.*$", $"name: {ProjectName}");
        var env = await ReadAsync(envComponent, production.File.EnvFilePath).ConfigureAwait(false);
        env = Regex.Replace(env, @"(?m)^COMPOSE_PROJECT_NAME=.*\n?", "");
        if (env.Length > 0 && !env.EndsWith('\n')) env += "\n";
        env += $"COMPOSE_PROJECT_NAME={ProjectName}\n";
        await WritePrivateAsync(ComposeFile, compose, ct).ConfigureAwait(false);
        await WritePrivateAsync(Path.Combine(Folder, ".env"), env, ct).ConfigureAwait(false);
    }

    private static async Task WritePrivateAsync(string path, string text, CancellationToken ct)
    {
        await using var file = BackupFiles.CreatePrivateFile(path);
        await using var writer = new StreamWriter(file);
        await writer.WriteAsync(text.AsMemory(), ct).ConfigureAwait(false);
    }
}

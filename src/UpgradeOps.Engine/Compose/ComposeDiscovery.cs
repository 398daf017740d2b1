using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

using UpgradeOps.Versioning;

using UpgradeOps.Rehearsals;

namespace UpgradeOps.Compose;

/// <summary>What Get-UpgradeDeployment asks for a Compose deployment.</summary>
public sealed class ComposeDiscoveryRequest
{
    public string? ComposeFile { get; init; }
    public string? ProjectName { get; init; }
    public string Profile { get; init; } = "infrahub";
    public string? DockerHost { get; init; }

    /// <summary>Describes a deployment afresh: the object in a pipeline may date from before an upgrade.</summary>
    public static ComposeDiscoveryRequest Again(Deployment deployment) => deployment.Location is null
        ? throw new UpgradeOpsException("DeploymentNotSupported", ErrorKind.InvalidArgument, deployment.Name,
            $"Deployment '{deployment.Name}' is not a Compose deployment with a known compose file. Get it again with Get-UpgradeDeployment -ComposeFile.")
        : new() { ComposeFile = deployment.Location, Profile = deployment.Profile, DockerHost = deployment.Endpoint };
}

/// <summary>
/// Describes a Compose deployment from two sources that can disagree — the compose file with its .env, and
/// the containers a compose implementation created (found by their com.docker.compose.* labels) — and says
/// so when they do, rather than guessing.
/// </summary>
public static class ComposeDiscovery
{
    internal const string ProjectLabel = "com.docker.compose.project";
    internal const string ServiceLabel = "com.docker.compose.service";
    internal const string ConfigFilesLabel = "com.docker.compose.project.config_files";
    internal const string OneOffLabel = "com.docker.compose.oneoff";

    public static async Task<Deployment> DiscoverAsync(ComposeDiscoveryRequest request, EngineContext context)
    {
        var log = context.CreateLogger(nameof(ComposeDiscovery));
        var ct = context.CancellationToken;
        var profile = ProfileLoader.Load(request.Profile);
        var file = request.ComposeFile is null ? null : ComposeFile.Load(request.ComposeFile);
        var projectName = request.ProjectName is not null ? ComposeFile.NormalizeProjectName(request.ProjectName) : file!.ProjectName();
        // A compose file without the profile's services is the wrong file or profile: said before the engine is asked.
        if (file is not null) CheckProfileServices(profile, file.Services.Keys, projectName, file.Path);

        using var progress = context.StartActivity($"Reading Compose deployment {projectName}");
        progress.Report("Connecting to the Docker Engine", 10);
        using var engine = await DockerEngine.ConnectAsync(request.DockerHost, ct).ConfigureAwait(false);
        log.LogDebug("Docker Engine at {Endpoint}", engine.Endpoint);

        progress.Report("Listing containers", 30);
        var containers = await ListProjectContainersAsync(engine, projectName, ct).ConfigureAwait(false);
        log.LogDebug("Project {Project}: {Count} containers", projectName, containers.Count);

        var warnings = new List<string>();
        if (file is null)
        {
            if (containers.Count == 0)
                throw new UpgradeOpsException("ComposeProjectNotFound", ErrorKind.ObjectNotFound, request.ProjectName,
                    $"No containers of Compose project '{projectName}' exist on {engine.Endpoint}. Check the name with 'docker compose ls', or give -ComposeFile.");
            file = LoadFileFromLabels(containers, warnings);
        }
        else if (containers.Count == 0)
        {
            warnings.Add($"Compose project '{projectName}' has no containers on {engine.Endpoint}: the deployment is described from {file.Path} alone.");
        }

        progress.Report("Matching services to the profile", 60);
        var serviceNames = file?.Services.Keys ?? containers.Select(c => c.Labels[ServiceLabel]).Distinct();
        CheckProfileServices(profile, serviceNames, projectName, file?.Path);

        var services = new List<DeploymentService>();
        foreach (var name in serviceNames.OrderBy(n => n, StringComparer.Ordinal))
        {
            var definition = file?.Services.GetValueOrDefault(name);
            var own = containers.Where(c => c.Labels.TryGetValue(ServiceLabel, out var s) && s == name).ToList();
            services.Add(await DescribeServiceAsync(engine, profile, name, definition, own, ct).ConfigureAwait(false));
        }

        var versionService = ComposeName(profile, profile.Version.Service) ?? services.FirstOrDefault(s => s.Role == ServiceRole.Api)?.Name;
        var configured = versionService is not null ? ImageReference.Version(file?.Services.GetValueOrDefault(versionService)?.Image) : null;
        var running = RunningVersion(profile, services, warnings);
        if (running is null && configured is not null && containers.Count == 0)
            warnings.Add($"The version {configured} comes from the compose file; nothing is running to confirm it.");
        if (running is not null && configured is not null && running != configured)
            warnings.Add($"The compose file and .env name version {configured}, but the containers run {running}: an upgrade or rollback was not finished, " +
                         "or the file was edited without 'docker compose up'. Decide which is right before upgrading.");

        if (file?.ExposedSecretNames is { Count: > 0 } exposed)
            warnings.Add($"{string.Join(", ", exposed)} {(exposed.Count == 1 ? "has" : "have")} a password that is also a name the deployment shows " +
                         "(a service, project, user or database name): it cannot be hidden in reports and logs, and anyone can guess it. " +
                         "Set a real password in the .env (and in the service that checks it), then 'docker compose up -d'.");

        progress.Report("Done", 100);
        return new Deployment
        {
            Name = projectName,
            Platform = DeploymentPlatform.Compose,
            Profile = profile.Source.StartsWith("builtin:", StringComparison.Ordinal) ? profile.Name : profile.Source,
            Version = running ?? (containers.Count == 0 ? configured : null),
            ConfiguredVersion = configured,
            RunningVersion = running,
            Services = services,
            ApiEndpoint = ApiEndpoint(profile, services, file, containers),
            PortMap = PortMapping.From(containers.Select(c => Rehearsals.RehearsalLabels.PortMap(c.Labels)).FirstOrDefault(m => m.Count > 0)),
            Location = file?.Path,
            Endpoint = engine.Endpoint.ToString(),
            Warnings = warnings,
        };
    }

    internal static async Task<IList<ContainerListResponse>> ListProjectContainersAsync(DockerEngine engine, string projectName, CancellationToken ct)
    {
        var all = await engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{ProjectLabel}={projectName}"] = true },
            },
        }, ct).ConfigureAwait(false);
        // One-off containers ('compose run') are not part of the deployment.
        return all.Where(c => c.Labels.ContainsKey(ServiceLabel) &&
                              !(c.Labels.TryGetValue(OneOffLabel, out var oneOff) && oneOff.Equals("True", StringComparison.OrdinalIgnoreCase)))
            .ToList();
    }

    /// <summary>The compose file a container was created from: the first of its config_files label, or null.</summary>
    internal static string? FirstConfigFile(IDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(ConfigFilesLabel, out var files) && files.Split(',')[0] is { Length: > 0 } first ? first : null;

    private static ComposeFile? LoadFileFromLabels(IList<ContainerListResponse> containers, List<string> warnings)
    {
        var first = containers.Select(c => FirstConfigFile(c.Labels)).FirstOrDefault(f => f is not null);
        if (first is not null && File.Exists(first)) return ComposeFile.Load(first);
        warnings.Add(first is null
            ? "The containers do not say which compose file created them: the deployment is described from the containers alone."
            : $"The compose file the containers were created from ({first}) is not readable here: the deployment is described from the containers alone.");
        return null;
    }

    private static void CheckProfileServices(ProductProfile profile, IEnumerable<string> present, string projectName, string? filePath)
    {
        var names = present.ToHashSet(StringComparer.Ordinal);
        var missing = profile.Services.Where(s => !s.Optional && !names.Contains(s.ComposeService ?? s.Name)).Select(s => s.ComposeService ?? s.Name).ToList();
        if (missing.Count == 0) return;
        throw new UpgradeOpsException("ProfileServiceMissing", ErrorKind.InvalidData, filePath ?? projectName,
            $"Profile '{profile.Name}' expects service(s) {string.Join(", ", missing)}, which project '{projectName}' does not have " +
            $"(it has: {string.Join(", ", names.Order())}). Check that this is the right deployment and profile (-Profile), or mark the services optional in a profile of your own.");
    }

    private static async Task<DeploymentService> DescribeServiceAsync(DockerEngine engine, ProductProfile profile, string name,
        ComposeServiceDefinition? definition, List<ContainerListResponse> containers, CancellationToken ct)
    {
        var described = new List<DeploymentContainer>();
        foreach (var container in containers.OrderBy(c => c.Names.FirstOrDefault(), StringComparer.Ordinal))
        {
            var inspect = await engine.Client.Containers.InspectContainerAsync(container.ID, ct).ConfigureAwait(false);
            var state = DockerModels.StateOf(inspect);
            described.Add(new DeploymentContainer
            {
                Id = container.ID,
                Name = inspect.Name.TrimStart('/'),
                Image = DockerModels.ConfigOf(inspect).Image,
                ImageId = inspect.Image,
                State = state.Status,
                Health = state.Health?.Status is { Length: > 0 } health && health != "none" ? health : null,
                ExitCode = state.Running ? null : state.ExitCode,
            });
        }

        var running = described.Where(c => c.State == "running").ToList();
        var image = running.FirstOrDefault()?.Image ?? definition?.Image;
        var expected = definition?.Replicas ?? Math.Max(1, described.Count);
        var role = profile.Services.FirstOrDefault(s => (s.ComposeService ?? s.Name) == name)?.Role ?? ServiceRole.Other;
        return new DeploymentService
        {
            Name = name,
            Role = role,
            Image = image,
            Version = ImageReference.Version(image),
            Replicas = running.Count,
            ExpectedReplicas = expected,
            Healthy = running.Count >= expected && running.All(c => c.IsHealthy),
            Containers = described,
        };
    }

    private static string? RunningVersion(ProductProfile profile, List<DeploymentService> services, List<string> warnings)
    {
        var productServices = profile.Services.Where(s => s.ProductImage).Select(s => s.ComposeService ?? s.Name).ToHashSet();
        var versions = services.Where(s => productServices.Contains(s.Name))
            .SelectMany(s => s.Containers.Where(c => c.State == "running").Select(c => (Service: s.Name, Version: ImageReference.Version(c.Image))))
            .Where(v => v.Version is not null)
            .ToList();
        var distinct = versions.Select(v => v.Version!).Distinct().ToList();
        if (distinct.Count <= 1) return distinct.FirstOrDefault();
        warnings.Add("The product's containers run different versions (" +
                     string.Join(", ", versions.GroupBy(v => v.Version).Select(g => $"{g.Key}: {string.Join(", ", g.Select(v => v.Service).Distinct())}")) +
                     "): an upgrade was interrupted. Resume it (Invoke-Upgrade -Resume) or roll it back (Invoke-Rollback) before anything else.");
        return null;
    }

    private static string? ApiEndpoint(ProductProfile profile, List<DeploymentService> services, ComposeFile? file, IList<ContainerListResponse> containers)
    {
        var apiService = ComposeName(profile, profile.Api.Service) ?? services.FirstOrDefault(s => s.Role == ServiceRole.Api)?.Name;
        if (apiService is null || profile.Api.Port is not { } port) return null;

        var definition = file?.Services.GetValueOrDefault(apiService);
        var container = containers.FirstOrDefault(c => Label(c, ServiceLabel) == apiService && c.State == "running");
        if (definition?.NetworkMode == "host" || container?.HostConfig?.NetworkMode == "host")
            return $"http://127.0.0.1:{Rehearsals.RehearsalLabels.MapPort(container?.Labels, port)}";

        var published = container?.Ports?.FirstOrDefault(p => p.PrivatePort == port && p.PublicPort > 0);
        if (published is null) return null;
        var host = string.IsNullOrEmpty(published.IP) || published.IP is "0.0.0.0" or "::" ? "127.0.0.1" : published.IP;
        return $"http://{(host.Contains(':') ? $"[{host}]" : host)}:{published.PublicPort}";
    }

    private static string? Label(ContainerListResponse container, string key) =>
        container.Labels is not null && container.Labels.TryGetValue(key, out var value) ? value : null;

    private static string? ComposeName(ProductProfile profile, string? serviceName) =>
        serviceName is null ? null : profile.Services.FirstOrDefault(s => s.Name == serviceName)?.ComposeService ?? serviceName;
}

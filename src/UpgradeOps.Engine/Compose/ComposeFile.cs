using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace UpgradeOps.Compose;

/// <summary>One service as the compose file declares it, with variables interpolated as compose would.</summary>
public sealed class ComposeServiceDefinition
{
    public required string Name { get; init; }
    /// <summary>The image reference as written, before interpolation (e.g. "${REG}:${VERSION:-1.7.5}").</summary>
    public string? RawImage { get; init; }
    /// <summary>The image reference compose would use.</summary>
    public string? Image { get; init; }
    /// <summary>deploy.replicas, else scale, else 1.</summary>
    public int Replicas { get; init; } = 1;
    public bool HasHealthcheck { get; init; }
    public string? NetworkMode { get; init; }
}

/// <summary>
/// A compose file read the way compose reads it: anchors and merge keys resolved, variables interpolated
/// from the process environment and the .env file beside it (the environment wins).
/// </summary>
public sealed class ComposeFile
{
    private ComposeFile(string path, string? name, IReadOnlyDictionary<string, ComposeServiceDefinition> services,
        IReadOnlyDictionary<string, string> dotEnv)
    {
        Path = path;
        Name = name;
        Services = services;
        DotEnv = dotEnv;
    }

    public string Path { get; }
    public string Directory => System.IO.Path.GetDirectoryName(Path)!;
    public string EnvFilePath => System.IO.Path.Combine(Directory, ".env");
    /// <summary>The top-level 'name:' of the project, when the file sets one.</summary>
    public string? Name { get; }
    public IReadOnlyDictionary<string, ComposeServiceDefinition> Services { get; }
    /// <summary>The .env file's values. Secrets: never log or return them.</summary>
    internal IReadOnlyDictionary<string, string> DotEnv { get; }

    /// <summary>The project name compose would use: 'name:', COMPOSE_PROJECT_NAME, else the folder name.</summary>
    public string ProjectName(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var name = Name ?? environment("COMPOSE_PROJECT_NAME") ?? DotEnv.GetValueOrDefault("COMPOSE_PROJECT_NAME")
                   ?? System.IO.Path.GetFileName(Directory);
        return NormalizeProjectName(name);
    }

    /// <summary>Compose's normalisation: lower case, only letters, digits, '-' and '_'.</summary>
    public static string NormalizeProjectName(string name) =>
        new(name.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_').ToArray());

    public static ComposeFile Load(string path, Func<string, string?>? environment = null)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        if (!File.Exists(fullPath))
            throw new UpgradeOpsException("ComposeFileNotFound", ErrorKind.ObjectNotFound, path,
                $"Compose file '{fullPath}' does not exist. Give the path of the deployment's docker-compose.yml, or use -ProjectName for a running project.");

        var dotEnv = EnvFile.Read(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(fullPath)!, ".env"));
        environment ??= Environment.GetEnvironmentVariable;
        string? Lookup(string name) => environment(name) ?? dotEnv.GetValueOrDefault(name);

        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(fullPath)) stream.Load(reader);
            root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode mapping
                ? mapping
                : throw Invalid(fullPath, Mark.Empty, "the file is empty or is not a mapping of top-level keys");
        }
        catch (YamlException ex)
        {
            throw Invalid(fullPath, ex.Start, (ex.InnerException ?? ex).Message, ex);
        }

        var services = new Dictionary<string, ComposeServiceDefinition>(StringComparer.Ordinal);
        if (Child(root, "services") is YamlMappingNode serviceNodes)
        {
            foreach (var (keyNode, valueNode) in Entries(serviceNodes))
            {
                var name = ((YamlScalarNode)keyNode).Value!;
                if (valueNode is not YamlMappingNode service)
                    throw Invalid(fullPath, valueNode.Start, $"service '{name}' must be a mapping");
                services[name] = ReadService(fullPath, name, service, Lookup);
            }
        }
        else
        {
            throw Invalid(fullPath, root.Start, "there is no 'services:' mapping");
        }

        var projectName = Child(root, "name") is YamlScalarNode nameNode ? Interpolate(fullPath, nameNode, Lookup) : null;
        return new ComposeFile(fullPath, projectName, services, dotEnv);
    }

    private static ComposeServiceDefinition ReadService(string path, string name, YamlMappingNode service, Func<string, string?> lookup)
    {
        var rawImage = (Child(service, "image") as YamlScalarNode)?.Value;
        var replicas = 1;
        if (Child(service, "deploy") is YamlMappingNode deploy && Child(deploy, "replicas") is YamlScalarNode r)
            replicas = int.Parse(Interpolate(path, r, lookup));
        else if (Child(service, "scale") is YamlScalarNode scale)
            replicas = int.Parse(Interpolate(path, scale, lookup));

        return new ComposeServiceDefinition
        {
            Name = name,
            RawImage = rawImage,
            Image = Child(service, "image") is YamlScalarNode image ? Interpolate(path, image, lookup) : null,
            Replicas = replicas,
            HasHealthcheck = Child(service, "healthcheck") is YamlMappingNode health &&
                             !(Child(health, "disable") is YamlScalarNode { Value: "true" }),
            NetworkMode = (Child(service, "network_mode") as YamlScalarNode)?.Value,
        };
    }

    private static string Interpolate(string path, YamlScalarNode node, Func<string, string?> lookup)
    {
        try
        {
            return ComposeInterpolation.Interpolate(node.Value ?? string.Empty, lookup);
        }
        catch (FormatException ex)
        {
            throw Invalid(path, node.Start, ex.Message, ex);
        }
    }

    /// <summary>A mapping's entries with merge keys ('&lt;&lt;: *anchor') expanded; explicit keys win.</summary>
    internal static IEnumerable<(YamlNode Key, YamlNode Value)> Entries(YamlMappingNode mapping)
    {
        var merged = new List<(YamlNode, YamlNode)>();
        var explicitKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in mapping.Children)
        {
            if (key is YamlScalarNode { Value: "<<" }) continue;
            explicitKeys.Add(((YamlScalarNode)key).Value!);
            merged.Add((key, value));
        }
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: "<<" }) continue;
            var sources = value is YamlSequenceNode list ? list.Children : new[] { value };
            foreach (var source in sources.OfType<YamlMappingNode>())
                foreach (var (mergedKey, mergedValue) in Entries(source))
                    if (explicitKeys.Add(((YamlScalarNode)mergedKey).Value!))
                        merged.Add((mergedKey, mergedValue));
        }
        return merged;
    }

    internal static YamlNode? Child(YamlMappingNode mapping, string key) =>
        Entries(mapping).Where(e => e.Key is YamlScalarNode scalar && scalar.Value == key).Select(e => e.Value).FirstOrDefault();

    private static UpgradeOpsException Invalid(string path, Mark mark, string reason, Exception? inner = null)
    {
        var where = mark.Equals(Mark.Empty) ? path : $"{path}:{mark.Line}:{mark.Column}";
        return new UpgradeOpsException("ComposeFileInvalid", ErrorKind.InvalidData, path,
            $"{where}: {reason}. Fix the compose file (docker compose config shows how compose reads it) and try again.", inner);
    }
}

using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

using UpgradeOps.Hosting;

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
    /// <summary>The service's environment: as written in the file (mapping or KEY=value list), interpolated; a variable only named (no value) is left out.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A compose file read the way compose reads it: anchors and merge keys resolved, variables interpolated
/// from the process environment and the .env file beside it (the environment wins).
/// </summary>
public sealed partial class ComposeFile
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

    /// <summary>
    /// What a report or a log of this deployment must mask: the .env's values, and the values written in the file itself
    /// (a service's environment, defaults such as ${INFRAHUB_DB_PASSWORD:-admin} included) whose name says they are secret
    /// or that carry credentials in a URL. Other values written in the file (paths, log levels, addresses) stay readable.
    /// </summary>
    /// A secret whose value is also a name the deployment shows anyway (see <see cref="ExposedSecretNames"/>) is left out.
    public IReadOnlyList<KeyValuePair<string, string>> Secrets
    {
        get
        {
            var shown = PublicNames();
            return AllSecrets().Where(v => !shown.Contains(v.Value)).ToList();
        }
    }

    /// <summary>
    /// The variables whose secret value is also a name every report shows: a service's name or a part of it, the project's
    /// name, or the value of a user, database, host or image variable. Infrahub's own file does this with its defaults
    /// (INFRAHUB_BROKER_PASSWORD=infrahub beside the user infrahub and the service infrahub-server; POSTGRES_PASSWORD=postgres
    /// beside POSTGRES_USER=postgres). Masking such a value hides nothing and turned every "infrahub-server" of a report into
    /// "***-server"; it is shown, and Get-UpgradeDeployment warns that the password must be changed.
    /// </summary>
    public IReadOnlyList<string> ExposedSecretNames
    {
        get
        {
            var shown = PublicNames();
            return AllSecrets().Where(v => SecretRedactor.IsSecretName(v.Key) && shown.Contains(v.Value)).Select(v => v.Key)
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        }
    }

    private IEnumerable<KeyValuePair<string, string>> AllSecrets() =>
        DotEnv.Concat(Services.Values.SelectMany(s => s.Environment)
            .Where(v => SecretRedactor.IsSecretName(v.Key) || SecretRedactor.HasUrlCredentials(v.Value)));

    private HashSet<string> PublicNames()
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ProjectName(_ => null) };
        foreach (var service in Services.Keys)
        {
            names.Add(service);
            names.UnionWith(service.Split('-', '_', '.'));
        }
        foreach (var (key, value) in DotEnv.Concat(Services.Values.SelectMany(s => s.Environment)))
            if (value.Length > 0 && SecretRedactor.IsIdentityName(key) && !SecretRedactor.HasUrlCredentials(value)) names.Add(value);
        names.Remove("");
        return names;
    }

    /// <summary>
    /// The <see cref="Secrets"/> of the compose file at <paramref name="path"/> as it is now (the .env may have changed since
    /// the deployment was opened); the .env's values alone when the file cannot be read, since a broken deployment's report
    /// must still be masked.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> SecretsAt(string path)
    {
        try
        {
            return Load(path).Secrets;
        }
        catch (UpgradeOpsException)
        {
            try { return EnvFile.Read(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, ".env")).ToList(); }
            catch (UpgradeOpsException) { return Array.Empty<KeyValuePair<string, string>>(); }
        }
    }

    /// <summary>Masks the <see cref="SecretsAt"/> the compose file at <paramref name="path"/>.</summary>
    public static SecretRedactor RedactorAt(string path) => new(SecretsAt(path));
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
        if (System.IO.Directory.Exists(fullPath))
            throw new UpgradeOpsException("ComposeFileNotFound", ErrorKind.ObjectNotFound, path,
                $"'{LocalFile.Shown(fullPath)}' is a folder, not a compose file. Give the path of the compose file in it (docker-compose.yml or compose.yaml).");
        var text = LocalFile.Read(fullPath, "The compose file", "ComposeFileUnreadable")?.Text
            ?? throw new UpgradeOpsException("ComposeFileNotFound", ErrorKind.ObjectNotFound, path,
                $"Compose file '{LocalFile.Shown(fullPath)}' does not exist. Give the path of the deployment's docker-compose.yml, or use -ProjectName for a running project.");

        var dotEnv = EnvFile.Read(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(fullPath)!, ".env"));
        environment ??= Environment.GetEnvironmentVariable;
        string? Lookup(string name) => environment(name) ?? dotEnv.GetValueOrDefault(name);

        List<YamlDocument> documents;
        try
        {
            documents = SafeYaml.Load(text).Documents.Where(d => !IsEmpty(d.RootNode)).ToList();
        }
        catch (YamlException ex)
        {
            throw new UpgradeOpsException("ComposeFileInvalid", ErrorKind.InvalidData, fullPath, $"{SafeYaml.Describe(fullPath, text, ex)}. {Remedy}", ex);
        }
        // Compose merges the documents of one file as layers; reading only the first would miss what the others change.
        if (documents.Count > 1)
            throw new UpgradeOpsException("ComposeFileNotSupported", ErrorKind.NotImplemented, fullPath,
                $"{SafeYaml.Where(fullPath, At(documents[1].RootNode))}: the file holds {documents.Count} YAML documents (separated by ---), which compose merges; " +
                "UpgradeOps reads a compose file of one document. Write the merged file with 'docker compose config', use it instead, then run it again.");
        var root = documents.FirstOrDefault()?.RootNode switch
        {
            null => throw Invalid(fullPath, null, "the file is empty"),
            YamlMappingNode mapping => mapping,
            var other => throw Invalid(fullPath, At(other), $"the top level must be a mapping of keys (services:, volumes:, ...), not {Kind(other)}"),
        };

        var services = new Dictionary<string, ComposeServiceDefinition>(StringComparer.Ordinal);
        var serviceNodes = Child(fullPath, root, "services") switch
        {
            null => throw Invalid(fullPath, null, "there is no 'services:' mapping"),
            YamlMappingNode mapping => mapping,
            var other => throw Invalid(fullPath, At(other), $"'services:' must be a mapping of service names to their definitions, not {Kind(other)}"),
        };
        foreach (var (keyNode, valueNode) in Entries(fullPath, serviceNodes))
        {
            var name = ((YamlScalarNode)keyNode).Value!;
            // The compose schema's pattern for service names; it also keeps control characters out of every later message.
            if (!ServiceName().IsMatch(name))
                throw Invalid(fullPath, At(keyNode), $"the service name '{name}' may hold only letters, digits, '.', '_' and '-', as compose requires");
            if (valueNode is not YamlMappingNode service)
                throw Invalid(fullPath, At(valueNode), $"service '{name}' must be a mapping");
            services[name] = ReadService(fullPath, name, service, Lookup);
        }

        var projectName = Child(fullPath, root, "name") is YamlScalarNode nameNode ? Interpolate(fullPath, nameNode, Lookup) : null;
        return new ComposeFile(fullPath, projectName, services, dotEnv);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-zA-Z0-9._-]+$")]
    private static partial System.Text.RegularExpressions.Regex ServiceName();

    private const string Remedy = "Fix the compose file (docker compose config shows how compose reads it) and try again.";

    private static ComposeServiceDefinition ReadService(string path, string name, YamlMappingNode service, Func<string, string?> lookup)
    {
        var rawImage = (Child(path, service, "image") as YamlScalarNode)?.Value;
        var replicas = 1;
        if (Child(path, service, "deploy") is YamlMappingNode deploy && Child(path, deploy, "replicas") is YamlScalarNode r)
            replicas = Count(path, "deploy.replicas", r, lookup);
        else if (Child(path, service, "scale") is YamlScalarNode scale)
            replicas = Count(path, "scale", scale, lookup);

        return new ComposeServiceDefinition
        {
            Name = name,
            RawImage = rawImage,
            Image = Child(path, service, "image") is YamlScalarNode image ? Interpolate(path, image, lookup) : null,
            Replicas = replicas,
            HasHealthcheck = Child(path, service, "healthcheck") is YamlMappingNode health &&
                             !(Child(path, health, "disable") is YamlScalarNode { Value: "true" }),
            NetworkMode = (Child(path, service, "network_mode") as YamlScalarNode)?.Value,
            Environment = ReadEnvironment(path, Child(path, service, "environment"), lookup),
        };
    }

    /// <summary>
    /// environment: as a mapping (merge keys expanded) or a list of KEY=value. A value compose could not interpolate is left
    /// out rather than refused: it is read to mask secrets written in the file, and compose itself reports the error.
    /// </summary>
    private static Dictionary<string, string> ReadEnvironment(string path, YamlNode? node, Func<string, string?> lookup)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name, string? raw)
        {
            if (raw is null || name.Length == 0) return;
            try { environment[name] = ComposeInterpolation.Interpolate(raw, lookup); }
            catch (FormatException) { }
        }
        if (node is YamlMappingNode mapping)
            foreach (var (key, value) in Entries(path, mapping))
                // "KEY:" alone (a plain empty value) takes the shell's value, not an empty one.
                Add(((YamlScalarNode)key).Value!, value is YamlScalarNode scalar && !(scalar.Style == ScalarStyle.Plain && string.IsNullOrEmpty(scalar.Value)) ? scalar.Value : null);
        else if (node is YamlSequenceNode list)
            foreach (var item in list.Children.OfType<YamlScalarNode>())
                if (item.Value is { } entry && entry.IndexOf('=') is > 0 and var equals)
                    Add(entry[..equals], entry[(equals + 1)..]);
        return environment;
    }

    /// <summary>A replica count: a whole number, 0 or more (compose scales a service to zero).</summary>
    private static int Count(string path, string key, YamlScalarNode node, Func<string, string?> lookup)
    {
        var text = Interpolate(path, node, lookup);
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count)
            ? count
            : throw Invalid(path, At(node), $"{key} must be a whole number of replicas, not '{text}'");
    }

    private static string Interpolate(string path, YamlScalarNode node, Func<string, string?> lookup)
    {
        try
        {
            return ComposeInterpolation.Interpolate(node.Value ?? string.Empty, lookup);
        }
        catch (FormatException ex)
        {
            throw Invalid(path, At(node), ex.Message.TrimEnd('.'), ex);
        }
    }

    /// <summary>
    /// A mapping's entries with merge keys ('&lt;&lt;: *anchor') expanded; explicit keys win. Every key must be a name
    /// (a mapping or a list as a key is refused), and a merge must bring mappings that do not contain it.
    /// </summary>
    internal static IEnumerable<(YamlNode Key, YamlNode Value)> Entries(string path, YamlMappingNode mapping) => Entries(path, mapping, new HashSet<YamlMappingNode>(ReferenceEqualityComparer.Instance));

    private static List<(YamlNode Key, YamlNode Value)> Entries(string path, YamlMappingNode mapping, HashSet<YamlMappingNode> merging)
    {
        merging.Add(mapping);
        var merged = new List<(YamlNode, YamlNode)>();
        var explicitKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } name })
                throw Invalid(path, At(key), $"a key (such as a service name) must be a name, not {Kind(key)}");
            if (name == "<<") continue;
            explicitKeys.Add(name);
            merged.Add((key, value));
        }
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: "<<" }) continue;
            var sources = value is YamlSequenceNode list ? list.Children : new[] { value };
            foreach (var source in sources)
            {
                if (source is not YamlMappingNode sourceMapping)
                    throw Invalid(path, At(source), $"'<<' merges a mapping (an alias such as *defaults) or a list of them, not {Kind(source)}");
                if (merging.Contains(sourceMapping))
                    throw Invalid(path, At(key), "'<<' merges a mapping that contains this very merge (its anchor refers to itself)");
                foreach (var (mergedKey, mergedValue) in Entries(path, sourceMapping, merging))
                    if (explicitKeys.Add(((YamlScalarNode)mergedKey).Value!))
                        merged.Add((mergedKey, mergedValue));
            }
        }
        merging.Remove(mapping);
        return merged;
    }

    internal static YamlNode? Child(string path, YamlMappingNode mapping, string key) =>
        Entries(path, mapping).Where(e => ((YamlScalarNode)e.Key).Value == key).Select(e => e.Value).FirstOrDefault();

    private static bool IsEmpty(YamlNode node) => node is YamlScalarNode { Value: null or "" or "~" or "null", Style: ScalarStyle.Plain or ScalarStyle.Any };

    private static string Kind(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode scalar when IsEmpty(scalar) => "an empty value",
        YamlScalarNode scalar => $"the value '{LocalFile.Shown(scalar.Value ?? "")}'",
        _ => "that",
    };

    private static (long Line, long Column) At(YamlNode node) => (node.Start.Line, node.Start.Column);

    private static UpgradeOpsException Invalid(string path, (long Line, long Column)? at, string reason, Exception? inner = null) =>
        new("ComposeFileInvalid", ErrorKind.InvalidData, path, $"{SafeYaml.Where(path, at)}: {LocalFile.Shown(reason)}. {Remedy}", inner);
}

using YamlDotNet.RepresentationModel;

namespace UpgradeOps.Kubernetes;

/// <summary>The leaf values of a Helm values file with their dotted keys, for masking them in helm's output.</summary>
public static class HelmValuesFile
{
    public static IEnumerable<KeyValuePair<string, string>> Flatten(string path)
    {
        var yaml = new YamlStream();
        try
        {
            using var reader = File.OpenText(path);
            yaml.Load(reader);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException)
        {
            throw new UpgradeOpsException("ValuesFileUnreadable", ErrorKind.InvalidData, path,
                $"The values file '{path}' cannot be read: {ex.Message} Check the path and its YAML before the upgrade.", ex);
        }
        return yaml.Documents.SelectMany(d => Flatten(d.RootNode, "")).ToList();
    }

    private static IEnumerable<KeyValuePair<string, string>> Flatten(YamlNode node, string prefix) => node switch
    {
        YamlMappingNode map => map.Children.SelectMany(p => Flatten(p.Value, prefix.Length == 0 ? p.Key.ToString() : $"{prefix}.{p.Key}")),
        YamlSequenceNode list => list.Children.SelectMany((item, i) => Flatten(item, $"{prefix}.{i}")),
        YamlScalarNode scalar when scalar.Value is { } value => new[] { KeyValuePair.Create(prefix, value) },
        _ => Array.Empty<KeyValuePair<string, string>>(),
    };
}

using YamlDotNet.RepresentationModel;

namespace UpgradeOps.Kubernetes;

/// <summary>The leaf values of a Helm values file with their dotted keys, for masking them in helm's output.</summary>
public static class HelmValuesFile
{
    public static IEnumerable<KeyValuePair<string, string>> Flatten(string path)
    {
        var yaml = Hosting.SafeYaml.Load(HelmConfiguration.ReadValuesFile(path));
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

namespace UpgradeOps.Compose;

/// <summary>
/// The labels that mark a rehearsal copy's containers and volumes: which rehearsal made them, which process owns it
/// (so a later run can tell an abandoned copy from a running one) and which ports replace the profile's.
/// </summary>
public static class RehearsalLabels
{
    public const string Id = "io.upgradeops.rehearsal.id";
    public const string Source = "io.upgradeops.rehearsal.source";
    public const string Owner = "io.upgradeops.rehearsal.owner";
    public const string Ports = "io.upgradeops.rehearsal.ports";

    /// <summary>"58000=59000,55432=56432" → {58000: 59000, 55432: 56432}; empty for containers that are not copies.</summary>
    public static IReadOnlyDictionary<int, int> PortMap(IDictionary<string, string>? labels)
    {
        var map = new Dictionary<int, int>();
        if (labels is null || !labels.TryGetValue(Ports, out var text) || string.IsNullOrWhiteSpace(text)) return map;
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=');
            if (parts.Length == 2 && int.TryParse(parts[0], out var from) && int.TryParse(parts[1], out var to)) map[from] = to;
        }
        return map;
    }

    public static string Format(IReadOnlyDictionary<int, int> map) =>
        string.Join(",", map.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"));

    /// <summary>The port a container really listens on for one the profile names (host networking).</summary>
    public static int MapPort(IDictionary<string, string>? labels, int port) =>
        PortMap(labels).TryGetValue(port, out var mapped) ? mapped : port;
}

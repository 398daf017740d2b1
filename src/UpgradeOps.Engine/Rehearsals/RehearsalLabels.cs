using System.Diagnostics;

namespace UpgradeOps.Rehearsals;

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

    /// <summary>This process, as the copies it owns record it: a later run removes copies whose owner is gone.</summary>
    public static string CurrentOwner
    {
        get
        {
            using var self = Process.GetCurrentProcess();
            return $"{self.Id}:{self.StartTime.ToUniversalTime().Ticks}";
        }
    }

    /// <summary>
    /// How far two processes' readings of one start time may differ: on Linux each computes it from the kernel's start tick
    /// and its own reading of the boot time, so another process's figure is off by microseconds (an exact match wrongly took
    /// a running rehearsal's copy for abandoned). A reused process id starts later than that.
    /// </summary>
    private static readonly TimeSpan StartTimeTolerance = TimeSpan.FromSeconds(1);

    /// <summary>Whether the process an owner label names still runs on this machine (its id matches, and its start time within a second).</summary>
    public static bool OwnerAlive(string owner)
    {
        var parts = owner.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var pid) || !long.TryParse(parts[1], out var ticks)) return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            return Math.Abs(process.StartTime.ToUniversalTime().Ticks - ticks) < StartTimeTolerance.Ticks;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}

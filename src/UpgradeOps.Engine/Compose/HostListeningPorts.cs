using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Docker.DotNet;

namespace UpgradeOps.Compose;

/// <summary>
/// The TCP ports a host-network container listens on, read inside it (so a remote engine works too): the socket table of
/// the host's network namespace, which such a container shares (/proc/net/tcp and tcp6), joined to the socket inodes its
/// own processes hold (/proc/PID/fd in its PID namespace). A rehearsal copy on the host network must move every one of
/// them: a copy that cannot bind a port fails, and its clients, pointed at that port, would reach production's service.
/// </summary>
internal static class HostListeningPorts
{
    // POSIX sh and ls only, which every image with a shell has. The first: the table, "---", then who owns each process.
    internal static readonly IReadOnlyList<string> TableCommand = new[]
    {
        "sh", "-c", "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; echo ---; ls -ldn /proc/[0-9]* 2>/dev/null; exit 0",
    };

    internal static readonly IReadOnlyList<string> SocketsCommand = new[] { "sh", "-c", "ls -l /proc/[0-9]*/fd 2>/dev/null; exit 0" };

    private const string ListenState = "0A";

    /// <summary>The ports, or null when they cannot be read there (no shell in the image, the exec refused).</summary>
    public static async Task<IReadOnlySet<int>?> ReadAsync(DockerClient client, string containerId, CancellationToken ct)
    {
        try
        {
            var first = await DockerExec.RunAsync(client, containerId, TableCommand, ct).ConfigureAwait(false);
            var separator = first.StandardOutputText.IndexOf("\n---", StringComparison.Ordinal);
            if (first.ExitCode != 0 || separator < 0) return null;
            var sockets = new StringBuilder();
            // As each process's own user: another user's /proc/PID/fd needs CAP_SYS_PTRACE, which a container's root lacks.
            foreach (var uid in Owners(first.StandardOutputText[separator..]))
                sockets.Append((await DockerExec.RunAsync(client, containerId, SocketsCommand, ct, user: uid).ConfigureAwait(false)).StandardOutputText);
            return Parse(first.StandardOutputText[..separator], sockets.ToString());
        }
        catch (Exception ex) when (ex is DockerApiException or IOException or HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>The numeric owners of the processes in "ls -ldn /proc/PID" lines ("dr-xr-xr-x 9 101 104 0 Dec 5 16:35 /proc/1").</summary>
    internal static IReadOnlyList<string> Owners(string listing) =>
        listing.Split('\n').Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length > 3 && fields[0].StartsWith('d') && fields[2].All(char.IsAsciiDigit))
            .Select(fields => fields[2]).Distinct().ToList();

    /// <summary>The listening ports in the socket table whose sockets appear in the processes' fd listing ("6 -> socket:[41001]").</summary>
    internal static IReadOnlySet<int> Parse(string table, string sockets)
    {
        var held = Regex.Matches(sockets, @"socket:\[(\d+)\]").Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        var ports = new SortedSet<int>();
        foreach (var line in table.Split('\n'))
        {
            // "  0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 12345 1 ..."
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10 || fields[3] != ListenState || !held.Contains(fields[9])) continue;
            var colon = fields[1].LastIndexOf(':');
            if (colon > 0 && int.TryParse(fields[1][(colon + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port) && port > 0)
                ports.Add(port);
        }
        return ports;
    }
}

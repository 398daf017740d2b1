using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// The framing of the Kubernetes remote-command WebSocket protocol (v5.channel.k8s.io): every binary message starts
/// with its channel byte (0 stdin, 1 stdout, 2 stderr, 3 status, 255 close), and a message may arrive in several
/// WebSocket fragments of which only the first carries the channel.
/// </summary>
internal sealed class PodExecFrames
{
    public const byte StdIn = 0, StdOut = 1, StdErr = 2, Status = 3, Close = 255;
    public const string Protocol = "v5.channel.k8s.io";

    private bool _atStart = true;
    private byte _channel;

    /// <summary>The channel and payload of one received fragment; a fragment that carries nothing gives an empty payload.</summary>
    public (byte Channel, ArraySegment<byte> Payload) Accept(byte[] buffer, int count, bool endOfMessage)
    {
        var offset = 0;
        if (_atStart && count > 0)
        {
            _channel = buffer[0];
            offset = 1;
            _atStart = false;
        }
        if (endOfMessage) _atStart = true;
        return (_channel, new ArraySegment<byte>(buffer, offset, Math.Max(0, count - offset)));
    }

    /// <summary>A message for the server on <paramref name="channel"/>.</summary>
    public static byte[] Message(byte channel, ReadOnlySpan<byte> payload)
    {
        var message = new byte[payload.Length + 1];
        message[0] = channel;
        payload.CopyTo(message.AsSpan(1));
        return message;
    }

    /// <summary>v5's "close channel N": the command sees the end of its stdin.</summary>
    public static byte[] CloseStdIn() => new[] { Close, StdIn };

    /// <summary>
    /// The exit code in the status channel's JSON (a metav1.Status): Success is 0; NonZeroExitCode carries it in
    /// details.causes[reason=ExitCode].message; any other failure (the command could not start) is -1 with its message.
    /// </summary>
    public static (long ExitCode, string? Message) ExitCode(string statusJson)
    {
        if (string.IsNullOrWhiteSpace(statusJson)) return (-1, "the API server sent no exit status");
        var status = JsonNode.Parse(statusJson);
        if ((string?)status?["status"] == "Success") return (0, null);
        var message = (string?)status?["message"];
        if (status?["details"]?["causes"] is JsonArray causes)
            foreach (var cause in causes)
                if ((string?)cause?["reason"] == "ExitCode" && long.TryParse((string?)cause?["message"], out var code)) return (code, message);
        return (-1, message ?? statusJson);
    }
}

/// <summary>
/// Runs a command in a pod's container through the API server's exec (KubernetesClient opens the WebSocket; the
/// frames are read here, so stdout streams straight into the caller's stream and the exit code comes from the
/// status channel). Environment variables cannot travel with a pod exec: a secret the command needs is named by the
/// container's own environment variable (<paramref name="environmentFromVariables"/>: PGPASSWORD ← POSTGRES_PASSWORD,
/// or a shell expansion of one: NEO4J_PASSWORD ← NEO4J_AUTH#*/), so its value never crosses the API.
/// </summary>
internal sealed class PodContainerExec(IKubernetes client, string ns, string pod, string container,
    IReadOnlyDictionary<string, string>? environmentFromVariables = null) : IContainerExec
{
    private const int StderrLimit = 64 * 1024;

    public string Description => $"pod {ns}/{pod} (container {container})";

    /// <summary>The command as sent: wrapped in sh to set variables from the container's own environment.</summary>
    internal IReadOnlyList<string> Wrap(IReadOnlyList<string> command)
    {
        if (environmentFromVariables is null || environmentFromVariables.Count == 0) return command;
        var exports = string.Join(" ", environmentFromVariables.Select(e => $"{e.Key}=\"${{{e.Value}}}\""));
        return new[] { "sh", "-c", $"export {exports}; exec \"$@\"", "sh" }.Concat(command).ToList();
    }

    public async Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null)
    {
        WebSocket socket;
        try
        {
            socket = await client.WebSocketNamespacedPodExecAsync(pod, ns, Wrap(command), container, stderr: true, stdin: standardInput is not null,
                stdout: true, tty: false, webSocketSubProtocol: PodExecFrames.Protocol, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or HttpOperationException or HttpRequestException or KubernetesException)
        {
            throw new UpgradeOpsException("PodExecFailed", ErrorKind.ConnectionError, $"{ns}/{pod}",
                $"The Kubernetes API did not start a command in {Description}: {ex.Message} Check that the pod runs and is ready, " +
                "that the cluster supports exec over WebSockets (v5.channel.k8s.io, Kubernetes 1.30 or later) and that your identity may create pods/exec there.", ex);
        }

        using (socket)
        {
            var stderr = new DecodedText(StderrLimit);
            var status = new MemoryStream();
            var captured = standardOutput is null ? new MemoryStream() : null;
            var output = standardOutput ?? captured!;
            using var sending = new SemaphoreSlim(1, 1);
            var feeding = standardInput is null ? Task.CompletedTask : FeedAsync(socket, standardInput, sending, ct);
            var frames = new PodExecFrames();
            var buffer = new byte[1 << 20];
            try
            {
                while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
                {
                    var received = await socket.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                    if (received.MessageType == WebSocketMessageType.Close) break;
                    var (channel, payload) = frames.Accept(buffer, received.Count, received.EndOfMessage);
                    if (payload.Count == 0) continue;
                    switch (channel)
                    {
                        case PodExecFrames.StdOut when captured is null || captured.Length < IContainerExec.CapturedLimit:
                            await output.WriteAsync(payload, ct).ConfigureAwait(false);
                            break;
                        case PodExecFrames.StdErr:
                            stderr.Append(payload);
                            break;
                        case PodExecFrames.Status:
                            status.Write(payload);
                            break;
                    }
                }
            }
            catch (WebSocketException ex) when (!ct.IsCancellationRequested)
            {
                throw new UpgradeOpsException("PodExecFailed", ErrorKind.ConnectionError, $"{ns}/{pod}",
                    $"The connection to {Description} broke while '{command[0]}' ran: {ex.Message} Run the command again.", ex);
            }
            // The output ended, so the command is done with its input too: a send still blocked is cut off.
            if (!feeding.IsCompleted) socket.Abort();
            try { await feeding.ConfigureAwait(false); }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException) { }

            var (exitCode, message) = PodExecFrames.ExitCode(Encoding.UTF8.GetString(status.ToArray()));
            if (exitCode < 0 && message is not null) stderr.Append(message);
            return new ExecResult(exitCode, stderr.ToString(), captured is null ? "" : Encoding.UTF8.GetString(captured.ToArray()));
        }
    }

    private static async Task FeedAsync(WebSocket socket, Stream input, SemaphoreSlim sending, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await input.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            await SendAsync(socket, PodExecFrames.Message(PodExecFrames.StdIn, buffer.AsSpan(0, read)), sending, ct).ConfigureAwait(false);
        await SendAsync(socket, PodExecFrames.CloseStdIn(), sending, ct).ConfigureAwait(false);
    }

    private static async Task SendAsync(WebSocket socket, byte[] message, SemaphoreSlim sending, CancellationToken ct)
    {
        await sending.WaitAsync(ct).ConfigureAwait(false);
        try { await socket.SendAsync(message, WebSocketMessageType.Binary, true, ct).ConfigureAwait(false); }
        finally { sending.Release(); }
    }
}

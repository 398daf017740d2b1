using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace KubeApiServer;

/// <summary>
/// GET /api/v1/namespaces/NS/pods/NAME/portforward?ports=P[&amp;ports=Q]: a pod's ports over a WebSocket.
/// Like a real API server (whose kubelet serves this; written from the protocol as the Kubernetes sources describe
/// it and as KubernetesClient opens it): subprotocol v4.channel.k8s.io (or none, the same binary framing); every
/// message is a channel byte and its payload; the i-th port has data channel 2i and error channel 2i+1, and the first
/// message on each channel is that port number, 2 bytes little-endian; the client's bytes on a data channel go to a
/// connection to that port in the pod, and the pod's bytes come back on it; when the port cannot be reached, a text
/// message on the error channel says so (worded after the kubelet's "error forwarding port P to pod NAME, uid UID: ...")
/// and the WebSocket closes; when the pod's side ends a connection, or the client closes the WebSocket, both end.
/// Not like a real API server: the connection goes to 127.0.0.1:PORT of this machine, because the test pods share
/// the host's network (with --kubelet their containers run with host networking, so the container of the pod's workload
/// answers there; without it, whatever listens on that port does); there is no kubelet hop, no SPDY (kubectl's
/// default), no SPDY tunnelled in WebSockets (Kubernetes 1.31+), no base64 subprotocol and no idle timeout; a pod that
/// is not Running is refused with 400. Nothing here was compared with a real cluster.
/// </summary>
public static class PortForward
{
    public const string V4 = "v4.channel.k8s.io";

    public static async Task ServeAsync(HttpContext context, JsonObject pod)
    {
        var name = (string)pod["metadata"]!["name"]!;
        var uid = (string?)pod["metadata"]!["uid"] ?? "";
        var ports = Ports(context.Request.Query["ports"]);
        if ((string?)pod["status"]?["phase"] is var phase && phase != "Running")
            throw new ApiException(400, "BadRequest", $"pod {name} is not running (phase {phase ?? "unknown"}): nothing to forward to");
        if (!context.WebSockets.IsWebSocketRequest)
            throw new ApiException(400, "BadRequest", "Upgrade request required: this test server serves port-forwards over WebSockets only (no SPDY)");
        var requested = context.WebSockets.WebSocketRequestedProtocols;
        var protocol = requested.Count == 0 ? null : requested.Contains(V4) ? V4
            : throw new ApiException(400, "BadRequest", $"unsupported subprotocols {string.Join(", ", requested)}: this test server speaks {V4}");

        using var ws = await context.WebSockets.AcceptWebSocketAsync(protocol);
        var ct = context.RequestAborted;
        var sendLock = new SemaphoreSlim(1, 1);
        var pods = new TcpClient?[ports.Count];
        try
        {
            for (var i = 0; i < ports.Count; i++)
            {
                var prefix = new[] { (byte)(ports[i] & 0xff), (byte)(ports[i] >> 8) };
                await DockerForward.SendAsync(ws, sendLock, (byte)(2 * i), prefix, ct);
                await DockerForward.SendAsync(ws, sendLock, (byte)(2 * i + 1), prefix, ct);
            }
            for (var i = 0; i < ports.Count; i++)
            {
                var connection = new TcpClient();
                try
                {
                    await connection.ConnectAsync(IPAddress.Loopback, ports[i], ct);
                    pods[i] = connection;
                }
                catch (SocketException e)
                {
                    connection.Dispose();
                    var message = $"error forwarding port {ports[i]} to pod {name}, uid {uid}: failed to connect to localhost:{ports[i]} inside the pod: " +
                                  $"dial tcp4 127.0.0.1:{ports[i]}: connect: {(e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : e.Message)}";
                    await DockerForward.SendAsync(ws, sendLock, (byte)(2 * i + 1), Encoding.UTF8.GetBytes(message), ct);
                }
            }
            var receiving = ReceiveAsync(ws, pods, ct);
            var sending = pods.Select((c, i) => c is null ? Task.CompletedTask : PumpAsync(c, ws, sendLock, (byte)(2 * i), ct)).ToArray();
            // Either side ending ends the forward: the pod's connections close, then the WebSocket.
            await Task.WhenAny(Task.WhenAll(sending), receiving);
            foreach (var c in pods) c?.Dispose();
            await Task.WhenAll(sending);
            if (ws.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", ct);
            await receiving.WaitAsync(TimeSpan.FromSeconds(5), ct);
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or TimeoutException) { }
        finally
        {
            foreach (var c in pods) c?.Dispose();
        }
    }

    /// <summary>The ports query: one or more values, each a port or a comma-separated list (as the kubelet reads them).</summary>
    private static List<int> Ports(IEnumerable<string?> values)
    {
        var ports = new List<int>();
        foreach (var value in values)
            foreach (var part in (value ?? "").Split(','))
                ports.Add(ushort.TryParse(part, out var port) && port > 0 ? port
                    : throw new ApiException(400, "BadRequest", $"invalid port '{part}' in the query parameter ports: 1-65535"));
        return ports.Count > 0 ? ports : throw new ApiException(400, "BadRequest", "at least one port must be given (query parameter ports)");
    }

    /// <summary>The client's messages: a data channel's bytes to its port's connection (the channel byte only starts a message).</summary>
    private static async Task ReceiveAsync(WebSocket ws, TcpClient?[] pods, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var atStart = true;
        byte channel = 0;
        try
        {
            while (ws.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await ws.ReceiveAsync(buffer, ct);
                if (result.MessageType == WebSocketMessageType.Close) return;
                var offset = 0;
                if (atStart && result.Count > 0) { channel = buffer[0]; offset = 1; }
                atStart = result.EndOfMessage;
                if (channel % 2 == 0 && channel / 2 < pods.Length && pods[channel / 2] is { } pod && result.Count > offset)
                {
                    try { await pod.GetStream().WriteAsync(buffer.AsMemory(offset, result.Count - offset), ct); }
                    catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { }
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
    }

    /// <summary>The pod's bytes on the port's data channel, until the pod's side ends the connection.</summary>
    private static async Task PumpAsync(TcpClient pod, WebSocket ws, SemaphoreSlim sendLock, byte channel, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            var stream = pod.GetStream();
            int read;
            while ((read = await stream.ReadAsync(buffer, ct)) > 0)
                await DockerForward.SendAsync(ws, sendLock, channel, buffer.AsMemory(0, read), ct);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or WebSocketException or OperationCanceledException) { }
    }
}

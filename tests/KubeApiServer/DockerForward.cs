using System.Buffers.Binary;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace KubeApiServer;

/// <summary>
/// Pod exec and logs forwarded to a Docker container through the Docker Engine API on its Unix socket (no docker CLI):
/// which container backs which workload's pods is the server option --docker-workload NAMESPACE/WORKLOAD=CONTAINER.
/// Exec speaks the WebSocket remote-command protocol as KubernetesClient and kubectl do: subprotocol v5.channel.k8s.io
/// (preferred) or v4.channel.k8s.io; each binary message starts with its channel (0 stdin, 1 stdout, 2 stderr,
/// 3 the status JSON with the exit code, v5 also 255 = close channel N, used to end stdin).
/// </summary>
public sealed class DockerForward(string socketPath, IReadOnlyDictionary<string, string> workloads, Kubelet? kubelet = null)
{
    public const string V5 = "v5.channel.k8s.io";
    public const string V4 = "v4.channel.k8s.io";

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    }) { BaseAddress = new Uri("http://docker") };

    /// <summary>The Docker container behind a pod (by the workload that owns it), or an API error saying why there is none.</summary>
    public string ContainerFor(string ns, JsonObject pod)
    {
        var owner = Pods.Owner(pod);
        if (owner is not null && workloads.TryGetValue($"{ns}/{owner}", out var container)) return container;
        if (kubelet?.ContainerFor(ns, pod) is { } run) return run;
        throw new ApiException(400, "BadRequest",
            $"pod {pod["metadata"]?["name"]} has no Docker container behind it on this test server (start it with --docker-workload {ns}/{owner ?? "WORKLOAD"}=CONTAINER)");
    }

    public async Task ExecAsync(HttpContext context, string container)
    {
        var query = context.Request.Query;
        var command = query["command"].Where(c => c is not null).Select(c => c!).ToList();
        if (command.Count == 0) throw new ApiException(400, "BadRequest", "you must specify at least 1 command");
        if (!context.WebSockets.IsWebSocketRequest) throw new ApiException(400, "BadRequest", "Upgrade request required");
        bool Flag(string name) => query[name] is var v && (v == "true" || v == "1");
        var stdin = Flag("stdin");
        var protocols = context.WebSockets.WebSocketRequestedProtocols;
        var protocol = protocols.Contains(V5) ? V5 : protocols.Contains(V4) ? V4
            : throw new ApiException(400, "BadRequest", $"unsupported subprotocols {string.Join(", ", protocols)}: this test server speaks {V5} and {V4}");

        // Create the Docker exec before the upgrade, so a missing container is an HTTP error the client sees.
        using var create = await _http.PostAsync($"/containers/{Uri.EscapeDataString(container)}/exec", Json(new JsonObject
        {
            ["AttachStdin"] = stdin, ["AttachStdout"] = true, ["AttachStderr"] = true, ["Tty"] = false,
            ["Cmd"] = new JsonArray(command.Select(c => (JsonNode)c).ToArray()),
        }));
        var created = JsonNode.Parse(await create.Content.ReadAsStringAsync());
        if (!create.IsSuccessStatusCode)
            throw new ApiException(500, "InternalError", $"container {container} behind the pod: {(string?)created?["message"]}");
        var execId = (string)created!["Id"]!;

        using var socket = await StartAsync(execId);
        // The output's stream is made before the input pump starts: once stdin ends that pump shuts the socket's sending
        // side, and a NetworkStream refuses a socket that no longer says Connected (a short stdin lost the whole exec).
        using var output = new NetworkStream(socket, ownsSocket: false);
        using var ws = await context.WebSockets.AcceptWebSocketAsync(protocol);
        var sendLock = new SemaphoreSlim(1, 1);
        var input = Task.Run(() => PumpInputAsync(ws, socket, protocol == V5, context.RequestAborted));
        long exit;
        try
        {
            await PumpOutputAsync(ws, output, sendLock, context.RequestAborted);
            exit = await ExitCodeAsync(execId);
        }
        catch (Exception e)
        {
            // The client sees only a connection closed without a handshake: the test output says why.
            Console.Error.WriteLine($"kube test server: exec in {container} failed: {e}");
            throw;
        }
        var status = exit == 0
            ? new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Success" }
            : new JsonObject
            {
                ["metadata"] = new JsonObject(), ["status"] = "Failure",
                ["message"] = $"command terminated with non-zero exit code: error executing command [{string.Join(' ', command)}], exit code {exit}",
                ["reason"] = "NonZeroExitCode",
                ["details"] = new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ExitCode", ["message"] = exit.ToString() }) },
            };
        await SendAsync(ws, sendLock, 3, Encoding.UTF8.GetBytes(status.ToJsonString()), context.RequestAborted);
        try
        {
            await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", context.RequestAborted);
            await input.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is WebSocketException or TimeoutException or OperationCanceledException) { }
    }

    /// <summary>POST /exec/ID/start upgraded to a raw stream (as the docker CLI does).</summary>
    private async Task<Socket> StartAsync(string execId)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        const string body = "{\"Detach\":false,\"Tty\":false}";
        var request = $"POST /exec/{execId}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n" +
                      $"Content-Length: {body.Length}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{body}";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        // The response head, byte by byte so nothing of the stream after it is consumed.
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(one) == 0) throw new IOException("Docker closed the exec start");
            head.Append((char)one[0]);
        }
        var status = head.ToString().Split(' ', 3);
        if (status.Length < 2 || status[1] is not ("101" or "200"))
            throw new ApiException(500, "InternalError", $"docker exec start: {head.ToString().Split('\r')[0]}");
        return socket;
    }

    private static async Task PumpOutputAsync(WebSocket ws, NetworkStream stream, SemaphoreSlim sendLock, CancellationToken ct)
    {
        var header = new byte[8];
        var buffer = new byte[64 * 1024];
        while (await ReadExactlyAsync(stream, header, ct))
        {
            var channel = header[0] == 2 ? (byte)2 : (byte)1;
            var remaining = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, Math.Min(remaining, buffer.Length)), ct);
                if (read == 0) return;
                remaining -= read;
                await SendAsync(ws, sendLock, channel, buffer.AsMemory(0, read), ct);
            }
        }
    }

    private static async Task PumpInputAsync(WebSocket ws, Socket socket, bool v5, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var atStart = true;
        byte channel = 0;
        try
        {
            while (ws.State == WebSocketState.Open)
            {
                var result = await ws.ReceiveAsync(buffer, ct);
                if (result.MessageType == WebSocketMessageType.Close) break;
                var offset = 0;
                if (atStart && result.Count > 0) { channel = buffer[0]; offset = 1; }
                if (channel == 0 && result.Count > offset) await socket.SendAsync(buffer.AsMemory(offset, result.Count - offset), SocketFlags.None, ct);
                else if (v5 && channel == 255 && result.Count > offset && buffer[offset] == 0) socket.Shutdown(SocketShutdown.Send);
                atStart = result.EndOfMessage;
            }
        }
        catch (Exception e) when (e is WebSocketException or SocketException or ObjectDisposedException or OperationCanceledException) { }
    }

    /// <summary>One binary message of the channel.k8s.io framing: the channel byte, then the payload (exec and port-forward alike).</summary>
    internal static async Task SendAsync(WebSocket ws, SemaphoreSlim sendLock, byte channel, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        var message = new byte[payload.Length + 1];
        message[0] = channel;
        payload.CopyTo(message.AsMemory(1));
        await sendLock.WaitAsync(ct);
        try { await ws.SendAsync(message, WebSocketMessageType.Binary, true, ct); }
        finally { sendLock.Release(); }
    }

    private static async Task<bool> ReadExactlyAsync(Stream stream, byte[] buffer, CancellationToken ct)
    {
        var got = 0;
        while (got < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(got), ct);
            if (read == 0) return false;
            got += read;
        }
        return true;
    }

    private async Task<long> ExitCodeAsync(string execId)
    {
        for (var i = 0; i < 100; i++)
        {
            var inspect = JsonNode.Parse(await _http.GetStringAsync($"/exec/{execId}/json"))!;
            if (inspect["Running"]?.GetValue<bool>() != true) return inspect["ExitCode"]?.GetValue<long>() ?? -1;
            await Task.Delay(50);
        }
        return -1;
    }

    /// <summary>
    /// GET /pods/NAME/log: the container's docker logs (stdout and stderr), with tailLines, timestamps and previous. Docker
    /// restarts the same container, so its log holds every run: previous=true is the log until the running run started
    /// (the whole log while it is between runs, its last run being the previous one).
    /// </summary>
    public async Task LogsAsync(HttpContext context, string container)
    {
        var query = context.Request.Query;
        // A container not created or not started yet has no log: a kubelet answers 400 (waiting to start), not an empty
        // stream. Docker's follow on a created container ends at once, which a log reader would take for a finished run.
        JsonNode? state;
        using (var inspect = await _http.GetAsync($"/containers/{Uri.EscapeDataString(container)}/json"))
            state = inspect.IsSuccessStatusCode ? JsonNode.Parse(await inspect.Content.ReadAsStringAsync())?["State"] : null;
        if (state is null || (string?)state["Status"] == "created")
            throw new ApiException(400, "BadRequest", $"container {container} is waiting to start: ContainerCreating");
        var tail = int.TryParse(query["tailLines"], out var n) ? n.ToString() : "all";
        var timestamps = query["timestamps"] == "true" ? "1" : "0";
        var until = "";
        if (query["previous"] == "true" && state["Running"]?.GetValue<bool>() == true && DateTimeOffset.TryParse((string?)state["StartedAt"], out var started))
        {
            // Seconds and milliseconds as Docker parses them ("s.fff"), whatever the culture.
            var milliseconds = started.ToUnixTimeMilliseconds();
            until = $"&until={milliseconds / 1000}.{milliseconds % 1000:D3}";
        }
        // follow=true streams until the container ends, as the kubelet's log stream does (Docker's follow=1).
        var follow = query["follow"] == "true" ? "1" : "0";
        using var response = await _http.GetAsync($"/containers/{Uri.EscapeDataString(container)}/logs?stdout=1&stderr=1&tail={tail}&timestamps={timestamps}&follow={follow}{until}",
            HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
            throw new ApiException(500, "InternalError", $"container {container} behind the pod: {await response.Content.ReadAsStringAsync()}");
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain";
        await using var body = await response.Content.ReadAsStreamAsync();
        var header = new byte[8];
        while (await ReadExactlyAsync(body, header, context.RequestAborted))
        {
            var payload = new byte[BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4))];
            if (!await ReadExactlyAsync(body, payload, context.RequestAborted)) break;
            await context.Response.Body.WriteAsync(payload, context.RequestAborted);
        }
    }

    private static StringContent Json(JsonObject o) => new(o.ToJsonString(), Encoding.UTF8, "application/json");
}

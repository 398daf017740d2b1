using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace UpgradeOps.Engine.Tests.Compose;

/// <summary>A request the fake engine received: method, path as sent (a versioned client would send /v1.xx/...), query, body.</summary>
internal sealed record RecordedRequest(string Method, string Path, string Query, string Body)
{
    public JsonNode Json => JsonNode.Parse(Body)!;
}

/// <summary>
/// A narrow fake of a Docker Engine for one recorded API version: a small HTTP/1.1 server on a Unix socket (or on
/// 127.0.0.1 at a port the kernel chooses) that answers the endpoints UpgradeOps' Compose code calls with the JSON under
/// Compose/DockerApi/&lt;version&gt;/ (see the README.md there for where each shape comes from), and records every request.
/// Writes (create, stop, rename, connect, start, remove, exec) are accepted and recorded, not carried out: the tests read
/// what the engine was asked. An exec's start answers as Docker does, 101 and then the multiplexed stream
/// (stdout "infrahub 1.1.8\n", stderr "migrations pending\n"); its inspect says exit code 3.
/// Not a Docker Engine: it checks no request against the API's schema and keeps no state but the new containers' ids.
/// </summary>
internal sealed class RecordedDockerEngine : IDisposable
{
    public const string ExecStdout = "infrahub 1.1.8\n";
    public const string ExecStderr = "migrations pending\n";
    private const string ExecId = "b53ee82b53a40c7dca428523e34f741f3abc51d9f297a14ff874bf761b995126";

    private readonly Socket _listener;
    private readonly string? _socketDirectory;
    private readonly string _directory;
    private readonly Dictionary<string, string> _containerFiles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _imageFiles = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private int _created;

    public RecordedDockerEngine(string apiVersion, bool unixSocket = true)
    {
        ApiVersion = apiVersion;
        _directory = Path.Combine(AppContext.BaseDirectory, "Compose", "DockerApi", apiVersion);
        foreach (var summary in JsonNode.Parse(File.ReadAllText(Path.Combine(_directory, "containers.json")))!.AsArray())
        {
            var service = summary!["Labels"]!["com.docker.compose.service"]!.GetValue<string>();
            var file = Path.Combine(_directory, $"container-{service}.json");
            _containerFiles[summary["Id"]!.GetValue<string>()] = file;
            _containerFiles[summary["Names"]![0]!.GetValue<string>().TrimStart('/')] = file;
            _imageFiles[summary["ImageID"]!.GetValue<string>()] = Path.Combine(_directory, $"image-{service}.json");
            _imageFiles[summary["Image"]!.GetValue<string>()] = Path.Combine(_directory, $"image-{service}.json");
        }

        if (unixSocket)
        {
            // A short path: a Unix socket's path is limited to 108 bytes.
            _socketDirectory = Directory.CreateTempSubdirectory("uo-docker-").FullName;
            var path = Path.Combine(_socketDirectory, "docker.sock");
            _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            Endpoint = $"unix://{path}";
        }
        else
        {
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Endpoint = $"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";
        }
        _listener.Listen(16);
        _ = Task.Run(AcceptAsync);
    }

    public string ApiVersion { get; }

    /// <summary>What to give DockerEngine.ConnectAsync as -DockerHost.</summary>
    public string Endpoint { get; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Changes each JSON answer before it is sent (by the path asked): for an engine newer than any recorded one.</summary>
    public Action<string, JsonNode>? Alter { get; init; }

    public JsonNode Recorded(string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(_directory, file)))!;

    public IReadOnlyList<RecordedRequest> Asked(string method, string pathPattern) =>
        Requests.Where(r => r.Method == method && System.Text.RegularExpressions.Regex.IsMatch(r.Path, pathPattern)).ToList();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        if (_socketDirectory is not null) Directory.Delete(_socketDirectory, recursive: true);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try { connection = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = Task.Run(() => ServeAsync(connection));
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using var _ = connection;
        await using var stream = new NetworkStream(connection, ownsSocket: false);
        try
        {
            while (await ReadRequestAsync(stream) is { } request)
            {
                Requests.Enqueue(request);
                if (!await AnswerAsync(stream, connection, request)) return;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // The client closed the connection.
        }
    }

    private static async Task<RecordedRequest?> ReadRequestAsync(Stream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) return null;
            head.Append((char)one[0]);
        }
        var lines = head.ToString().Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var headers = lines.Skip(1).Where(l => l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')].Trim(), l => l[(l.IndexOf(':') + 1)..].Trim(), StringComparer.OrdinalIgnoreCase);
        var body = new MemoryStream();
        if (headers.TryGetValue("Content-Length", out var length))
            await CopyExactlyAsync(stream, body, int.Parse(length));
        else if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var size = Convert.ToInt32((await ReadLineAsync(stream)).Split(';')[0], 16);
                if (size == 0) { await ReadLineAsync(stream); break; }
                await CopyExactlyAsync(stream, body, size);
                await ReadLineAsync(stream);
            }
        }
        var target = requestLine[1];
        var query = target.Contains('?') ? target[(target.IndexOf('?') + 1)..] : "";
        var path = Uri.UnescapeDataString(target.Split('?')[0]);
        return new RecordedRequest(requestLine[0], path, Uri.UnescapeDataString(query), Encoding.UTF8.GetString(body.ToArray()));
    }

    private static async Task<string> ReadLineAsync(Stream stream)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("closed inside a chunked body");
            line.Append((char)one[0]);
        }
        return line.ToString()[..^2];
    }

    private static async Task CopyExactlyAsync(Stream from, Stream to, int count)
    {
        var buffer = new byte[count];
        await from.ReadExactlyAsync(buffer);
        await to.WriteAsync(buffer);
    }

    /// <summary>Answers one request; false when the connection is done (a hijacked exec stream).</summary>
    private async Task<bool> AnswerAsync(Stream stream, Socket connection, RecordedRequest request)
    {
        // A versioned request (/v1.43/containers/json) is answered as the unversioned one; the test reads which was sent.
        var path = System.Text.RegularExpressions.Regex.Replace(request.Path, @"^/v\d+\.\d+/", "/");
        var segments = path.Trim('/').Split('/');
        switch (request.Method, segments)
        {
            case ("GET" or "HEAD", ["_ping"]):
                await WriteAsync(stream, 200, "text/plain; charset=utf-8", "OK");
                return true;
            case ("GET", ["version"]):
                await WriteJsonAsync(stream, path, Recorded("version.json"));
                return true;
            case ("GET", ["info"]):
                await WriteJsonAsync(stream, path, Recorded("info.json"));
                return true;
            case ("GET", ["containers", "json"]):
                await WriteJsonAsync(stream, path, Recorded("containers.json"));
                return true;
            case ("GET", ["containers", var id, "json"]):
                if (_containerFiles.TryGetValue(id, out var container)) await WriteJsonAsync(stream, path, JsonNode.Parse(File.ReadAllText(container))!);
                else await WriteAsync(stream, 404, "application/json", $$"""{"message":"No such container: {{id}}"}""");
                return true;
            case ("GET", ["images", .., "json"]):
                var image = string.Join('/', segments[1..^1]);
                if (_imageFiles.TryGetValue(image, out var imageFile)) await WriteJsonAsync(stream, path, JsonNode.Parse(File.ReadAllText(imageFile))!);
                else await WriteAsync(stream, 404, "application/json", $$"""{"message":"No such image: {{image}}"}""");
                return true;
            case ("POST", ["containers", "create"]):
                var newId = $"{Interlocked.Increment(ref _created):x4}" + new string('e', 60);
                await WriteAsync(stream, 201, "application/json", $$"""{"Id":"{{newId}}","Warnings":[]}""");
                return true;
            case ("POST", ["containers", _, "stop" or "start" or "rename" or "pause" or "unpause" or "kill"]):
            case ("DELETE", ["containers", _]):
                await WriteAsync(stream, 204, null, "");
                return true;
            case ("POST", ["networks", _, "connect"]):
                await WriteAsync(stream, 200, "application/json", "");
                return true;
            case ("POST", ["containers", _, "exec"]):
                await WriteAsync(stream, 201, "application/json", $$"""{"Id":"{{ExecId}}"}""");
                return true;
            case ("POST", ["exec", _, "start"]):
                await WriteExecStreamAsync(stream, connection);
                return false;
            case ("GET", ["exec", _, "json"]):
                await WriteJsonAsync(stream, path, Recorded("exec.json"));
                return true;
            default:
                await WriteAsync(stream, 404, "application/json", """{"message":"page not found"}""");
                return true;
        }
    }

    private Task WriteJsonAsync(Stream stream, string path, JsonNode answer)
    {
        Alter?.Invoke(path, answer);
        return WriteAsync(stream, 200, "application/json", answer.ToJsonString());
    }

    private async Task WriteAsync(Stream stream, int status, string? contentType, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\n")
            .Append($"Api-Version: {ApiVersion}\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker (linux)\r\n")
            .Append($"Date: {DateTime.UtcNow:R}\r\n");
        if (contentType is not null) head.Append($"Content-Type: {contentType}\r\n");
        head.Append($"Content-Length: {bytes.Length}\r\n");
        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        await stream.WriteAsync(bytes);
        await stream.FlushAsync();
    }

    /// <summary>As Docker answers an exec start asked with "Upgrade: tcp": 101, then frames of [stream, 0, 0, 0, size (big-endian)] and the data.</summary>
    private async Task WriteExecStreamAsync(Stream stream, Socket connection)
    {
        var head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n" +
                   $"Api-Version: {ApiVersion}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(Frame(1, ExecStdout));
        await stream.WriteAsync(Frame(2, ExecStderr));
        await stream.FlushAsync();
        connection.Shutdown(SocketShutdown.Both);
    }

    private static byte[] Frame(byte streamType, string text)
    {
        var data = Encoding.UTF8.GetBytes(text);
        var frame = new byte[8 + data.Length];
        frame[0] = streamType;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), data.Length);
        data.CopyTo(frame, 8);
        return frame;
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using UpgradeOps.Hosting;
using Microsoft.Extensions.Logging;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// The framing of the Kubernetes port-forward WebSocket protocol (pods/portforward, subprotocol v4.channel.k8s.io, as the
/// kubelet serves it behind the API server): every binary message starts with its channel byte, as in exec
/// (<see cref="PodExecFrames"/>); the i-th port of the request has data channel 2i and error channel 2i+1, and the first
/// two bytes the server sends on each channel are that port number, little-endian. After them the data channel carries
/// the pod's bytes and the error channel a message when the forward fails (e.g. nothing listens on the port in the pod).
/// The client writes a connection's bytes on the data channel, without a port prefix. v4 cannot close one direction:
/// a connection ends when the WebSocket closes.
/// </summary>
internal sealed class PortForwardFrames
{
    public const string Protocol = "v4.channel.k8s.io";

    private readonly IReadOnlyList<int> _ports;
    private readonly PodExecFrames _messages = new();
    private readonly int[] _prefixRead;
    private readonly int[] _prefix;

    public PortForwardFrames(IReadOnlyList<int> ports)
    {
        _ports = ports;
        _prefixRead = new int[2 * ports.Count];
        _prefix = new int[2 * ports.Count];
    }

    public static byte DataChannel(int portIndex) => (byte)(2 * portIndex);
    public static byte ErrorChannel(int portIndex) => (byte)(2 * portIndex + 1);
    public static bool IsError(byte channel) => channel % 2 == 1;

    /// <summary>True once the server has named the port on both channels of <paramref name="portIndex"/>: the forward is set up.</summary>
    public bool Started(int portIndex) => _prefixRead[DataChannel(portIndex)] == 2 && _prefixRead[ErrorChannel(portIndex)] == 2;

    /// <summary>
    /// The channel and the bytes of one received fragment, without the channel byte and the port prefix (which may span
    /// fragments). A channel beyond the requested ports, or a prefix naming another port, is an <see cref="InvalidDataException"/>.
    /// </summary>
    public (byte Channel, ArraySegment<byte> Payload) Accept(byte[] buffer, int count, bool endOfMessage)
    {
        var (channel, payload) = _messages.Accept(buffer, count, endOfMessage);
        if (payload.Count == 0) return (channel, payload);
        if (channel >= _prefix.Length)
            throw new InvalidDataException($"the server sent on channel {channel}, but {_ports.Count} port(s) have only channels 0-{_prefix.Length - 1}");
        var skip = 0;
        while (_prefixRead[channel] < 2 && skip < payload.Count)
        {
            _prefix[channel] |= payload[skip++] << (8 * _prefixRead[channel]++);
            if (_prefixRead[channel] == 2 && _prefix[channel] != _ports[channel / 2])
                throw new InvalidDataException($"the server named port {_prefix[channel]} on channel {channel}, where port {_ports[channel / 2]} was asked for");
        }
        return (channel, payload.Slice(skip));
    }

    /// <summary>A message for the server: the bytes of a connection to the port of <paramref name="portIndex"/>.</summary>
    public static byte[] Data(int portIndex, ReadOnlySpan<byte> payload) => PodExecFrames.Message(DataChannel(portIndex), payload);
}

/// <summary>
/// A port of a pod on a local 127.0.0.1 ephemeral port while it is not disposed, through the Kubernetes API
/// (pods/portforward over a WebSocket that KubernetesClient opens; the frames are read here, see <see cref="PortForwardFrames"/>).
/// Each local connection gets a WebSocket (and so a connection in the pod) of its own, and ends with it. Dispose closes
/// the listener and every connection at once, so the local port is free afterwards.
/// </summary>
internal sealed class PodPortForward : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LocalCloseTimeout = TimeSpan.FromSeconds(10);

    private readonly IKubernetes _client;
    private readonly ILogger _log;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpClient, WebSocket?> _connections = new();
    private string? _failure;
    private int _disposed;

    private PodPortForward(IKubernetes client, string ns, string pod, int port, ILogger log)
    {
        _client = client;
        _log = log;
        Namespace = ns;
        Pod = pod;
        Port = port;
        _listener = new TcpListener(IPAddress.Loopback, 0);
    }

    public string Namespace { get; }
    public string Pod { get; }
    public int Port { get; }
    public int LocalPort { get; private set; }
    public Uri Endpoint => new($"http://127.0.0.1:{LocalPort}/");
    public string Description => $"pod {Namespace}/{Pod} port {Port}";

    /// <summary>What the server last said on the error channel, or why a connection through the forward could not be made; null while none failed.</summary>
    public string? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Asks the API for the forward once (so that a pod that is gone, a refused permission or protocol is an error here,
    /// not a broken connection later), then listens on 127.0.0.1 on a free port.
    /// </summary>
    public static async Task<PodPortForward> StartAsync(IKubernetes client, string ns, string pod, int port, ILogger log, CancellationToken ct)
    {
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            limit.CancelAfter(StartTimeout);
            try
            {
                using var probe = await ConnectAsync(client, ns, pod, port, limit.Token).ConfigureAwait(false);
                var frames = new PortForwardFrames(new[] { port });
                var buffer = new byte[1024];
                while (!frames.Started(0))
                {
                    var received = await probe.ReceiveAsync(buffer, limit.Token).ConfigureAwait(false);
                    if (received.MessageType == WebSocketMessageType.Close)
                        throw Refused(ns, pod, port, $"the API server closed the forward before it started ({probe.CloseStatus} {probe.CloseStatusDescription})", null);
                    var (channel, payload) = frames.Accept(buffer, received.Count, received.EndOfMessage);
                    if (PortForwardFrames.IsError(channel) && payload.Count > 0)
                        throw Refused(ns, pod, port, Encoding.UTF8.GetString(payload), null);
                }
                try { await probe.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", limit.Token).ConfigureAwait(false); }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { }
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new UpgradeOpsException("PortForwardRefused", ErrorKind.OperationTimeout, $"{ns}/{pod}",
                    $"The Kubernetes API did not start a port-forward to pod {ns}/{pod} port {port} within {StartTimeout.TotalSeconds:N0} s. " +
                    "Check that the cluster is reachable from here and that nothing between (a proxy) drops WebSockets, or give -ApiEndpoint.", ex);
            }
            catch (Exception ex) when (ex is WebSocketException or InvalidDataException)
            {
                throw Refused(ns, pod, port, ex.Message, ex);
            }
        }

        var forward = new PodPortForward(client, ns, pod, port, log);
        forward._listener.Start();
        forward.LocalPort = ((IPEndPoint)forward._listener.LocalEndpoint).Port;
        // The accept loop ends with the forward's own stop token (Dispose), not with the caller's.
        _ = Task.Run(forward.AcceptAsync, CancellationToken.None);
        return forward;
    }

    private static async Task<WebSocket> ConnectAsync(IKubernetes client, string ns, string pod, int port, CancellationToken ct)
    {
        try
        {
            return await client.WebSocketNamespacedPodPortForwardAsync(pod, ns, new[] { port }, PortForwardFrames.Protocol, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException ex)
        {
            throw Refused(ns, pod, port, ex.Response is { } response ? (int)response.StatusCode : null,
                (ex.Body as V1Status)?.Message ?? ex.Response?.Content?.Trim() ?? ex.Message, ex);
        }
        catch (WebSocketException ex)
        {
            // The upgrade was answered with an HTTP status, which ClientWebSocket names only in its message.
            var status = System.Text.RegularExpressions.Regex.Match(ex.Message, @"'([1-5]\d\d)'") is { Success: true } m ? int.Parse(m.Groups[1].Value) : (int?)null;
            throw Refused(ns, pod, port, status, ex.Message, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or KubernetesException)
        {
            throw Refused(ns, pod, port, null, ex.Message, ex);
        }
    }

    private static UpgradeOpsException Refused(string ns, string pod, int port, string why, Exception? inner) => Refused(ns, pod, port, null, why, inner);

    private static UpgradeOpsException Refused(string ns, string pod, int port, int? status, string why, Exception? inner) => status switch
    {
        401 or 403 => new("PortForwardRefused", ErrorKind.PermissionDenied, $"{ns}/{pod}",
            $"The Kubernetes API refused a port-forward to pod {ns}/{pod} ({why.Trim()}). " +
            "Use an identity that may create pods/portforward in that namespace, or give -ApiEndpoint.", inner),
        404 => new("PortForwardRefused", ErrorKind.ObjectNotFound, $"{ns}/{pod}",
            $"The Kubernetes API found no pod {ns}/{pod} to port-forward to ({why.Trim()}): it was replaced or removed meanwhile. " +
            "Run the command again, or give -ApiEndpoint.", inner),
        _ => new("PortForwardRefused", ErrorKind.ConnectionError, $"{ns}/{pod}",
            $"The Kubernetes API did not open a port-forward to pod {ns}/{pod} port {port}: {why.Trim()} " +
            "Check that the pod runs and that the cluster serves port-forwards over WebSockets (v4.channel.k8s.io), or give -ApiEndpoint.", inner),
    };

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient local;
            try
            {
                local = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(local));
        }
    }

    /// <summary>One local connection: its own WebSocket, bytes both ways until either side ends, then both closed.</summary>
    private async Task ServeAsync(TcpClient local)
    {
        _connections[local] = null;
        WebSocket? socket = null;
        try
        {
            if (_stop.IsCancellationRequested) return;
            socket = await ConnectAsync(_client, Namespace, Pod, Port, _stop.Token).ConfigureAwait(false);
            _connections[local] = socket;
            if (_stop.IsCancellationRequested) return;
            var stream = local.GetStream();
            var sending = SendAsync(stream, socket);
            var frames = new PortForwardFrames(new[] { Port });
            var error = new DecodedText(4096);
            var buffer = new byte[64 * 1024];
            try
            {
                while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
                {
                    var received = await socket.ReceiveAsync(buffer, _stop.Token).ConfigureAwait(false);
                    if (received.MessageType == WebSocketMessageType.Close) break;
                    var (channel, payload) = frames.Accept(buffer, received.Count, received.EndOfMessage);
                    if (payload.Count == 0) continue;
                    if (PortForwardFrames.IsError(channel))
                    {
                        error.Append(payload);
                    }
                    else
                    {
                        try { await stream.WriteAsync(payload, _stop.Token).ConfigureAwait(false); }
                        catch (IOException) { break; } // the local client went away
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or InvalidDataException)
            {
                Fail($"the connection through the API server broke: {ex.Message}");
            }
            if (error.Length > 0) Fail(error.ToString().Trim());
            // The pod's side is done: an orderly end (FIN) for the local client, which then closes its side; a socket closed
            // while a read is pending would be reset, and a client might lose the last bytes it has not read yet.
            local.Client.Shutdown(SocketShutdown.Send);
            await sending.WaitAsync(LocalCloseTimeout, _stop.Token).ConfigureAwait(false);
        }
        catch (UpgradeOpsException ex)
        {
            Fail(ex.Message);
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or IOException or SocketException or InvalidOperationException or ObjectDisposedException or WebSocketException) { }
        finally
        {
            _connections.TryRemove(local, out _);
            socket?.Abort();
            socket?.Dispose();
            local.Dispose();
        }
    }

    /// <summary>The local client's bytes to the pod; when it ends its side, the WebSocket closes (v4 has no half-close).</summary>
    private async Task SendAsync(Stream local, WebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await local.ReadAsync(buffer, _stop.Token).ConfigureAwait(false)) > 0)
                await socket.SendAsync(PortForwardFrames.Data(0, buffer.AsSpan(0, read)), WebSocketMessageType.Binary, true, _stop.Token).ConfigureAwait(false);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", _stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or WebSocketException or ObjectDisposedException or OperationCanceledException) { }
    }

    private void Fail(string message)
    {
        // Connections cut by Dispose are not failures, and the command's log may be gone by then.
        if (_stop.IsCancellationRequested) return;
        Volatile.Write(ref _failure, message);
        _log.LogDebug("Port-forward to {Target}: {Message}", Description, message);
    }

    /// <summary>Closes the listener (the local port is free from here) and every connection through it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stop.Cancel();
        _listener.Stop();
        foreach (var (local, socket) in _connections)
        {
            socket?.Abort();
            local.Dispose();
        }
        _log.LogDebug("Closed the port-forward 127.0.0.1:{LocalPort} to {Target}", LocalPort, Description);
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Validation;

/// <summary>An API on a free loopback port that answers each request as the script says, and records them.</summary>
internal sealed class ScriptedApi : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<(string Method, string Path, string Body, string? Key)> _requests = new();

    public ScriptedApi(Func<string, string, string, (int Status, string Body)> answer)
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var root = $"http://127.0.0.1:{port}/";
        _listener.Prefixes.Add(root);
        _listener.Start();
        Root = root;
        Api = new ProductApi(new Uri(root), new ApiDefinition { GraphQL = "/graphql" });
        _ = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await _listener.GetContextAsync(); }
                catch (Exception) { return; }
                using var reader = new StreamReader(context.Request.InputStream);
                var body = await reader.ReadToEndAsync();
                // A GraphQL request is recorded as its query text (the JSON body escapes quotes).
                if (body.StartsWith('{') && JsonNode.Parse(body)?["query"] is JsonValue query) body = query.ToString();
                var path = context.Request.RawUrl ?? "";
                _requests.Enqueue((context.Request.HttpMethod, path, body, context.Request.Headers["X-INFRAHUB-KEY"]));
                var (status, text) = answer(context.Request.HttpMethod, path, body);
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json";
                var bytes = System.Text.Encoding.UTF8.GetBytes(text);
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });
    }

    /// <summary>The API's base URL, http://127.0.0.1:PORT/.</summary>
    public string Root { get; }
    public ProductApi Api { get; }
    public IReadOnlyList<(string Method, string Path, string Body, string? Key)> Requests => _requests.ToList();
    public void Dispose() => _listener.Close();
}

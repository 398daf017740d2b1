using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Platforms;

/// <summary>An answer of the product's API: parsed JSON, the GraphQL errors if any, and how long it took.</summary>
public sealed record ApiAnswer(JsonNode? Json, IReadOnlyList<string> Errors, TimeSpan Elapsed, int StatusCode);

/// <summary>
/// The product's HTTP and GraphQL API, as the profile describes it, at the deployment's API endpoint or through a
/// port-forward to a Helm release's API pod (opened on the first request; a request it breaks fails with the forward's reason).
/// </summary>
public sealed class ProductApi
{
    private readonly Uri? _endpoint;
    private readonly IApiTunnel? _forward;
    private readonly (string Header, string Value)? _token;

    public ProductApi(Uri endpoint, ApiDefinition definition) => (_endpoint, Definition) = (endpoint, definition);

    public ProductApi(IApiTunnel forward, ApiDefinition definition) => (_forward, Definition) = (forward, definition);

    private ProductApi(ProductApi api, (string Header, string Value) token) =>
        (_endpoint, _forward, Definition, _token) = (api._endpoint, api._forward, api.Definition, token);

    /// <summary>The same API, every request carrying the token in <paramref name="header"/>.</summary>
    public ProductApi WithToken(string header, string value) => new(this, (header, value));

    public ApiDefinition Definition { get; }

    /// <summary>An endpoint as the root its routes are relative to: a path of its own (a reverse proxy's /infrahub) is kept.</summary>
    internal static Uri RootOf(string endpoint) => new(endpoint.TrimEnd('/') + "/");

    /// <param name="apiEndpoint">Overrides the endpoint found from the profile (e.g. a port-forward).</param>
    public static ProductApi For(Deployment deployment, ProductProfile profile, string? apiEndpoint = null) =>
        (apiEndpoint ?? deployment.ApiEndpoint) is { } endpoint
            ? new ProductApi(RootOf(endpoint), profile.Api)
            : throw new UpgradeOpsException("ApiEndpointUnknown", ErrorKind.ObjectNotFound, deployment.Name,
                $"No API endpoint is known for '{deployment.Name}': its profile names no API service and port, or that service publishes none. " +
                "Give -ApiEndpoint, or add api.service and api.port to the profile.");

    public async Task<ApiAnswer> GetAsync(string path, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var (status, text) = await ExchangeAsync(root => new HttpRequestMessage(HttpMethod.Get, new Uri(root, path.TrimStart('/'))), ct).ConfigureAwait(false);
        return new ApiAnswer(TryParse(text), status is >= 200 and < 300 ? Array.Empty<string>() : new[] { $"HTTP {status}" }, watch.Elapsed, status);
    }

    public async Task<ApiAnswer> GraphQLAsync(string query, CancellationToken ct)
    {
        if (Definition.GraphQL is not { } path)
            throw new UpgradeOpsException("GraphQLNotDeclared", ErrorKind.InvalidArgument, query,
                "The profile declares no GraphQL endpoint (api.graphQL): add it, or leave the GraphQL checks out with -Check.");
        var watch = Stopwatch.StartNew();
        // A buffered body with its Content-Length: a server reached directly (a port-forward, no proxy in front) may not read chunked requests.
        var body = System.Text.Json.JsonSerializer.Serialize(new { query });
        var (status, text) = await ExchangeAsync(root => new HttpRequestMessage(HttpMethod.Post, new Uri(root, path.TrimStart('/')))
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        }, ct).ConfigureAwait(false);
        var json = TryParse(text);
        return new ApiAnswer(json, ErrorsOf(json, status), watch.Elapsed, status);
    }

    /// <summary>
    /// An HTTP request without a body to <paramref name="path"/> (already escaped), such as a REST call that starts an
    /// operation; its errors are read as a GraphQL answer's are (a product's REST errors often share that shape).
    /// </summary>
    public async Task<ApiAnswer> SendAsync(HttpMethod method, string path, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        // An explicit empty body: Content-Length 0, which every server reads as "no body" (not a chunked stream).
        var (status, text) = await ExchangeAsync(root => new HttpRequestMessage(method, new Uri(root, path.TrimStart('/')))
        {
            Content = method == HttpMethod.Get ? null : new ByteArrayContent([]),
        }, ct).ConfigureAwait(false);
        var json = TryParse(text);
        return new ApiAnswer(json, ErrorsOf(json, status), watch.Elapsed, status);
    }

    /// <summary>The messages of the answer's errors[], or its HTTP status when it failed without any.</summary>
    private static List<string> ErrorsOf(JsonNode? json, int status)
    {
        var errors = new List<string>();
        if (json is JsonObject && json["errors"] is JsonArray array)
            errors.AddRange(array.Select(e => e is JsonObject && e["message"] is JsonValue message ? message.ToString() : e?.ToJsonString() ?? "error"));
        if ((status is < 200 or >= 300) && errors.Count == 0) errors.Add($"HTTP {status}");
        return errors;
    }

    /// <summary>One request and its answer's text; through a port-forward, a request it broke fails with the forward's reason.</summary>
    private async Task<(int Status, string Text)> ExchangeAsync(Func<Uri, HttpRequestMessage> build, CancellationToken ct)
    {
        var root = _endpoint ?? await _forward!.EndpointAsync(ct).ConfigureAwait(false);
        try
        {
            using var request = build(root);
            if (_token is { } token) request.Headers.TryAddWithoutValidation(token.Header, token.Value);
            using var response = await EngineHttp.Client.SendAsync(request, ct).ConfigureAwait(false);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        }
        catch (Exception ex) when ((ex is HttpRequestException or IOException) && _forward?.Explain(ex) is { } explained)
        {
            throw explained;
        }
    }

    /// <summary>The node at a dotted path such as data.Artifacts.0.status (numbers index arrays).</summary>
    public static JsonNode? Select(JsonNode? node, string? path)
    {
        if (string.IsNullOrEmpty(path)) return node;
        foreach (var part in path.Split('.'))
        {
            node = node switch
            {
                JsonArray array when int.TryParse(part, out var index) => index < array.Count ? array[index] : null,
                JsonObject obj => obj[part],
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }

    public static string? Text(JsonNode? node, string? path) =>
        Select(node, path) is JsonValue value ? value.ToString() : null;

    private static JsonNode? TryParse(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

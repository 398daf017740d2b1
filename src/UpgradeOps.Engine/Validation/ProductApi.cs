using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Validation;

/// <summary>An answer of the product's API: parsed JSON, the GraphQL errors if any, and how long it took.</summary>
internal sealed record ApiAnswer(JsonNode? Json, IReadOnlyList<string> Errors, TimeSpan Elapsed, int StatusCode);

/// <summary>The product's HTTP and GraphQL API, as the profile describes it, at the deployment's API endpoint.</summary>
internal sealed class ProductApi(Uri endpoint, ApiDefinition definition)
{
    public Uri Endpoint { get; } = endpoint;
    public ApiDefinition Definition { get; } = definition;

    /// <param name="apiEndpoint">Overrides the endpoint found from the profile (e.g. a port-forward).</param>
    public static ProductApi For(Deployment deployment, ProductProfile profile, string? apiEndpoint = null) =>
        (apiEndpoint ?? deployment.ApiEndpoint) is { } endpoint
            ? new ProductApi(new Uri(endpoint.TrimEnd('/') + "/"), profile.Api)
            : throw new UpgradeOpsException("ApiEndpointUnknown", ErrorKind.ObjectNotFound, deployment.Name,
                $"No API endpoint is known for '{deployment.Name}': its profile names no API service and port, or that service publishes none. " +
                "Give -ApiEndpoint, or add api.service and api.port to the profile.");

    public async Task<ApiAnswer> GetAsync(string path, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var response = await EngineHttp.Client.GetAsync(new Uri(Endpoint, path.TrimStart('/')), ct).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        return new ApiAnswer(TryParse(text), response.IsSuccessStatusCode ? Array.Empty<string>() : new[] { $"HTTP {(int)response.StatusCode}" },
            watch.Elapsed, (int)response.StatusCode);
    }

    public async Task<ApiAnswer> GraphQLAsync(string query, CancellationToken ct)
    {
        if (Definition.GraphQL is not { } path)
            throw new UpgradeOpsException("GraphQLNotDeclared", ErrorKind.InvalidArgument, query,
                "The profile declares no GraphQL endpoint (api.graphQL): add it, or leave the GraphQL checks out with -Check.");
        var watch = Stopwatch.StartNew();
        // A buffered body with its Content-Length: a server reached directly (a port-forward, no proxy in front) may not read chunked requests.
        using var body = new StringContent(System.Text.Json.JsonSerializer.Serialize(new { query }), System.Text.Encoding.UTF8, "application/json");
        using var response = await EngineHttp.Client.PostAsync(new Uri(Endpoint, path.TrimStart('/')), body, ct).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        var json = TryParse(text);
        var errors = new List<string>();
        if (json?["errors"] is JsonArray array)
            errors.AddRange(array.Select(e => e?["message"]?.GetValue<string>() ?? e?.ToJsonString() ?? "error"));
        if (!response.IsSuccessStatusCode && errors.Count == 0) errors.Add($"HTTP {(int)response.StatusCode}");
        return new ApiAnswer(json, errors, watch.Elapsed, (int)response.StatusCode);
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

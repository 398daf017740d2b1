using Docker.DotNet.Models;

namespace UpgradeOps.Compose;

/// <summary>
/// The parts of Docker.DotNet's models the engine cannot work without. The models declare them nullable because the
/// Engine API may leave them out; an engine that did would be broken or not a Docker Engine, so it is a clear error
/// naming the container, never a NullReferenceException deep in an upgrade.
/// </summary>
internal static class DockerModels
{
    /// <summary>What the Engine said, from its JSON error body (<c>{"message": "..."}</c>), the body as it is, or the exception's text.</summary>
    public static string ErrorOf(Docker.DotNet.DockerApiException ex)
    {
        var body = ex.ResponseBody?.Trim();
        if (string.IsNullOrEmpty(body)) return ex.Message;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && json.RootElement.TryGetProperty("message", out var message) &&
                message.ValueKind == System.Text.Json.JsonValueKind.String)
                return message.GetString()!;
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: the body is the message.
        }
        return body;
    }

    public static ContainerConfig ConfigOf(ContainerInspectResponse container) =>
        container.Config ?? throw Incomplete(container, "Config");

    public static State StateOf(ContainerInspectResponse container) =>
        container.State ?? throw Incomplete(container, "State");

    public static HostConfig HostConfigOf(ContainerInspectResponse container) =>
        container.HostConfig ?? throw Incomplete(container, "HostConfig");

    private static UpgradeOpsException Incomplete(ContainerInspectResponse container, string field) =>
        new("ContainerInspectIncomplete", ErrorKind.InvalidData, container.Name?.TrimStart('/') ?? container.ID,
            $"The Docker Engine described container {container.Name?.TrimStart('/') ?? container.ID} without its {field}. Check the engine with " +
            $"'docker inspect {container.ID}' (an engine that omits it is not answering the Docker API), then run the command again.");
}

using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;

namespace UpgradeOps.Compose;

/// <summary>Registry credentials from the docker CLI's config.json ("auths"), as 'docker pull' would use them.</summary>
internal static class RegistryAuth
{
    public static AuthConfig? For(string image)
    {
        var registry = Registry(image);
        var folder = Environment.GetEnvironmentVariable("DOCKER_CONFIG") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        var file = Path.Combine(folder, "config.json");
        if (!File.Exists(file)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            if (!document.RootElement.TryGetProperty("auths", out var auths)) return null;
            foreach (var entry in auths.EnumerateObject())
            {
                var host = entry.Name.Replace("https://", "").Replace("http://", "").TrimEnd('/').Split('/')[0];
                if (!string.Equals(host, registry, StringComparison.OrdinalIgnoreCase) || !entry.Value.TryGetProperty("auth", out var auth)) continue;
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(auth.GetString() ?? "")).Split(':', 2);
                return pair.Length == 2 ? new AuthConfig { Username = pair[0], Password = pair[1], ServerAddress = entry.Name } : null;
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or IOException)
        {
            // an unreadable docker config means no credentials, as for the docker CLI
        }
        return null;
    }

    /// <summary>The registry host of an image reference; Docker Hub when the first part is not a host.</summary>
    internal static string Registry(string image)
    {
        var first = image.Split('/')[0];
        return image.Contains('/') && (first.Contains('.') || first.Contains(':') || first == "localhost") ? first : "index.docker.io";
    }
}

using Docker.DotNet.Models;
using UpgradeOps.Backups;
using UpgradeOps.Profiles;

using UpgradeOps.Rehearsals;

namespace UpgradeOps.Compose;

/// <summary>The PostgreSQL of a data store in a Compose deployment: its container, credentials and how to reach it from here.</summary>
internal static class ComposePostgres
{
    /// <summary>Builds the target from the database container's own configuration (user and password from its environment).</summary>
    public static PostgresTarget Of(DockerEngine engine, DataStoreDefinition store, ContainerInspectResponse container)
    {
        var config = DockerModels.ConfigOf(container);
        var env = (config.Env ?? new List<string>())
            .Select(e => e.Split('=', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Last()[1]);
        var user = store.UserVariable is not null && env.TryGetValue(store.UserVariable, out var u) ? u : "postgres";
        var password = store.PasswordVariable is not null && env.TryGetValue(store.PasswordVariable, out var p) ? p : "";

        // Npgsql reaches the server from here through host networking or a published port.
        string? host = null;
        int? port = null;
        // On the host network a rehearsal copy's server listens on its own port (recorded in a label).
        // The server listens on PGPORT when the container sets it (the postgres server's own default, as on Helm), else the profile's port.
        var ownPort = env.TryGetValue("PGPORT", out var pgPort) && int.TryParse(pgPort, out var parsed) ? parsed : store.Port;
        var serverPort = container.HostConfig?.NetworkMode == "host" ? RehearsalLabels.MapPort(config.Labels, ownPort) : ownPort;
        if (container.HostConfig?.NetworkMode == "host")
        {
            host = "127.0.0.1";
            port = serverPort;
        }
        else if (container.NetworkSettings?.Ports is { } ports && ports.TryGetValue($"{ownPort}/tcp", out var bindings) && bindings?.FirstOrDefault() is { } binding)
        {
            host = string.IsNullOrEmpty(binding.HostIP) || binding.HostIP is "0.0.0.0" or "::" ? "127.0.0.1" : binding.HostIP;
            port = int.Parse(binding.HostPort);
        }
        return new PostgresTarget(new DockerContainerExec(engine.Client, container.ID, new[] { $"PGPASSWORD={password}" }),
            user, password, store.DatabaseIn(env.GetValueOrDefault)!, serverPort, host, port);
    }
}

using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Profiles;

namespace UpgradeOps.Compose;

/// <summary>The Neo4j of a data store in a Compose deployment: its container, image and environment (NEO4J_AUTH).</summary>
internal static class ComposeNeo4j
{
    public static Neo4jTarget Of(DockerEngine engine, DataStoreDefinition store, ContainerInspectResponse container, ILogger log)
    {
        var config = DockerModels.ConfigOf(container);
        var env = (config.Env ?? new List<string>())
            .Select(e => e.Split('=', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Last()[1]);
        return new Neo4jTarget(new DockerContainerExec(engine.Client, container.ID, Neo4jTarget.ExecEnvironment(store, env)), store, config.Image ?? "", env, log);
    }
}

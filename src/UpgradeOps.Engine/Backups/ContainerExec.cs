using Microsoft.Extensions.Logging;

namespace UpgradeOps.Backups;

/// <summary>
/// Where a data store's tools (pg_dump, pg_restore, psql, tar) run: inside its Docker container through the Engine's
/// exec API, or inside its Kubernetes pod through the API server's exec. One contract, so the tools' logic exists once.
/// </summary>
public interface IContainerExec
{
    /// <summary>How much stdout a run keeps as text when no stream takes it: 1 MiB, on every platform.</summary>
    const int CapturedLimit = 1 << 20;

    /// <summary>Where the command runs, for messages ("container ab12cd", "pod ns/name (container database)").</summary>
    string Description { get; }

    /// <param name="standardOutput">Where stdout goes; null keeps up to 1 MiB of it as text in the result.</param>
    /// <param name="standardInput">Fed to the command's stdin, then closed.</param>
    Task<ExecResult> RunAsync(IReadOnlyList<string> command, CancellationToken ct, Stream? standardOutput = null, Stream? standardInput = null);

    /// <summary>
    /// For a wait on a container whose process ended because of UpgradeOps' own work (a Neo4j server stopped for
    /// neo4j-admin): when the platform holds its restart back, restart it now; true when it did. Docker's restart policy
    /// doubles its delay, up to a minute, each time a container ran under 10 s, so backups close together waited longer and
    /// longer. Nothing to do by default (a pod's back-off cannot be cut short without deleting the pod).
    /// </summary>
    Task<bool> RestartIfHeldBackAsync(CancellationToken ct) => Task.FromResult(false);
}

/// <summary>Where a deployment's data stores live (its containers, or its release's pods): what verification and restores need.</summary>
public interface IDataStoreHost : IDisposable
{
    Profiles.ProductProfile Profile { get; }

    /// <summary>The PostgreSQL of a data store, where its tools run.</summary>
    Task<PostgresTarget> PostgresAsync(Profiles.DataStoreDefinition store, CancellationToken ct);

    /// <summary>The Neo4j of a data store, where its neo4j-admin runs (a platform that cannot yet back it up refuses).</summary>
    Task<Neo4jTarget> Neo4jAsync(Profiles.DataStoreDefinition store, ILogger log, CancellationToken ct) =>
        throw new UpgradeOpsException("BackupMethodNotSupported", ErrorKind.NotImplemented, store.Name,
            $"Data store '{store.Name}' is Neo4j, whose backup and restore UpgradeOps does not run on this platform yet. Back it up and restore it by hand, " +
            "and pass -Component with the other components.");

    /// <summary>
    /// A scratch container for a Neo4j data store's restore test: the same image as its database, a fresh volume of its own,
    /// no network, its server never started (only neo4j-admin runs in it); removed with its volume when disposed. Null
    /// when the platform cannot start one yet.
    /// </summary>
    Task<Neo4jScratch?> Neo4jScratchAsync(Profiles.DataStoreDefinition store, CancellationToken ct) => Task.FromResult<Neo4jScratch?>(null);
}

/// <summary>A scratch container where neo4j-admin runs (<see cref="IDataStoreHost.Neo4jScratchAsync"/>); disposing removes it and its volume.</summary>
public sealed class Neo4jScratch(IContainerExec exec, string description, Func<Task> remove) : IAsyncDisposable
{
    public IContainerExec Exec { get; } = exec;

    /// <summary>What the scratch is and how it is kept apart from the live database, as the restore test's check says it.</summary>
    public string Description { get; } = description;

    public async ValueTask DisposeAsync() => await remove().ConfigureAwait(false);
}

using UpgradeOps.Hosting;

namespace UpgradeOps.Backups;

/// <summary>What every platform's backup shares: the configuration component's name, -Component's selection, and a PostgreSQL dump's capture.</summary>
public static class BackupComponents
{
    /// <summary>The component name of a deployment's configuration (compose file and .env, or a release's values and manifest).</summary>
    public const string Config = "config";

    /// <summary>The components -Component asks for (all when it is empty); an unknown name is an error listing the known ones.</summary>
    public static List<PlannedComponent> Select(List<PlannedComponent> planned, BackupRequest request)
    {
        if (request.Components.Count == 0) return planned;
        var unknown = request.Components.Where(c => planned.All(p => !p.Name.Equals(c, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0)
            throw new UpgradeOpsException("UnknownBackupComponent", ErrorKind.InvalidArgument, string.Join(", ", unknown),
                $"Unknown component(s) {string.Join(", ", unknown)}. This deployment has: {string.Join(", ", planned.Select(p => p.Name).Distinct())}.");
        return planned.Where(p => request.Components.Contains(p.Name, StringComparer.OrdinalIgnoreCase)).ToList();
    }

    /// <summary>
    /// pg_dump -Fc of one database into its component file, with the server and pg_dump versions and the row count of
    /// every table, counted in the very snapshot pg_dump dumps (through Npgsql from here, or a psql session beside the server).
    /// </summary>
    internal static async Task<BackupComponent> CapturePostgresAsync(PostgresTarget postgres, BackupComponent component, BackupWriter writer,
        ProgressActivity activity, DeploymentBackup backup, CancellationToken ct)
    {
        component.ServerMajorVersion = await postgres.ServerMajorVersionAsync(ct).ConfigureAwait(false);
        component.DumpMajorVersion = await postgres.DumpMajorVersionAsync(ct).ConfigureAwait(false);
        backup.ToolVersions["pg_dump"] = component.DumpMajorVersion.ToString()!;
        // Row counts are taken while the dump runs, in the snapshot pg_dump dumps: they match the dump while the application writes.
        await using var snapshot = await postgres.ShareSnapshotAsync(ct).ConfigureAwait(false);
        var counting = snapshot.RowCountsAsync(ct);
        await writer.WriteAsync(component, target => postgres.DumpAsync(target, ct, snapshot.Id), ct).ConfigureAwait(false);
        component.RowCounts = await counting.ConfigureAwait(false);
        activity.Report($"{component.Name}: {component.SizeBytes:N0} bytes", -1);
        return component;
    }

    /// <summary>
    /// A Neo4j database into its component file as neo4j-admin streams it (an offline dump, or Enterprise's online backup
    /// artifact), hashed as it is written; the component records the edition that took it and where it came from.
    /// </summary>
    internal static async Task<BackupComponent> CaptureNeo4jAsync(Neo4jTarget neo4j, BackupComponent component, BackupWriter writer,
        ProgressActivity activity, CancellationToken ct)
    {
        await writer.WriteAsync(component, async target => component.Neo4jEdition = await neo4j.DumpAsync(target, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
        component.Source = $"{component.Source}, database '{neo4j.Database}' ({component.Neo4jEdition} {(component.Neo4jEdition == Neo4jEdition.Community ? "offline dump" : "online backup")})";
        activity.Report($"{component.Name}: {component.SizeBytes:N0} bytes", -1);
        return component;
    }
}

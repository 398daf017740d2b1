using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using YamlDotNet.RepresentationModel;


using UpgradeOps.Backups;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Backs up a Helm release through the Kubernetes API only: pg_dump runs in the database pod through the exec API and
/// streams into the backup file, as does neo4j-admin's dump of each Neo4j store (Community offline, with the application
/// scaled to 0 meanwhile) and tar of each Volume data store's path in the pod the profile names; the configuration is the release's user-supplied values and its rendered manifest,
/// read from the release Secret (values whose key says secret, and every Secret's data, are redacted unless the backup
/// is encrypted). Same folder, manifest.json and verification as a Compose backup.
/// </summary>
public static class HelmBackup
{
    public const string ValuesFile = "config/values.json";
    public const string ManifestFile = "config/manifest.yaml";

    public static async Task<IReadOnlyList<PlannedComponent>> PlanAsync(BackupRequest request, EngineContext context)
    {
        using var source = HelmDeployment.Open(request.Deployment);
        return await PlanAsync(source, request, context.CreateLogger(nameof(HelmBackup)), context.CancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<PlannedComponent>> PlanAsync(HelmDeployment source, BackupRequest request, ILogger log, CancellationToken ct)
    {
        var suffix = request.Passphrase is null ? "" : ".enc";
        var planned = new List<PlannedComponent>();
        var workloads = await source.WorkloadsAsync(ct).ConfigureAwait(false);
        var skipped = new List<string>();
        foreach (var store in source.Profile.DataStores)
        {
            switch (store.Kind)
            {
                case DataStoreKind.Postgres:
                    var workload = workloads.FirstOrDefault(w => w.Service?.Name == store.Service)?.Name ?? store.Service;
                    planned.Add(new(store.Name, BackupComponentKind.PostgresDump, $"database {store.DatabaseShown} in a pod of {source.Namespace}/{workload}", $"{store.Name}.dump{suffix}"));
                    break;
                case DataStoreKind.Volume when store.KubernetesWorkload is not null:
                    var holder = workloads.FirstOrDefault(w => w.Service?.Name == store.KubernetesWorkload)?.Name ?? store.KubernetesWorkload;
                    planned.Add(new(store.Name, BackupComponentKind.Volume, $"{store.Path} in a pod of {source.Namespace}/{holder}", $"{store.Name}.tar{suffix}"));
                    break;
                case DataStoreKind.Volume:
                    skipped.Add(store.Name);
                    break;
                case DataStoreKind.Neo4j:
                    var graphWorkload = workloads.FirstOrDefault(w => w.Service?.Name == store.Service)?.Name ?? store.Service;
                    planned.Add(new(store.Name, BackupComponentKind.Neo4jDump, $"Neo4j in a pod of {source.Namespace}/{graphWorkload}", $"{store.Name}.dump{suffix}"));
                    break;
            }
        }
        var redacted = request.Passphrase is null ? ", secrets redacted" : "";
        planned.Add(new(BackupComponents.Config, BackupComponentKind.HelmRelease, $"values of release {source.Namespace}/{source.Release}{redacted}", ValuesFile + suffix));
        planned.Add(new(BackupComponents.Config, BackupComponentKind.KubernetesResources, $"manifest of release {source.Namespace}/{source.Release}{redacted}", ManifestFile + suffix));

        if (source.Profile.KubernetesResources.Count > 0)
            planned.Add(new(KubernetesObjectSnapshot.Component, BackupComponentKind.KubernetesResources,
                $"{string.Join(", ", source.Profile.KubernetesResources.Select(r => $"{r.Kind} {KubernetesObjectSnapshot.ResolveName(r.Name, source.Release)}"))} in {source.Namespace}" +
                (request.Passphrase is null && source.Profile.KubernetesResources.Any(r => r.Kind == "Secret") ? ", Secret values redacted" : ""),
                KubernetesObjectSnapshot.File + suffix));

        var selected = BackupComponents.Select(planned, request);
        var wanted = request.Components.Where(c => skipped.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        if (wanted.Count > 0)
            throw new UpgradeOpsException("BackupMethodNotSupported", ErrorKind.NotImplemented, string.Join(", ", wanted),
                $"Volume data store(s) {string.Join(", ", wanted)} are not backed up on Kubernetes: the profile does not say where they live in a pod. Give them 'kubernetesWorkload' and 'path' in the profile, or back them up by hand (tar in the pod that mounts them) and pass -Component with the other components.");
        if (request.Components.Count == 0 && skipped.Count > 0)
            log.LogWarning("Volume data store(s) {Stores} are not backed up on Kubernetes: the profile gives no 'kubernetesWorkload' and 'path' for them. Add those, or back them up by hand (tar in the pod that mounts them).", string.Join(", ", skipped));
        return selected;
    }

    public static async Task<DeploymentBackup> BackupAsync(BackupRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmBackup));
        var watch = Stopwatch.StartNew();
        using var source = HelmDeployment.Open(request.Deployment);
        // The plan the user confirmed, if there is one: planned again, its warnings (volumes it cannot place) would be said twice.
        var planned = request.Planned ?? await PlanAsync(source, request, log, ct).ConfigureAwait(false);
        var release = await source.ReleaseJsonAsync(ct).ConfigureAwait(false);

        var writer = BackupWriter.Create(request, source.Deployment, $"{source.Namespace}/{source.Release}", log);
        var backup = writer.Backup;
        using var activity = context.StartActivity($"Backing up Helm release {source.Namespace}/{source.Release}");
        // A Community Neo4j is dumped offline: as infrahub-backup does, the application (API, workers, task manager) is
        // scaled to 0 first, so nothing writes to it or fails on it meanwhile, and scaled back at the end, whatever happens.
        var scaledDown = new List<HelmDeployment.Workload>();
        var graphs = new List<(Neo4jTarget Target, DataStoreDefinition Store)>();
        var captured = false;
        try
        {
            backup.ToolVersions["HelmChart"] = $"{release["chart"]?["metadata"]?["name"]} {release["chart"]?["metadata"]?["version"]}";
            backup.ToolVersions["HelmRevision"] = release["version"]?.ToString() ?? "";
            // A volume is archived through a pod of the workload that mounts it: when the offline dump scales the application
            // down, the volumes of the workloads it stops are archived first, with every other application workload already
            // stopped (as a restore extracts them), then their holders stop too.
            var capturedEarly = new Dictionary<string, BackupComponent>(StringComparer.Ordinal);
            async Task<BackupComponent> CaptureVolumeAsync(PlannedComponent p)
            {
                var component = new BackupComponent { Name = p.Name, Kind = p.Kind, File = p.File, Sha256 = "", Source = p.Source };
                var volume = source.Profile.DataStores.First(s => s.Name == p.Name);
                var (_, exec) = await source.VolumeExecAsync(volume, ct).ConfigureAwait(false);
                component.Source = $"{volume.Path} in {exec.Description}";
                await writer.WriteAsync(component, target => PodVolumeArchive.CaptureAsync(exec, volume.Name, volume.Path!, target, log, ct), ct).ConfigureAwait(false);
                activity.Report($"{p.Name}: {component.SizeBytes:N0} bytes", -1);
                return component;
            }
            for (var i = 0; i < planned.Count; i++)
            {
                var p = planned[i];
                if (capturedEarly.Remove(p.Name, out var early))
                {
                    backup.Components.Add(early);
                    continue;
                }
                activity.Report($"{p.Name}: {p.Source}", 10 + 80 * i / planned.Count);
                log.LogDebug("Capturing {Component} from {Source}", p.Name, p.Source);
                var component = new BackupComponent { Name = p.Name, Kind = p.Kind, File = p.File, Sha256 = "", Source = p.Source };
                switch (p.Kind)
                {
                    case BackupComponentKind.Neo4jDump:
                        var graphStore = source.Profile.DataStores.First(s => s.Name == p.Name);
                        var graph = await source.Neo4jAsync(graphStore, log, ct).ConfigureAwait(false);
                        graphs.Add((graph, graphStore));
                        if (await graph.EditionAsync(ct).ConfigureAwait(false) == Neo4jEdition.Community && scaledDown.Count == 0)
                        {
                            var writers = await HelmRestore.ApplicationWorkloadsAsync(source, ct).ConfigureAwait(false);
                            var pendingVolumes = planned.Skip(i + 1).Where(v => v.Kind == BackupComponentKind.Volume)
                                .Select(v => (Planned: v, Store: source.Profile.DataStores.First(s => s.Name == v.Name)))
                                .Where(v => v.Store.KubernetesWorkload is not null).ToList();
                            var holders = pendingVolumes.Select(v => v.Store.KubernetesWorkload!).ToHashSet(StringComparer.OrdinalIgnoreCase);
                            var holding = writers.Where(w => w.Service is not null && holders.Contains(w.Service.Name)).ToList();
                            activity.Report($"Scaling {string.Join(", ", writers.Select(w => w.Name))} to 0 for the offline dump", -1);
                            foreach (var workload in writers.Except(holding))
                            {
                                await source.ScaleAsync(workload, 0, ct).ConfigureAwait(false);
                                scaledDown.Add(workload);
                            }
                            foreach (var (volume, _) in pendingVolumes.Where(v => holding.Any(w => w.Service!.Name.Equals(v.Store.KubernetesWorkload, StringComparison.OrdinalIgnoreCase))))
                                capturedEarly[volume.Name] = await CaptureVolumeAsync(volume).ConfigureAwait(false);
                            foreach (var workload in holding)
                            {
                                await source.ScaleAsync(workload, 0, ct).ConfigureAwait(false);
                                scaledDown.Add(workload);
                            }
                        }
                        await BackupComponents.CaptureNeo4jAsync(graph, component, writer, activity, ct).ConfigureAwait(false);
                        break;
                    case BackupComponentKind.PostgresDump:
                        var store = source.Profile.DataStores.First(s => s.Name == p.Name);
                        await BackupComponents.CapturePostgresAsync(await source.PostgresAsync(store, ct).ConfigureAwait(false), component, writer, activity, backup, ct)
                            .ConfigureAwait(false);
                        break;
                    case BackupComponentKind.Volume:
                        component = await CaptureVolumeAsync(p).ConfigureAwait(false);
                        break;
                    case BackupComponentKind.HelmRelease:
                        var values = release["config"] as JsonObject ?? new JsonObject();
                        var valuesText = (request.Passphrase is null ? HelmReleaseRedaction.RedactValues(values) : values).ToJsonString(new JsonSerializerOptions { WriteIndented = true });
                        await writer.WriteAsync(component, target => target.WriteAsync(Encoding.UTF8.GetBytes(valuesText), ct).AsTask(), ct).ConfigureAwait(false);
                        break;
                    case BackupComponentKind.KubernetesResources when p.Name == KubernetesObjectSnapshot.Component:
                        // Secrets' values are read into memory only to go into the encrypted file; unencrypted, they are masked before anything is written.
                        var resources = KubernetesObjectSnapshot.Serialize(await source.ResourcesAsync(redactSecrets: request.Passphrase is null, ct).ConfigureAwait(false));
                        await writer.WriteAsync(component, target => target.WriteAsync(Encoding.UTF8.GetBytes(resources), ct).AsTask(), ct).ConfigureAwait(false);
                        break;
                    case BackupComponentKind.KubernetesResources:
                        var manifest = (string?)release["manifest"] ?? "";
                        if (request.Passphrase is null) manifest = HelmReleaseRedaction.RedactManifest(manifest, release["config"] as JsonObject);
                        await writer.WriteAsync(component, target => target.WriteAsync(Encoding.UTF8.GetBytes(manifest), ct).AsTask(), ct).ConfigureAwait(false);
                        break;
                }
                backup.Components.Add(component);
            }
            captured = true;
        }
        catch
        {
            writer.Abort();
            throw;
        }
        finally
        {
            // Not with the cancelled token: after a Ctrl+C the database must still come back and the application scale back.
            var restarted = new List<HelmDeployment.Workload>();
            foreach (var (graph, graphStore) in graphs.Where(g => g.Target.WasStopped))
            {
                activity.Report($"Waiting for {graph.Name} to answer again", 92);
                try
                {
                    await graph.WaitAnsweringAsync(TimeSpan.FromMinutes(5), CancellationToken.None).ConfigureAwait(false);
                    restarted.Add(await source.DataStoreWorkloadAsync(graphStore, CancellationToken.None).ConfigureAwait(false));
                }
                catch (UpgradeOpsException ex)
                {
                    log.LogWarning("After the backup, {Message}", ex.Message);
                }
            }
            await source.ScaleBackAsync(scaledDown, log).ConfigureAwait(false);
            if (scaledDown.Count + restarted.Count > 0)
            {
                activity.Report("Waiting for the application to be ready again", 95);
                try
                {
                    await source.WaitReadyAsync(restarted.Concat(scaledDown), TimeSpan.FromMinutes(5), CancellationToken.None).ConfigureAwait(false);
                }
                catch (UpgradeOpsException ex) when (!captured)
                {
                    // The backup already failed: its own error is the one to report, not this one that hid it.
                    log.LogWarning("After the failed backup, {Message}", ex.Message);
                }
            }
        }
        await writer.CompleteAsync(watch.Elapsed, ct).ConfigureAwait(false);
        activity.Complete();
        return backup;
    }
}

/// <summary>What of a release is secret, masked for a backup that is not encrypted.</summary>
internal static class HelmReleaseRedaction
{
    /// <summary>The values with every leaf whose key says it is secret (password, token, key, ...) replaced by the mask.</summary>
    public static JsonObject RedactValues(JsonObject values)
    {
        var copy = (JsonObject)values.DeepClone();
        Redact(copy);
        return copy;

        static void Redact(JsonNode? node)
        {
            if (node is JsonObject o)
                foreach (var key in o.Select(p => p.Key).ToList())
                {
                    if (o[key] is JsonValue && SecretRedactor.IsSecretName(key)) o[key] = SecretRedactor.Mask;
                    else Redact(o[key]);
                }
            else if (node is JsonArray a)
                foreach (var item in a) Redact(item);
        }
    }

    /// <summary>The rendered manifest with every Secret's data and stringData masked, and secret values masked wherever else they appear.</summary>
    public static string RedactManifest(string manifest, JsonObject? values)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(manifest));
        foreach (var document in yaml.Documents)
        {
            if (document.RootNode is not YamlMappingNode root) continue;
            if (!root.Children.TryGetValue(new YamlScalarNode("kind"), out var kind) || kind.ToString() != "Secret") continue;
            foreach (var field in new[] { "data", "stringData" })
                if (root.Children.TryGetValue(new YamlScalarNode(field), out var data) && data is YamlMappingNode map)
                    foreach (var key in map.Children.Keys.ToList()) map.Children[key] = new YamlScalarNode(SecretRedactor.Mask);
        }
        var writer = new StringWriter();
        yaml.Save(writer, assignAnchors: false);
        var secrets = values is null ? Array.Empty<KeyValuePair<string, string>>()
            : HelmRelease.Flatten(values).Where(v => SecretRedactor.IsSecretName(v.Key.Split('.')[^1]));
        return new SecretRedactor(secrets).Redact(writer.ToString());
    }
}

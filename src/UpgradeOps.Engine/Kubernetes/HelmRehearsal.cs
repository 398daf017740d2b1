using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Kubernetes;
using UpgradeOps.Profiles;
using UpgradeOps.Upgrades;
using UpgradeOps.Validation;
using UpgradeOps.Versioning;


using UpgradeOps.Planning;

using UpgradeOps.Rehearsals;

using UpgradeOps.Platforms;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// A rehearsal of a Helm release: a copy release in a namespace of its own, installed from the chart at the backup's
/// versions with the backup's values (and the copy's own), the backup's data restored into it with the restore code,
/// upgraded hop by hop with HelmUpgradeService, validated with PostUpgradeValidator, then uninstalled with its namespace.
/// Production's namespace, release, Secrets and data are only read.
/// </summary>
internal static class HelmRehearsal
{
    private sealed record Prepared(DeploymentBackup Backup, Deployment Production, string Namespace, string Release, UpgradePath Path, HelmRehearsalOptions Options,
        HelmUpgradeOptions Upgrade, string CopyNamespace, string? InstallChartVersion, ProductProfile Profile);

    public static async Task<RehearsalPlan> PlanAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context)
    {
        var p = await PrepareAsync(request, backup, context).ConfigureAwait(false);
        var hops = string.Join("; then ", p.Path.Steps.Select(step =>
            "helm " + string.Join(' ', HelmArguments.UpgradeArguments(Copy(p.Production, p.CopyNamespace, p.Release), p.Profile, step.To, p.Upgrade.ForStep(step), request.HealthTimeout))));
        var creates = $"create namespace {p.CopyNamespace} (labelled {RehearsalLabels.Id}={request.Id}); " +
                      $"helm install {p.Release} {p.Upgrade.Chart} -n {p.CopyNamespace}{(p.InstallChartVersion is null ? "" : $" --version {p.InstallChartVersion}")} " +
                      $"with backup {backup.Id}'s values at {backup.Version}" + (p.Options.CopyValues.Count > 0 ? $" and -CopyValue {string.Join(", ", p.Options.CopyValues.Keys)}" : "") +
                      $"; restore its data into the copy; {hops}; validate; then " +
                      (request.Keep ? "keep the copy (-Keep)." : $"helm uninstall {p.Release} -n {p.CopyNamespace} and delete namespace {p.CopyNamespace}.") +
                      $" Release {p.Namespace}/{p.Release} itself is not changed.";
        return new RehearsalPlan(p.Production.Name, p.Path.From, p.Path.To, p.Path.Route, backup.Id, p.CopyNamespace, creates);
    }

    public static async Task<RehearsalReport> RunAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(HelmRehearsal));
        var clock = Stopwatch.StartNew();
        var p = await PrepareAsync(request, backup, context).ConfigureAwait(false);
        var production = p.Production;
        using var client = KubernetesDiscovery.Connect(production.Kubeconfig, production.KubeContext);
        var helm = HelmCli.Locate(p.Options.HelmPath, production.Kubeconfig, production.KubeContext);
        using var activity = context.StartActivity($"Rehearsing {p.Namespace}/{p.Release} {p.Path.Route} on a copy in namespace {p.CopyNamespace}");

        activity.Report("Removing copies left by rehearsals that did not finish", 2);
        var abandoned = await RemoveAbandonedAsync(client, log, ct).ConfigureAwait(false);
        var report = new RehearsalReport
        {
            Platform = DeploymentPlatform.Kubernetes,
            Id = request.Id, DeploymentName = production.Name, CopyName = $"{p.CopyNamespace}/{p.Release}", From = p.Path.From, To = p.Path.To, Route = p.Path.Route,
            Strategy = UpgradeStrategy.Helm, BackupId = backup.Id, BackupPath = backup.Path, Started = DateTimeOffset.UtcNow, Backup = backup.Duration,
        };
        if (abandoned.Count > 0) report.Warnings.Add($"Removed {abandoned.Count} copy(ies) left by rehearsals that did not finish: namespace(s) {string.Join(", ", abandoned)}.");

        var scratch = Path.Combine(Path.GetTempPath(), $"upgradeops-rehearsal-{request.Id}");
        var created = false;
        try
        {
            activity.Report($"Creating namespace {p.CopyNamespace}", 5);
            var restoreClock = Stopwatch.StartNew();
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace
            {
                Metadata = new V1ObjectMeta
                {
                    Name = p.CopyNamespace,
                    Labels = new Dictionary<string, string> { [RehearsalLabels.Id] = request.Id, [RehearsalLabels.Source] = p.Release },
                    Annotations = new Dictionary<string, string>
                    {
                        [HelmRehearsalCopy.OwnerAnnotation] = HelmRehearsalCopy.CurrentOwner, [HelmRehearsalCopy.ReleaseAnnotation] = p.Release,
                        [RehearsalLabels.Source] = $"{p.Namespace}/{p.Release}",
                    },
                },
            }, cancellationToken: ct).ConfigureAwait(false);
            created = true;
            report.CopyLocation = p.CopyNamespace;

            var (files, redactor) = await WriteValuesAsync(p, request, scratch, report, ct).ConfigureAwait(false);
            activity.Report($"helm install {p.Release} in {p.CopyNamespace} at {backup.Version}", 10);
            var install = new List<string> { "install", p.Release, p.Upgrade.Chart, "-n", p.CopyNamespace, "--timeout", $"{(int)request.HealthTimeout.TotalSeconds}s" };
            if (p.InstallChartVersion is not null) install.AddRange(new[] { "--version", p.InstallChartVersion });
            foreach (var file in files) install.AddRange(new[] { "-f", file });
            // No --wait: a chart's post-install hook (the schema migration) may be what makes the workloads ready; they are waited for next.
            var installStarted = DateTimeOffset.UtcNow;
            var run = await helm.RunAsync(install, redactor, ct).ConfigureAwait(false);
            if (run.ExitCode != 0)
            {
                // The copy and its failed hook Job are removed next: what the Job said is read now, or it is lost with them.
                MigrationJobOutcome? job = null;
                try
                {
                    job = await HelmMigrationJob.ReadAsync(client, p.CopyNamespace, p.Release, p.Profile, installStarted, redactor, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpOperationException or HttpRequestException or IOException)
                {
                    log.LogDebug("The copy's migration Job could not be read: {Error}", ex.Message);
                }
                var jobSaid = job is { Succeeded: not true, Output.Length: > 0 } ? $" The Job {job.Job}'s log ends: {MigrationRun.LastLines(job.Output, 8)}." : "";
                throw new UpgradeOpsException("RehearsalInstallFailed", ErrorKind.InvalidOperation, $"{p.CopyNamespace}/{p.Release}",
                    $"helm install of the copy failed: {run.Error}{jobSaid} Check -Chart and the values (-CopyValue, -ValuesFile); the copy is removed.");
            }
            Directory.Delete(scratch, recursive: true);

            var copy = await DescribeAsync(p, context).ConfigureAwait(false);
            using (var source = HelmDeployment.Open(copy))
            {
                activity.Report("Waiting for the copy's workloads", 20);
                await source.WaitReadyAsync(await source.WorkloadsAsync(ct).ConfigureAwait(false), request.HealthTimeout, ct).ConfigureAwait(false);
                activity.Report("Restoring the backup's data into the copy", 25);
                await HelmRestore.RestoreDataAsync(source, backup, request.Passphrase, request.HealthTimeout, context, activity).ConfigureAwait(false);
            }
            report.Restore = restoreClock.Elapsed;
            log.LogInformation("Copy {Namespace}/{Release} serves {Version} with the backup's data after {Seconds:N1} s", p.CopyNamespace, p.Release, backup.Version, report.Restore.TotalSeconds);

            activity.Report($"Upgrading the copy {p.Path.Route}", 40);
            var upgradeStarted = DateTimeOffset.UtcNow;
            var results = new List<UpgradeResult>();
            foreach (var step in p.Path.Steps)
            {
                var result = await HelmUpgrade.UpgradeAsync(new HelmUpgradeRequest
                {
                    Deployment = await DescribeAsync(p, context).ConfigureAwait(false), From = step.From, To = step.To, Force = true, HealthTimeout = request.HealthTimeout,
                    MigrationTimeout = request.MigrationTimeout, ConfigurationValues = request.ConfigurationValues,
                }, p.Upgrade.ForStep(step), context).ConfigureAwait(false);
                results.Add(result);
                if (result.Status != UpgradeStatus.Succeeded) break;
            }
            var upgrade = Combine(results, p.Path, production.Name);
            await RehearsalService.ConcludeAsync(report, upgrade, p.Profile, () => DescribeAsync(p, context), upgradeStarted, context, activity).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            report.Stopped(null);
            throw;
        }
        catch (Exception ex) when (ex is UpgradeOpsException or HttpOperationException or IOException or HttpRequestException)
        {
            report.Stopped(ex);
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
            report.Duration = clock.Elapsed;
            if (created && request.Keep)
            {
                report.Kept = true;
                report.Warnings.Add($"The copy {p.CopyNamespace}/{p.Release} was kept (-Keep). Remove it with: {HelmRehearsalCopy.RemoveCommands(p.CopyNamespace, p.Release)}");
            }
            else if (created)
            {
                activity.Report($"Removing the copy: helm uninstall, namespace {p.CopyNamespace}", 97);
                var left = await RemoveAsync(client, helm, p.CopyNamespace, p.Release, log).ConfigureAwait(false);
                if (left.Count > 0) report.Warnings.Add("Parts of the copy could not be removed: " + string.Join("; ", left));
                report.CopyLocation = null;
            }
        }
        activity.Complete();
        return report;
    }

    /// <summary>The production release as it is now, the copy's names, the chart and the path from the backup's version; nothing is created.</summary>
    private static async Task<Prepared> PrepareAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context)
    {
        var options = request.Helm;
        if (options?.Chart is null)
            throw new UpgradeOpsException("ChartRequired", ErrorKind.InvalidArgument, backup.Id,
                $"Backup {backup.Id} is of a Helm release: the copy is installed from its chart. Give -Chart (a folder, a .tgz, or repo/chart), as for Invoke-Upgrade. Nothing was created.");
        if (request.Strategy != UpgradeStrategy.Standard)
            throw new UpgradeOpsException("NotSupportedOnHelm", ErrorKind.NotImplemented, backup.Id,
                "-Strategy Rolling is for Compose deployments: on a Helm release the Deployments roll their pods out themselves. Run again without -Strategy.");
        var production = request.Deployment is { } given
            ? await KubernetesDiscovery.AgainAsync(given, context).ConfigureAwait(false)
            : backup.Location?.Split('/', 2) is [{ Length: > 0 } ns, { Length: > 0 } release]
                ? await KubernetesDiscovery.DiscoverAsync(new KubernetesDiscoveryRequest { Namespace = ns, Release = release, Profile = backup.Profile ?? "infrahub" }, context).ConfigureAwait(false)
                : throw new UpgradeOpsException("DeploymentRequired", ErrorKind.InvalidArgument, backup.Id,
                    "The backup does not say which release it is of: give the release with -Deployment (Get-UpgradeDeployment -Namespace -Release).");
        if (production.Platform != DeploymentPlatform.Kubernetes || production.Location != backup.Location)
            throw new UpgradeOpsException("BackupOfAnotherDeployment", ErrorKind.InvalidArgument, backup.Id,
                $"The backup is of release {backup.Location}, the deployment given is {production.Location ?? production.Name}. Give that release's backup.");
        var (prodNs, prodRelease) = HelmDeployment.Locate(production);
        using (var client = KubernetesDiscovery.Connect(production.Kubeconfig, production.KubeContext))
        {
            // A user who may not read namespaces still rehearses: the check only stops a copy being rehearsed again.
            V1Namespace? nsObject = null;
            try
            {
                nsObject = await client.CoreV1.ReadNamespaceAsync(prodNs, cancellationToken: context.CancellationToken).ConfigureAwait(false);
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode is System.Net.HttpStatusCode.Forbidden or System.Net.HttpStatusCode.NotFound)
            {
            }
            if (nsObject?.Metadata?.Labels?.ContainsKey(RehearsalLabels.Id) == true)
                throw new UpgradeOpsException("RehearsalOfACopy", ErrorKind.InvalidArgument, production.Location,
                    $"Namespace {prodNs} is itself a rehearsal copy. Rehearse from the production release's backup.");
        }
        var path = UpgradePathService.Test(new UpgradePathRequest
        {
            From = backup.Version!, To = request.To, Profile = production.Profile, AvailableVersions = request.AvailableVersions, Deployment = production,
        });
        if (!path.IsSupported)
            throw new UpgradeOpsException("UpgradePathNotSupported", ErrorKind.InvalidOperation, path, $"{path.Reason} Nothing was created.");
        var upgrade = new HelmUpgradeOptions { Chart = options.Chart, ChartVersion = options.ChartVersion, HelmPath = options.HelmPath };
        // Each hop's chart version checked now: a local chart of another version stops before anything is created.
        foreach (var step in path.Steps) upgrade.ForStep(step);
        foreach (var file in options.ValuesFiles)
            if (!File.Exists(file))
                throw new UpgradeOpsException("ValuesFileNotFound", ErrorKind.ObjectNotFound, file, $"The values file '{file}' does not exist. Give an existing file with -ValuesFile. Nothing was created.");
        foreach (var key in options.CopyValues.Keys) HelmRehearsalCopy.Set(new JsonObject(), key, "");
        // The copy starts on the chart production ran at the backup (a local chart is installed as it is).
        var backupChart = backup.ToolVersions.GetValueOrDefault("HelmChart")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var version] ? version : null;
        var installVersion = HelmConfiguration.LocalChartVersion(options.Chart) is null && !Directory.Exists(options.Chart) && !File.Exists(options.Chart) ? backupChart : null;
        return new Prepared(backup, production, prodNs, prodRelease, path, options, upgrade, HelmRehearsalCopy.NamespaceName(prodRelease, request.Id), installVersion,
            ProfileLoader.Load(production.Profile));
    }

    /// <summary>The copy as a Deployment (what Get-UpgradeDeployment -Namespace COPY -Release would give), for the shared services.</summary>
    private static Deployment Copy(Deployment production, string ns, string release) => new()
    {
        Name = production.Name, Platform = DeploymentPlatform.Kubernetes, Location = $"{ns}/{release}", Namespace = ns, Release = release, Profile = production.Profile,
        Kubeconfig = production.Kubeconfig, KubeContext = production.KubeContext, Version = production.Version,
    };

    private static Task<Deployment> DescribeAsync(Prepared p, EngineContext context) => KubernetesDiscovery.DiscoverAsync(new KubernetesDiscoveryRequest
    {
        Namespace = p.CopyNamespace, Release = p.Release, Kubeconfig = p.Production.Kubeconfig, KubeContext = p.Production.KubeContext, Profile = p.Production.Profile,
    }, context);

    /// <summary>The values files of the install, private and short-lived: the backup's values (masked secrets made fresh), the user's files, nothing else printed.</summary>
    private static async Task<(List<string> Files, SecretRedactor Redactor)> WriteValuesAsync(Prepared p, RehearsalRequest request, string scratch, RehearsalReport report,
        CancellationToken ct)
    {
        var component = p.Backup.Components.FirstOrDefault(c => c.Kind == BackupComponentKind.HelmRelease)
            ?? throw new UpgradeOpsException("RehearsalBackupWithoutValues", ErrorKind.InvalidData, p.Backup.Id,
                "The backup holds no release values (config component): the copy cannot be installed like production. Take a backup without -Component.");
        JsonObject backupValues;
        await using (var content = BackupVerifier.OpenContent(Path.GetFullPath(p.Backup.Path), component, request.Passphrase))
            backupValues = JsonNode.Parse(content) as JsonObject ?? new JsonObject();
        var covered = p.Options.ValuesFiles.SelectMany(HelmValuesFile.Flatten).Select(v => v.Key);
        var (values, fresh) = HelmRehearsalCopy.Values(backupValues, p.Profile.Version.HelmValuesKey, p.Backup.Version, p.Options.CopyValues, covered);
        if (fresh.Count > 0)
            report.Warnings.Add($"Backup {p.Backup.Id} is not encrypted, so its values {string.Join(", ", fresh)} were masked: the copy got fresh random values for them " +
                                "(never shown). Data that production encrypted with them will not read on the copy; give the real ones with -ValuesFile, or rehearse from a backup taken with -EncryptionKey.");
        BackupFiles.CreatePrivateDirectory(scratch);
        var file = Path.Combine(scratch, "values.json");
        await using (var stream = BackupFiles.CreatePrivateFile(file))
            await JsonSerializer.SerializeAsync(stream, values, cancellationToken: ct).ConfigureAwait(false);
        // The copy's own values last, so they win over the user's files too.
        var files = new List<string> { file };
        files.AddRange(p.Options.ValuesFiles);
        if (p.Options.CopyValues.Count > 0 && p.Options.ValuesFiles.Count > 0)
        {
            var own = new JsonObject();
            foreach (var (key, value) in p.Options.CopyValues) HelmRehearsalCopy.Set(own, key, value);
            var ownFile = Path.Combine(scratch, "copy-values.json");
            await using (var stream = BackupFiles.CreatePrivateFile(ownFile))
                await JsonSerializer.SerializeAsync(stream, own, cancellationToken: ct).ConfigureAwait(false);
            files.Add(ownFile);
        }
        // As on Invoke-Upgrade: every value helm could print back is masked (a credential can sit under any key, e.g. a URL).
        var redactor = new SecretRedactor(HelmRelease.Flatten(values).Concat(p.Options.ValuesFiles.SelectMany(HelmValuesFile.Flatten))
            .Concat(p.Options.CopyValues.Select(v => KeyValuePair.Create(v.Key, v.Value))));
        return (files, redactor);
    }

    /// <summary>The hops' results as one upgrade, each step named "FROM→TO step" when there are several (as UpgradeHops reads them).</summary>
    internal static UpgradeResult Combine(IReadOnlyList<UpgradeResult> results, UpgradePath path, string name)
    {
        var last = results.LastOrDefault();
        var combined = new UpgradeResult
        {
            Platform = DeploymentPlatform.Kubernetes,
            Id = last?.Id ?? name, DeploymentName = name, From = path.From, To = path.To, Strategy = UpgradeStrategy.Helm, Status = last?.Status ?? UpgradeStatus.Failed,
            Started = results.FirstOrDefault()?.Started ?? DateTimeOffset.UtcNow, Duration = results.Aggregate(TimeSpan.Zero, (sum, r) => sum + r.Duration),
            Downtime = results.Aggregate(TimeSpan.Zero, (sum, r) => sum + r.Downtime), Error = last?.Error, ErrorId = last?.ErrorId, ErrorCategory = last?.ErrorCategory, Deployment = last?.Deployment,
        };
        foreach (var result in results)
        {
            combined.MigrationOutput.AddRange(result.MigrationOutput);
            combined.Rollout.AddRange(result.Rollout);
            foreach (var step in result.Steps)
                combined.Steps.Add(new UpgradeStepResult
                {
                    Name = results.Count > 1 ? $"{result.From}→{result.To} {step.Name}" : step.Name, Status = step.Status, Started = step.Started, Duration = step.Duration, Detail = step.Detail,
                });
        }
        return combined;
    }

    /// <summary>helm uninstall, the namespace deleted, the copy's journal folder removed; returns what is left, each with the command that removes it.</summary>
    private static async Task<List<string>> RemoveAsync(IKubernetes client, HelmCli? helm, string ns, string release, ILogger log)
    {
        // Never with the caller's token: a teardown must finish after Ctrl+C.
        var none = CancellationToken.None;
        var left = new List<string>();
        if (helm is not null)
        {
            var run = await helm.RunAsync(new[] { "uninstall", release, "-n", ns, "--wait", "--timeout", "120s" }, new SecretRedactor(Array.Empty<KeyValuePair<string, string>>()), none)
                .ConfigureAwait(false);
            if (run.ExitCode != 0 && !run.Error.Contains("not found", StringComparison.OrdinalIgnoreCase))
                left.Add($"helm uninstall {release} -n {ns}  # {run.Error}");
        }
        try
        {
            await client.CoreV1.DeleteNamespaceAsync(ns, cancellationToken: none).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode != System.Net.HttpStatusCode.NotFound)
        {
            left.Add($"kubectl delete namespace {ns}  # {(int)ex.Response.StatusCode}");
        }
        var state = HelmStateFolder.OfNamespace(ns);
        if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
        foreach (var item in left) log.LogWarning("Rehearsal copy {Namespace}: could not remove: {Item}", ns, item);
        return left;
    }

    /// <summary>Namespaces of copies whose owning process is gone: deleted (a namespace takes its release and objects along). Returns their names.</summary>
    private static async Task<IReadOnlyList<string>> RemoveAbandonedAsync(IKubernetes client, ILogger log, CancellationToken ct)
    {
        var listed = await client.CoreV1.ListNamespaceAsync(labelSelector: RehearsalLabels.Id, cancellationToken: ct).ConfigureAwait(false);
        static string? Get(IDictionary<string, string>? map, string key) => map is not null && map.TryGetValue(key, out var value) ? value : null;
        var copies = listed.Items.Select(n => new HelmRehearsalCopy.Listed(n.Metadata.Name, Get(n.Metadata.Labels, RehearsalLabels.Id),
            Get(n.Metadata.Annotations, HelmRehearsalCopy.OwnerAnnotation), Get(n.Metadata.Annotations, HelmRehearsalCopy.ReleaseAnnotation)));
        var removed = new List<string>();
        foreach (var copy in HelmRehearsalCopy.Abandoned(copies))
        {
            log.LogWarning("Removing rehearsal copy namespace {Namespace} left behind by a rehearsal that did not finish (process {Owner} is gone)", copy.Namespace, copy.Owner);
            await RemoveAsync(client, null, copy.Namespace, copy.Release ?? "", log).ConfigureAwait(false);
            removed.Add(copy.Namespace);
        }
        return removed;
    }
}

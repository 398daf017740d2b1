using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Profiles;
using UpgradeOps.Versioning;

using UpgradeOps.Upgrades;

using UpgradeOps.Platforms;

namespace UpgradeOps.Compose;

/// <summary>
/// Carries a Compose deployment through an upgrade path, hop by hop, through the Engine API: pull the new
/// images first (nothing stops if that fails), apply configuration migrations, stop workers and API, run
/// the migration in a one-off container of the new image, recreate every product container from its own
/// configuration with only the image changed, wait for health, then make the compose file / .env name the
/// new version. The Rolling strategy replaces API containers one at a time behind the load balancer when
/// the profile marks the hop's migrations safe for mixed versions. A journal is written before each step;
/// every step is idempotent so -Resume can continue after a crash.
/// </summary>
public static partial class ComposeUpgrade
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    public static async Task<IReadOnlyList<PlannedHop>> PlanAsync(UpgradeRequest request, EngineContext context)
    {
        ComposeUpgradePlan.CheckPath(request);
        var configurations = PlanConfigurations(request);
        using var target = await ComposeDeployment.OpenAsync(request.Deployment, context.CancellationToken).ConfigureAwait(false);
        var hops = new List<PlannedHop>();
        foreach (var (step, (configEdit, changes)) in request.Path.Steps.Zip(configurations))
        {
            var diffs = new List<string>();
            if (configEdit is not null) diffs.Add(configEdit.Diff);
            diffs.AddRange(VersionEdits(target, step.To).Select(e => e.Diff));
            hops.Add(new PlannedHop(step.From, step.To,
                ProductImages(target).Select(i => ImageReference.WithTag(i, step.To)).Distinct().ToList(),
                ProductContainers(target).Select(c => c.Names.First().TrimStart('/')).Order().ToList(),
                changes,
                target.Profile.Migration.Command.Count > 0 ? string.Join(' ', target.Profile.Migration.Command) : null,
                diffs));
        }
        return hops;
    }

    public static async Task<UpgradeResult> UpgradeAsync(UpgradeRequest request, EngineContext context)
    {
        ComposeUpgradePlan.CheckPath(request);
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeUpgrade));
        PlanConfigurations(request);
        var backup = await UpgradeBackup.CheckAsync(request, context).ConfigureAwait(false);
        using var target = await ComposeDeployment.OpenAsync(request.Deployment, ct).ConfigureAwait(false);
        ComposeUpgradePlan.CheckStrategy(request, target.Profile, target.Containers, target.Deployment.Name);

        var started = DateTimeOffset.UtcNow;
        var id = $"{target.Deployment.Name}-{started:yyyyMMdd-HHmmss}-upgrade-{request.Path.From}-to-{request.Path.To}";
        using var upgradeLock = UpgradeLock.Acquire(target.File.Path, id, request.Force);
        var journal = new UpgradeJournal
        {
            Path = System.IO.Path.Combine(UpgradeJournal.JournalFolder(target.File.Path), id + ".json"),
            ComposeFile = target.File.Path,
            Profile = target.Deployment.Profile,
            DockerEndpoint = target.Deployment.Endpoint,
            Hops = request.Path.Steps.Select(s => $"{s.From}→{s.To}").ToList(),
            Result = new UpgradeResult
            {
                Platform = DeploymentPlatform.Compose,
                Id = id, DeploymentName = target.Deployment.Name, From = request.Path.From, To = request.Path.To, Strategy = request.Strategy,
                Started = started, BackupId = backup?.Id, BackupPath = backup?.Path,
            },
        };
        journal.Result.JournalPath = journal.Path;
        journal.PreviousContainers.AddRange(ComposeUpgradePlan.PreviousContainers(target.Profile, target.Containers));
        foreach (var file in new[] { target.File.Path, target.File.EnvFilePath }.Where(File.Exists))
            journal.PreviousFileHashes[file] = await HashingStream.HashFileAsync(file, ct).ConfigureAwait(false);
        journal.Save();
        log.LogInformation("Upgrade {Id}: {Route}; journal {Journal}", id, request.Path.Route, journal.Path);

        return await RunAsync(journal, target, request, context, log).ConfigureAwait(false);
    }

    /// <summary>Continues an interrupted upgrade from its journal.</summary>
    public static async Task<UpgradeResult> ResumeAsync(UpgradeRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeUpgrade));
        // The journal is local: without one there is nothing to ask the engine.
        var (_, file) = ComposeDeployment.ReadLocal(request.Deployment);
        var journal = UpgradeJournal.List(file.Path).FirstOrDefault(j => j.Result.Operation == "Upgrade" && j.Result.Status is UpgradeStatus.InProgress or UpgradeStatus.Interrupted)
            ?? throw new UpgradeOpsException("NothingToResume", ErrorKind.ObjectNotFound, file.Path,
                $"No interrupted upgrade of '{request.Deployment.Name}' is recorded in {UpgradeJournal.JournalFolder(file.Path)}. Start a new one with Invoke-Upgrade.");
        using var target = await ComposeDeployment.OpenAsync(request.Deployment, ct).ConfigureAwait(false);
        using var upgradeLock = UpgradeLock.Acquire(target.File.Path, journal.Result.Id, force: true);
        log.LogInformation("Resuming upgrade {Id} after {Completed}", journal.Result.Id, journal.Completed.LastOrDefault() ?? "(nothing)");
        var path = ComposeUpgradePlan.ResumedPath(journal);
        var resumed = new UpgradeRequest
        {
            Deployment = request.Deployment, Path = path, Strategy = journal.Result.Strategy, RollbackOnFailure = request.RollbackOnFailure,
            MigrationTimeout = request.MigrationTimeout, HealthTimeout = request.HealthTimeout, BackupPath = journal.Result.BackupPath,
            Passphrase = request.Passphrase, ConfigurationValues = request.ConfigurationValues,
        };
        return await RunAsync(journal, target, resumed, context, log).ConfigureAwait(false);
    }

    private static async Task<UpgradeResult> RunAsync(UpgradeJournal journal, ComposeDeployment target, UpgradeRequest request, EngineContext context, ILogger log)
    {
        var ct = context.CancellationToken;
        var result = journal.Result;
        result.Deployment = request.Deployment;
        result.Status = UpgradeStatus.InProgress;
        // A step that was running when the previous session died did not finish.
        foreach (var interrupted in result.Steps.Where(s => s.Status == StepStatus.Running))
        {
            interrupted.Status = StepStatus.Failed;
            interrupted.Detail = "interrupted: the session running it ended";
        }
        var clock = Stopwatch.StartNew();
        using var activity = context.StartActivity($"Upgrading {target.Deployment.Name} {result.From} → {result.To}");
        // The latency before anything stops is what Test-PostUpgrade compares with (not on a resume: the API may be down).
        if (result.Baseline is null && journal.Completed.Count == 0 && target.Profile.Validation.Performance.Requests.Count > 0)
        {
            activity.Report("Measuring the API latency before the upgrade", 1);
            try
            {
                result.Baseline = await Validation.PostUpgradeValidator.CaptureBaselineAsync(target.Deployment, null, context).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is UpgradeOpsException or HttpRequestException)
            {
                log.LogWarning("The latency baseline could not be measured ({Message}); Test-PostUpgrade will have none to compare with.", ex.Message);
            }
        }
        var probe = ApiProbe.Start(request.ApiEndpoint ?? target.Deployment.ApiEndpoint, target.Profile.Api.Info);
        try
        {
            for (var hop = 0; hop < request.Path.Steps.Count; hop++)
            {
                var step = request.Path.Steps[hop];
                await RunHopAsync(journal, target, request, hop, ProductVersion.Parse(step.From), ProductVersion.Parse(step.To), context, activity, log)
                    .ConfigureAwait(false);
            }
            result.Status = UpgradeStatus.Succeeded;
            journal.Current = null;
        }
        catch (Exception ex) when (ex is UpgradeOpsException or DockerApiException or OperationCanceledException or IOException or HttpRequestException)
        {
            var cancelled = ex is OperationCanceledException;
            // An engine that stops answering cut the upgrade off as Ctrl+C does: it did not fail by itself, and -Resume continues it.
            var lost = DockerEngine.IsLost(ex);
            result.Status = cancelled || lost ? UpgradeStatus.Interrupted : UpgradeStatus.Failed;
            result.RecordError(ex, cancelled ? "UpgradeInterrupted" : lost ? "DockerEngineUnreachable" : "UpgradeFailed",
                cancelled ? ErrorKind.OperationStopped : lost ? ErrorKind.ConnectionError : ErrorKind.InvalidOperation,
                lost ? target.Engine.LostMessage(journal.Current, ex, "finish the upgrade with Invoke-Upgrade -Resume or undo it with Invoke-Rollback.") : null);
            var failed = result.Steps.LastOrDefault(s => s.Status == StepStatus.Running);
            if (failed is not null) { failed.Status = StepStatus.Failed; failed.Detail = ex.Message; }
            log.LogWarning("Upgrade {Id} {Status} at {Step}: {Message}", result.Id, result.Status, journal.Current, ex.Message);
            journal.Save();

            try
            {
                if (request.RollbackOnFailure && result.BackupPath is not null)
                {
                    await ComposeRollback.RollBackAsync(journal, target, request.Passphrase, request.HealthTimeout,
                        new EngineContext(context.Sink, CancellationToken.None)).ConfigureAwait(false);
                    result.Status = UpgradeStatus.RolledBack;
                }
                else if (request.ServePreviousOnFailure)
                {
                    await BackToServingAsync(journal, target, request.HealthTimeout, log).ConfigureAwait(false);
                }
            }
            catch (Exception recovery) when (DockerEngine.IsLost(recovery))
            {
                // The engine is still gone: nothing can be put back now. The journal keeps what was done for -Resume or Invoke-Rollback.
                log.LogWarning("The upgrade could not {Recovery}: {Message}", request.RollbackOnFailure ? "roll back" : "bring the previous version back",
                    target.Engine.LostMessage(journal.Current, recovery, "run Invoke-Rollback (or Invoke-Upgrade -Resume)."));
            }
        }
        finally
        {
            result.Duration = clock.Elapsed;
            if (probe is not null)
            {
                await probe.DisposeAsync().ConfigureAwait(false);
                result.Downtime = probe.Downtime;
            }
            journal.Save();
        }
        activity.Complete();
        return result;
    }

    private static async Task RunHopAsync(UpgradeJournal journal, ComposeDeployment target, UpgradeRequest request, int hop,
        ProductVersion from, ProductVersion to, EngineContext context, ProgressActivity activity, ILogger log)
    {
        var ct = context.CancellationToken;
        var client = target.Engine.Client;
        var rolling = request.Strategy == UpgradeStrategy.Rolling;

        async Task Step(HopStep step, Func<Task<string?>> action)
        {
            if (journal.IsDone(step.Key)) return;
            activity.Report(step.RecordName, step.Percent);
            journal.Current = step.Key;
            var record = new UpgradeStepResult { Name = step.RecordName, Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
            journal.Result.Steps.Add(record);
            journal.Save();
            await StepPause.AtAsync(step.Key, log, ct).ConfigureAwait(false);
            var watch = Stopwatch.StartNew();
            record.Detail = await action().ConfigureAwait(false);
            record.Duration = watch.Elapsed;
            record.Status = StepStatus.Succeeded;
            journal.Completed.Add(step.Key);
            journal.Save();
            log.LogDebug("{Step} done in {Seconds:N1} s{Detail}", record.Name, watch.Elapsed.TotalSeconds, record.Detail is null ? "" : ": " + record.Detail);
        }

        var newImages = ComposeUpgradePlan.NewImages(target.Profile, target.Containers, to.ToString());
        // What the configuration step leaves in .env, read once it has run (or was done before a resume).
        IReadOnlyDictionary<string, string?> environment = new Dictionary<string, string?>();

        Func<Task<string?>> ActionOf(string name) => name switch
        {
            ComposeUpgradePlan.PullImages => async () =>
            {
                foreach (var image in newImages.Values.Distinct()) await PullAsync(client, image, context, ct).ConfigureAwait(false);
                return string.Join(", ", newImages.Values.Distinct());
            },
            ComposeUpgradePlan.Configuration => () =>
            {
                var (edit, changes) = ComposeConfiguration.Plan(ReloadFile(target), target.Profile, from, to, request.ConfigurationValues);
                var missing = changes.Where(c => c.Action == ConfigurationAction.Missing).ToList();
                if (missing.Count > 0) throw ConfigurationRules.MissingValues(missing, to.ToString(), missing[0].File, ".env");
                edit?.Apply();
                journal.AddedVariables.AddRange(changes.Where(c => c.Action == ConfigurationAction.Added).Select(c => c.Setting).Except(journal.AddedVariables));
                return Task.FromResult<string?>(changes.Count == 0 ? "no configuration rule applies" : string.Join("; ", changes.Select(c => $"{c.Setting}: {c.Action}")));
            },
            ComposeUpgradePlan.StopWorkers => () => StopRoleAsync(target, ServiceRole.Worker, ct),
            ComposeUpgradePlan.StopApi => () => StopRoleAsync(target, ServiceRole.Api, ct),
            ComposeUpgradePlan.Migrate => async () =>
            {
                string output;
                try
                {
                    output = await MigrateAsync(target, newImages, environment, request.MigrationTimeout, hop, context, activity, log).ConfigureAwait(false);
                }
                catch (UpgradeOpsException ex) when (ex.Data[MigrationRun.OutputKey] is string failedOutput)
                {
                    // A failed migration's output is what troubleshooting needs most (Get-UpgradeDiagnostic reads it from the journal).
                    journal.Result.MigrationOutput.Add($"{from} → {to} (failed):\n{failedOutput}");
                    throw;
                }
                journal.Result.MigrationOutput.Add($"{from} → {to}:\n{output}");
                return $"{target.Profile.Migration.Command.FirstOrDefault()} finished";
            },
            ComposeUpgradePlan.RecreateApi => () => RecreateRoleAsync(target, ServiceRole.Api, newImages, environment, rolling, request.HealthTimeout, context, ct),
            ComposeUpgradePlan.RecreateWorkers => () => RecreateRoleAsync(target, ServiceRole.Worker, newImages, environment, rolling, request.HealthTimeout, context, ct),
            ComposeUpgradePlan.UpdateComposeFiles => () =>
            {
                var edits = VersionEdits(target, to.ToString()).Where(e => e.Before != e.After).ToList();
                foreach (var edit in edits) edit.Apply();
                return Task.FromResult<string?>(edits.Count == 0 ? "already names " + to : string.Join(", ", edits.Select(e => System.IO.Path.GetFileName(e.Path))));
            },
            ComposeUpgradePlan.CleanUp => async () =>
            {
                await target.RefreshAsync(ct).ConfigureAwait(false);
                var previous = await PreviousContainersAsync(target.Engine, target.Deployment.Name, ct).ConfigureAwait(false);
                foreach (var container in previous)
                    await client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, ct).ConfigureAwait(false);
                return $"{previous.Count} previous containers removed";
            },
            _ => throw new InvalidOperationException($"No action for the upgrade step '{name}'."),
        };

        foreach (var step in ComposeUpgradePlan.HopSteps(hop, request.Path.Steps.Count, from.ToString(), to.ToString(), rolling))
        {
            await Step(step, ActionOf(step.Name)).ConfigureAwait(false);
            if (step.Name == ComposeUpgradePlan.Configuration)
                environment = ComposeConfiguration.RequiredValues(ReloadFile(target), target.Profile, ProductVersion.Parse("0.0.0"), to);
        }
    }

    /// <summary>
    /// Each hop's configuration changes planned on the deployment's own files, before the Docker Engine is asked anything: the
    /// profile, the compose file, its .env and the -ConfigurationValue values are local, and their faults are not the engine's.
    /// A value a hop cannot do without stops the upgrade here, as on a Helm release, before anything starts (-WhatIf too); each
    /// hop's configuration step checks again on the file as it is then.
    /// </summary>
    private static List<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanConfigurations(UpgradeRequest request)
    {
        var (profile, file) = ComposeDeployment.ReadLocal(request.Deployment);
        var plans = new List<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)>();
        foreach (var step in request.Path.Steps)
        {
            var plan = ComposeConfiguration.Plan(file, profile, ProductVersion.Parse(step.From), ProductVersion.Parse(step.To), request.ConfigurationValues);
            if (plan.Changes.Where(c => c.Action == ConfigurationAction.Missing).ToList() is { Count: > 0 } missing)
                throw ConfigurationRules.MissingValues(missing, step.To, missing[0].File, ".env");
            plans.Add(plan);
        }
        return plans;
    }

    internal static ComposeFile ReloadFile(ComposeDeployment target) => ComposeFile.Load(target.File.Path);

    internal static IReadOnlyList<FileEdit> VersionEdits(ComposeDeployment target, string version) =>
        ComposeVersionEditor.PlanVersionChange(ReloadFile(target), target.Profile, version);

    internal static IEnumerable<ContainerListResponse> ProductContainers(ComposeDeployment target) =>
        ComposeUpgradePlan.ProductContainers(target.Profile, target.Containers);

    private static IEnumerable<string> ProductImages(ComposeDeployment target) => ComposeUpgradePlan.ProductImages(target.Profile, target.Containers);

    private static async Task<string?> StopRoleAsync(ComposeDeployment target, ServiceRole role, CancellationToken ct)
    {
        await target.RefreshAsync(ct).ConfigureAwait(false);
        var stopped = new List<string>();
        foreach (var container in ComposeUpgradePlan.ToStop(target.Profile, target.Containers, role))
        {
            await target.Engine.Client.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)StopTimeout.TotalSeconds }, ct).ConfigureAwait(false);
            stopped.Add(container.Names.First().TrimStart('/'));
        }
        return stopped.Count == 0 ? "nothing running" : string.Join(", ", stopped);
    }

    /// <summary>Recreates the role's containers on the new image; rolling: one at a time, each healthy before the next.</summary>
    private static async Task<string?> RecreateRoleAsync(ComposeDeployment target, ServiceRole role, IReadOnlyDictionary<string, string> newImages,
        IReadOnlyDictionary<string, string?> environment, bool rolling, TimeSpan healthTimeout, EngineContext context, CancellationToken ct)
    {
        var client = target.Engine.Client;
        await RepairInterruptedReplacementsAsync(client, target, ct).ConfigureAwait(false);
        await target.RefreshAsync(ct).ConfigureAwait(false);
        var replaced = new List<string>();
        var started = new List<string>();
        var recreations = ComposeUpgradePlan.Recreations(target.Profile, target.Containers, role, newImages);
        foreach (var (container, newImage, alreadyReplaced) in recreations)
        {
            if (alreadyReplaced)
            {
                // Done before an interruption: only make sure it runs.
                if (container.State != "running") await client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
                started.Add(container.ID);
                continue;
            }
            var replacement = await ContainerRecreator.ReplaceAsync(client, container.ID, newImage, StopTimeout, ct, environment).ConfigureAwait(false);
            replaced.Add(replacement.Name);
            started.Add(replacement.NewId);
            if (rolling)
            {
                await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, ct, new[] { replacement.NewId }).ConfigureAwait(false);
                // Before the next server stops, the load balancer must have this one back in rotation (rolling.minReadySeconds).
                var minReady = ComposeUpgradePlan.MinReadyAfter(target.Profile, role, ReferenceEquals(container, recreations[^1].Container));
                if (minReady > TimeSpan.Zero)
                {
                    await Task.Delay(minReady, ct).ConfigureAwait(false);
                    await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, ct, new[] { replacement.NewId }).ConfigureAwait(false);
                }
            }
        }
        if (started.Count > 0)
            await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, ct, started).ConfigureAwait(false);
        // The API step ends when users reach the API again, not when its containers say healthy.
        if (role == ServiceRole.Api && started.Count > 0)
            await ComposeHealth.WaitApiAnswersAsync(target.Deployment, target.Profile, healthTimeout, ct).ConfigureAwait(false);
        return replaced.Count == 0 ? "already on the new image" : string.Join(", ", replaced);
    }

    /// <summary>A crash between renaming a container aside and creating its replacement leaves only "NAME-upgradeops-previous": put it back.</summary>
    internal static async Task RepairInterruptedReplacementsAsync(DockerClient client, ComposeDeployment target, CancellationToken ct)
    {
        await target.RefreshAsync(ct).ConfigureAwait(false);
        var asides = await PreviousContainersAsync(target.Engine, target.Deployment.Name, ct).ConfigureAwait(false);
        foreach (var (aside, original) in ComposeUpgradePlan.AsidesToPutBack(target.Containers, asides))
            await client.Containers.RenameContainerAsync(aside.ID, new ContainerRenameParameters { NewName = original }, ct).ConfigureAwait(false);
        await target.RefreshAsync(ct).ConfigureAwait(false);
    }

    internal static async Task<IList<ContainerListResponse>> PreviousContainersAsync(DockerEngine engine, string project, CancellationToken ct)
    {
        var all = await ComposeDiscovery.ListProjectContainersAsync(engine, project, ct).ConfigureAwait(false);
        return all.Where(ComposeUpgradePlan.IsAside).ToList();
    }

    /// <summary>After a failure without rollback: the previous containers run again, so the deployment serves its old version.</summary>
    private static async Task BackToServingAsync(UpgradeJournal journal, ComposeDeployment target, TimeSpan healthTimeout, ILogger log)
    {
        var none = CancellationToken.None;
        var client = target.Engine.Client;
        try
        {
            await target.RefreshAsync(none).ConfigureAwait(false);
            foreach (var previous in await PreviousContainersAsync(target.Engine, target.Deployment.Name, none).ConfigureAwait(false))
            {
                var name = ComposeUpgradePlan.NameOf(previous);
                var original = ComposeUpgradePlan.OriginalName(previous);
                var replacement = target.Containers.FirstOrDefault(c => ComposeUpgradePlan.NameOf(c) == original);
                await ContainerRecreator.RevertAsync(client, new ReplacedContainer(original, previous.ID, name, replacement?.ID ?? "", previous.Image, replacement?.Image ?? ""), start: false)
                    .ConfigureAwait(false);
            }
            await target.RefreshAsync(none).ConfigureAwait(false);
            // Only containers still on their previous image start again; one already on the new image would fail on the old schema.
            foreach (var container in ComposeUpgradePlan.ToStartAfterFailure(target.Profile, target.Containers, journal.PreviousContainers))
                await client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), none).ConfigureAwait(false);
            await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, none).ConfigureAwait(false);
            await ComposeHealth.WaitApiAnswersAsync(target.Deployment, target.Profile, healthTimeout, none).ConfigureAwait(false);
            if (ComposeUpgradePlan.DataMayHaveChanged(journal.Completed, journal.Current))
                log.LogWarning("The previous version serves again. If the migration changed data, restore it with Invoke-Rollback -UpgradeId {Id}.", journal.Result.Id);
        }
        catch (Exception ex) when (ex is UpgradeOpsException or DockerApiException)
        {
            log.LogWarning("The deployment could not be brought back on its previous containers: {Message}. Run Invoke-Rollback.", ex.Message);
        }
    }

    private static async Task PullAsync(DockerClient client, string image, EngineContext context, CancellationToken ct)
    {
        using var activity = context.StartActivity($"Pulling {image}");
        var layers = new Dictionary<string, (long Current, long Total)>();
        string? streamError = null;
        var progress = new Progress<JSONMessage>(message =>
        {
            // Errors after the pull started arrive in the message stream, not as an HTTP status.
            if (message.Error?.Message is { Length: > 0 } error) streamError = error;
            if (message.ID is null || message.Progress is null) return;
            lock (layers)
            {
                layers[message.ID] = (message.Progress.Current ?? 0, message.Progress.Total ?? 0);
                var total = layers.Values.Sum(l => l.Total);
                activity.Report(message.Status ?? "pulling", total > 0 ? (int)(100 * layers.Values.Sum(l => l.Current) / total) : -1);
            }
        });
        try
        {
            await client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = ImageReference.Repository(image), Tag = ImageReference.Tag(image) },
                RegistryAuth.For(image), progress, ct).ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            throw new UpgradeOpsException(ex.StatusCode == System.Net.HttpStatusCode.NotFound ? "ImageNotFound" : "RegistryUnreachable", ErrorKind.ResourceUnavailable, image,
                $"Pulling {image} failed ({ex.StatusCode}): {FirstLine(ex.ResponseBody)} Nothing was stopped. Check the registry and the tag, then run Invoke-Upgrade again.", ex);
        }
        if (streamError is not null)
            throw new UpgradeOpsException(streamError.Contains("not found", StringComparison.OrdinalIgnoreCase) || streamError.Contains("unknown", StringComparison.OrdinalIgnoreCase) ? "ImageNotFound" : "RegistryUnreachable",
                ErrorKind.ResourceUnavailable, image, $"Pulling {image} failed: {FirstLine(streamError)} Nothing was stopped. Check the registry and the tag, then run Invoke-Upgrade again.");
        activity.Complete();
    }

    /// <summary>Runs the profile's migration command in a one-off container of the new image, streaming its log, within the timeout.</summary>
    private static async Task<string> MigrateAsync(ComposeDeployment target, IReadOnlyDictionary<string, string> newImages, IReadOnlyDictionary<string, string?> environment,
        TimeSpan timeout, int hop, EngineContext context, ProgressActivity parent, ILogger log)
    {
        var ct = context.CancellationToken;
        var migration = target.Profile.Migration;
        if (migration.Command.Count == 0) return "(the profile names no migration command)";
        var client = target.Engine.Client;
        var service = target.ComposeName(migration.Service ?? target.Profile.Version.Service ?? target.Profile.Services.First(s => s.ProductImage).Name);
        var template = target.Containers.FirstOrDefault(c => c.Labels[ComposeDiscovery.ServiceLabel] == service)
            ?? throw new UpgradeOpsException("MigrationServiceNotFound", ErrorKind.ObjectNotFound, service, $"No container of service '{service}' exists to run the migration from.");
        var inspect = await client.Containers.InspectContainerAsync(template.ID, ct).ConfigureAwait(false);
        var image = newImages.Values.First(v => ImageReference.Repository(v) == ImageReference.Repository(DockerModels.ConfigOf(inspect).Image));

        var parameters = await ContainerRecreator.BuildAsync(client, inspect, image, ct, environment).ConfigureAwait(false);
        parameters.Name = $"{target.Deployment.Name}-upgradeops-migrate-{hop + 1}";
        parameters.Cmd = migration.Command.ToList();
        parameters.Healthcheck = new HealthcheckConfig { Test = new List<string> { "NONE" } };
        parameters.Labels ??= new Dictionary<string, string>();
        parameters.Labels[ComposeDiscovery.OneOffLabel] = "True";
        (parameters.HostConfig ??= new HostConfig()).RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No };

        // A one-off container left by an interrupted run (its session killed): still running the same hop's migration, it is
        // waited for and its output and exit code are this step's, since killing a migration half-way is what must not
        // happen to a database; ended, it is replaced and the migration runs again (Infrahub's is idempotent: it starts
        // from the graph's recorded version).
        var leftover = (await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [$"^/{parameters.Name}$"] = true } },
        }, ct).ConfigureAwait(false)).FirstOrDefault();
        var adopted = IsRunningMigrationOf(leftover, image) ? leftover!.ID : null;
        if (leftover is not null && adopted is null)
            await target.Engine.RemoveOneOffAsync(leftover.ID, ct).ConfigureAwait(false);

        using var activity = context.StartActivity($"Migrating to {ImageReference.Tag(image)}: {string.Join(' ', migration.Command)}", parent);
        if (adopted is not null)
            log.LogWarning("The migration to {Version} that an interrupted session started still runs ({Container}): waiting for it to finish instead of starting another.",
                ImageReference.Tag(image), parameters.Name);
        var migrationId = adopted ?? (await client.Containers.CreateContainerAsync(parameters, ct).ConfigureAwait(false)).ID;
        var output = new StringBuilder();
        var secrets = ComposeFile.RedactorAt(target.File.Path);
        try
        {
            if (adopted is null) await client.Containers.StartContainerAsync(migrationId, new ContainerStartParameters(), ct).ConfigureAwait(false);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout);
            var logs = await client.Containers.GetContainerLogsAsync(migrationId, new ContainerLogsParameters { Follow = true, ShowStdout = true, ShowStderr = true }, deadline.Token)
                .ConfigureAwait(false);
            // Lines as the log shows them, a character split between two chunks kept whole, each masked before it goes anywhere.
            var lines = new LineCollector(raw =>
            {
                var line = secrets.Redact(raw);
                output.AppendLine(line);
                log.LogDebug("migration: {Line}", line);
                MigrationRun.Report(activity, line);
            });
            var buffer = new byte[8192];
            try
            {
                while (true)
                {
                    var read = await logs.ReadOutputAsync(buffer, 0, buffer.Length, deadline.Token).ConfigureAwait(false);
                    if (read.EOF) break;
                    lines.Write(buffer, 0, read.Count);
                }
                lines.Complete();
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await client.Containers.KillContainerAsync(migrationId, new ContainerKillParameters(), CancellationToken.None).ConfigureAwait(false);
                throw MigrationRun.TimedOut(migration.Command, ImageReference.Tag(image), timeout, output.ToString(), "it was stopped");
            }
            var exit = await client.Containers.WaitContainerAsync(migrationId, CancellationToken.None).ConfigureAwait(false);
            if (exit.StatusCode != 0)
                throw MigrationRun.Failed(migration.Command, ImageReference.Tag(image), exit.StatusCode, output.ToString());
            if (MigrationRun.FailureLine(migration, output.ToString()) is { } failure)
                throw MigrationRun.FailedInOutput(migration.Command, ImageReference.Tag(image), failure, output.ToString());
            activity.Complete();
            return output.ToString();
        }
        finally
        {
            await target.Engine.RemoveOneOffAsync(migrationId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Whether a migration container an interrupted run left is still running this hop's migration (same image): then it is waited for.</summary>
    internal static bool IsRunningMigrationOf(ContainerListResponse? leftover, string image) =>
        leftover is { State: "running" } && string.Equals(leftover.Image, image, StringComparison.Ordinal);

    private static string FirstLine(string? text) => (text ?? "").Split('\n')[0].Trim();
}

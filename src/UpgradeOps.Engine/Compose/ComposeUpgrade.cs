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
        CheckPath(request);
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
        CheckPath(request);
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeUpgrade));
        PlanConfigurations(request);
        var backup = await UpgradeBackup.CheckAsync(request, context).ConfigureAwait(false);
        using var target = await ComposeDeployment.OpenAsync(request.Deployment, ct).ConfigureAwait(false);
        CheckStrategy(request, target);

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
        foreach (var container in ProductContainers(target))
            journal.PreviousContainers.Add(new PreviousContainer
            {
                Name = container.Names.First().TrimStart('/'), Service = container.Labels[ComposeDiscovery.ServiceLabel],
                Image = container.Image, ImageId = container.ImageID,
            });
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
        var path = new UpgradePath
        {
            From = journal.Result.From, To = journal.Result.To, IsSupported = true, Reason = "resumed",
            Steps = journal.Hops.Select(h => h.Split('→')).Select(p => new UpgradeStep { From = p[0], To = p[1], Kind = UpgradeKind.Patch }).ToList(),
        };
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
        var probe = target.Deployment.ApiEndpoint is { } endpoint && target.Profile.Api.Info is { } info
            ? new ApiProbe(new Uri(new Uri(endpoint), info), TimeSpan.FromMilliseconds(20))
            : null;
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
            result.Status = cancelled ? UpgradeStatus.Interrupted : UpgradeStatus.Failed;
            result.ErrorId = ex is UpgradeOpsException u ? u.ErrorId : cancelled ? "UpgradeInterrupted" : "UpgradeFailed";
            result.Error = ex.Message;
            var failed = result.Steps.LastOrDefault(s => s.Status == StepStatus.Running);
            if (failed is not null) { failed.Status = StepStatus.Failed; failed.Detail = ex.Message; }
            log.LogWarning("Upgrade {Id} {Status} at {Step}: {Message}", result.Id, result.Status, journal.Current, ex.Message);
            journal.Save();

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
        var prefix = request.Path.Steps.Count > 1 ? $"{from}→{to} " : "";
        var key = $"hop{hop + 1}:";
        var rolling = request.Strategy == UpgradeStrategy.Rolling;
        int Percent(int stepIndex) => (int)(100.0 * (hop * 8 + stepIndex) / (request.Path.Steps.Count * 8));

        async Task Step(string name, int index, Func<Task<string?>> action)
        {
            if (journal.IsDone(key + name)) return;
            activity.Report($"{prefix}{name}", Percent(index));
            journal.Current = key + name;
            var record = new UpgradeStepResult { Name = prefix + name, Status = StepStatus.Running, Started = DateTimeOffset.UtcNow };
            journal.Result.Steps.Add(record);
            journal.Save();
            await PauseForCrashTestAsync(key + name, log, ct).ConfigureAwait(false);
            var watch = Stopwatch.StartNew();
            record.Detail = await action().ConfigureAwait(false);
            record.Duration = watch.Elapsed;
            record.Status = StepStatus.Succeeded;
            journal.Completed.Add(key + name);
            journal.Save();
            log.LogDebug("{Step} done in {Seconds:N1} s{Detail}", record.Name, watch.Elapsed.TotalSeconds, record.Detail is null ? "" : ": " + record.Detail);
        }

        var newImages = ProductImages(target).ToDictionary(i => i, i => ImageReference.WithTag(i, to.ToString()));

        await Step("pull images", 0, async () =>
        {
            foreach (var image in newImages.Values.Distinct()) await PullAsync(client, image, context, ct).ConfigureAwait(false);
            return string.Join(", ", newImages.Values.Distinct());
        }).ConfigureAwait(false);

        await Step("configuration", 1, () =>
        {
            var (edit, changes) = ComposeConfiguration.Plan(ReloadFile(target), target.Profile, from, to, request.ConfigurationValues);
            var missing = changes.Where(c => c.Action == ConfigurationAction.Missing).ToList();
            if (missing.Count > 0) throw ConfigurationRules.MissingValues(missing, to.ToString(), missing[0].File, ".env");
            edit?.Apply();
            journal.AddedVariables.AddRange(changes.Where(c => c.Action == ConfigurationAction.Added).Select(c => c.Setting).Except(journal.AddedVariables));
            return Task.FromResult<string?>(changes.Count == 0 ? "no configuration rule applies" : string.Join("; ", changes.Select(c => $"{c.Setting}: {c.Action}")));
        }).ConfigureAwait(false);
        var environment = ComposeConfiguration.RequiredValues(ReloadFile(target), target.Profile, ProductVersion.Parse("0.0.0"), to);

        if (!rolling)
        {
            await Step("stop workers", 2, () => StopRoleAsync(target, ServiceRole.Worker, ct)).ConfigureAwait(false);
            await Step("stop API", 3, () => StopRoleAsync(target, ServiceRole.Api, ct)).ConfigureAwait(false);
        }

        await Step("migrate", 4, async () =>
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
        }).ConfigureAwait(false);

        await Step("recreate API", 5, () => RecreateRoleAsync(target, ServiceRole.Api, newImages, environment, rolling, request.HealthTimeout, context, ct)).ConfigureAwait(false);
        await Step("recreate workers", 6, () => RecreateRoleAsync(target, ServiceRole.Worker, newImages, environment, rolling, request.HealthTimeout, context, ct)).ConfigureAwait(false);

        await Step("update compose files", 7, () =>
        {
            var edits = VersionEdits(target, to.ToString()).Where(e => e.Before != e.After).ToList();
            foreach (var edit in edits) edit.Apply();
            return Task.FromResult<string?>(edits.Count == 0 ? "already names " + to : string.Join(", ", edits.Select(e => System.IO.Path.GetFileName(e.Path))));
        }).ConfigureAwait(false);

        await Step("clean up", 8, async () =>
        {
            await target.RefreshAsync(ct).ConfigureAwait(false);
            var previous = await PreviousContainersAsync(target.Engine, target.Deployment.Name, ct).ConfigureAwait(false);
            foreach (var container in previous)
                await client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, ct).ConfigureAwait(false);
            return $"{previous.Count} previous containers removed";
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Crash tests kill the process at exact step boundaries: with UPGRADEOPS_PAUSE_AT_STEP=hop1:migrate the upgrade
    /// stops right after writing that step into its journal, as a crash there would leave it, and waits to be killed.
    /// </summary>
    private static async Task PauseForCrashTestAsync(string stepKey, ILogger log, CancellationToken ct)
    {
        if (Environment.GetEnvironmentVariable("UPGRADEOPS_PAUSE_AT_STEP") != stepKey) return;
        log.LogWarning("UPGRADEOPS_PAUSE_AT_STEP: paused before {Step} until the process is stopped", stepKey);
        await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
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

    private static void CheckPath(UpgradeRequest request)
    {
        if (!request.Path.IsSupported)
            throw new UpgradeOpsException("UpgradePathNotSupported", ErrorKind.InvalidOperation, $"{request.Path.From} → {request.Path.To}",
                $"The upgrade {request.Path.From} → {request.Path.To} is not supported: {request.Path.Reason}");
        if (request.Path.Steps.Count == 0)
            throw new UpgradeOpsException("NothingToUpgrade", ErrorKind.InvalidOperation, request.Path.To, $"The deployment already runs {request.Path.To}.");
        if (request.Deployment.Version is not null && request.Deployment.Version != request.Path.From)
            throw new UpgradeOpsException("DeploymentVersionChanged", ErrorKind.InvalidOperation, request.Deployment.Name,
                $"The path starts at {request.Path.From} but the deployment runs {request.Deployment.Version}. Check the path again with Test-UpgradePath.");
    }

    private static void CheckStrategy(UpgradeRequest request, ComposeDeployment target)
    {
        if (request.Strategy != UpgradeStrategy.Rolling) return;
        var apiContainers = ProductContainers(target).Count(c => RoleOf(target, c) == ServiceRole.Api);
        if (apiContainers < 2)
            throw new UpgradeOpsException("RollingNotPossible", ErrorKind.InvalidOperation, target.Deployment.Name,
                $"A rolling upgrade needs two or more API containers behind a load balancer; '{target.Deployment.Name}' has {apiContainers}. Use -Strategy Standard.");
        var unsafeHops = request.Path.Steps.Where(s => !target.Profile.Migration.MixedVersionSafe.Contains(s.To)).Select(s => $"{s.From} → {s.To}").ToList();
        if (unsafeHops.Count > 0)
            throw new UpgradeOpsException("RollingNotSafe", ErrorKind.InvalidOperation, string.Join(", ", unsafeHops),
                $"The profile does not mark the migrations of {string.Join(", ", unsafeHops)} as safe with old and new servers side by side " +
                "(migration.mixedVersionSafe), so a rolling upgrade could corrupt data. Use -Strategy Standard, which stops the API during the migration.");
    }

    internal static ComposeFile ReloadFile(ComposeDeployment target) => ComposeFile.Load(target.File.Path);

    internal static IReadOnlyList<FileEdit> VersionEdits(ComposeDeployment target, string version) =>
        ComposeVersionEditor.PlanVersionChange(ReloadFile(target), target.Profile, version);

    internal static ServiceRole RoleOf(ComposeDeployment target, ContainerListResponse container) =>
        target.Profile.Services.FirstOrDefault(s => (s.ComposeService ?? s.Name) == container.Labels[ComposeDiscovery.ServiceLabel])?.Role ?? ServiceRole.Other;

    internal static IEnumerable<ContainerListResponse> ProductContainers(ComposeDeployment target)
    {
        var product = target.Profile.Services.Where(s => s.ProductImage).Select(s => s.ComposeService ?? s.Name).ToHashSet();
        return target.Containers.Where(c => product.Contains(c.Labels[ComposeDiscovery.ServiceLabel]) && !c.Names.First().EndsWith(ContainerRecreator.PreviousSuffix, StringComparison.Ordinal));
    }

    private static IEnumerable<string> ProductImages(ComposeDeployment target) => ProductContainers(target).Select(c => c.Image).Distinct();

    private static async Task<string?> StopRoleAsync(ComposeDeployment target, ServiceRole role, CancellationToken ct)
    {
        await target.RefreshAsync(ct).ConfigureAwait(false);
        var stopped = new List<string>();
        foreach (var container in ProductContainers(target).Where(c => RoleOf(target, c) == role && c.State == "running"))
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
        foreach (var container in ProductContainers(target).Where(c => RoleOf(target, c) == role).OrderBy(c => c.Names.First(), StringComparer.Ordinal).ToList())
        {
            var baseImage = newImages.Keys.FirstOrDefault(k => ImageReference.Repository(k) == ImageReference.Repository(container.Image)) ?? container.Image;
            var newImage = newImages.GetValueOrDefault(baseImage) ?? ImageReference.WithTag(container.Image, newImages.Values.First().Split(':').Last());
            if (container.Image == newImage)
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
                await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, ct, new[] { replacement.NewId }).ConfigureAwait(false);
        }
        if (started.Count > 0)
            await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, ct, started).ConfigureAwait(false);
        return replaced.Count == 0 ? "already on the new image" : string.Join(", ", replaced);
    }

    /// <summary>A crash between renaming a container aside and creating its replacement leaves only "NAME-upgradeops-previous": put it back.</summary>
    internal static async Task RepairInterruptedReplacementsAsync(DockerClient client, ComposeDeployment target, CancellationToken ct)
    {
        await target.RefreshAsync(ct).ConfigureAwait(false);
        var names = target.Containers.Select(c => c.Names.First().TrimStart('/')).ToHashSet();
        foreach (var previous in await PreviousContainersAsync(target.Engine, target.Deployment.Name, ct).ConfigureAwait(false))
        {
            var name = previous.Names.First().TrimStart('/');
            var original = name[..^ContainerRecreator.PreviousSuffix.Length];
            if (!names.Contains(original))
                await client.Containers.RenameContainerAsync(previous.ID, new ContainerRenameParameters { NewName = original }, ct).ConfigureAwait(false);
        }
        await target.RefreshAsync(ct).ConfigureAwait(false);
    }

    internal static async Task<IList<ContainerListResponse>> PreviousContainersAsync(DockerEngine engine, string project, CancellationToken ct)
    {
        var all = await ComposeDiscovery.ListProjectContainersAsync(engine, project, ct).ConfigureAwait(false);
        return all.Where(c => c.Names.First().EndsWith(ContainerRecreator.PreviousSuffix, StringComparison.Ordinal)).ToList();
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
                var name = previous.Names.First().TrimStart('/');
                var original = name[..^ContainerRecreator.PreviousSuffix.Length];
                var replacement = target.Containers.FirstOrDefault(c => c.Names.First().TrimStart('/') == original);
                await ContainerRecreator.RevertAsync(client, new ReplacedContainer(original, previous.ID, name, replacement?.ID ?? "", previous.Image, replacement?.Image ?? ""), start: false)
                    .ConfigureAwait(false);
            }
            await target.RefreshAsync(none).ConfigureAwait(false);
            // Only containers still on their previous image start again; one already on the new image would fail on the old schema.
            foreach (var container in ProductContainers(target).Where(c => c.State != "running"))
            {
                var before = journal.PreviousContainers.FirstOrDefault(p => p.Name == container.Names.First().TrimStart('/'));
                if (before is not null && before.ImageId == container.ImageID)
                    await client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), none).ConfigureAwait(false);
            }
            await ComposeHealth.WaitHealthyAsync(target.Engine, target.Deployment.Name, healthTimeout, none).ConfigureAwait(false);
            if (journal.Completed.Any(c => c.EndsWith(":stop API", StringComparison.Ordinal) || c.EndsWith(":migrate", StringComparison.Ordinal)) || journal.Current?.EndsWith(":migrate", StringComparison.Ordinal) == true)
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

        // A one-off container left by an interrupted run is replaced.
        var leftover = (await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [$"^/{parameters.Name}$"] = true } },
        }, ct).ConfigureAwait(false)).FirstOrDefault();
        if (leftover is not null)
            await client.Containers.RemoveContainerAsync(leftover.ID, new ContainerRemoveParameters { Force = true }, ct).ConfigureAwait(false);

        using var activity = context.StartActivity($"Migrating to {ImageReference.Tag(image)}: {string.Join(' ', migration.Command)}", parent);
        var created = await client.Containers.CreateContainerAsync(parameters, ct).ConfigureAwait(false);
        var output = new StringBuilder();
        var secrets = EnvFile.Redactor(target.File.EnvFilePath);
        try
        {
            await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout);
            var logs = await client.Containers.GetContainerLogsAsync(created.ID, new ContainerLogsParameters { Follow = true, ShowStdout = true, ShowStderr = true }, deadline.Token)
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
                await client.Containers.KillContainerAsync(created.ID, new ContainerKillParameters(), CancellationToken.None).ConfigureAwait(false);
                throw MigrationRun.TimedOut(migration.Command, ImageReference.Tag(image), timeout, output.ToString(), "it was stopped");
            }
            var exit = await client.Containers.WaitContainerAsync(created.ID, CancellationToken.None).ConfigureAwait(false);
            if (exit.StatusCode != 0)
                throw MigrationRun.Failed(migration.Command, ImageReference.Tag(image), exit.StatusCode, output.ToString());
            activity.Complete();
            return output.ToString();
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static string FirstLine(string? text) => (text ?? "").Split('\n')[0].Trim();
}

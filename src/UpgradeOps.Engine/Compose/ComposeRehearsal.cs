using System.Diagnostics;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Upgrades;
using UpgradeOps.Validation;
using UpgradeOps.Versioning;

using UpgradeOps.Planning;


using UpgradeOps.Platforms;
using UpgradeOps.Rehearsals;

namespace UpgradeOps.Compose;

/// <summary>
/// A rehearsal of a Compose deployment: a copy on the same Docker Engine made from production's own containers (its own
/// project, ports, volumes and folder), restored from the backup, upgraded as Invoke-Upgrade would, validated, removed.
/// </summary>
internal static class ComposeRehearsal
{
    public static async Task<RehearsalPlan> PlanAsync(RehearsalRequest request, DeploymentBackup opened, EngineContext context)
    {
        var (backup, production, path) = await PrepareAsync(request, opened, context).ConfigureAwait(false);
        return new RehearsalPlan(production.Name, path.From, path.To, path.Route, backup.Id, request.Root ?? ComposeRehearsalCopy.DefaultRoot);
    }

    public static async Task<RehearsalReport> RunAsync(RehearsalRequest request, DeploymentBackup opened, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(ComposeRehearsal));
        var clock = Stopwatch.StartNew();
        var (backup, production, path) = await PrepareAsync(request, opened, context).ConfigureAwait(false);
        var root = request.Root ?? ComposeRehearsalCopy.DefaultRoot;
        var id = request.Id;
        using var activity = context.StartActivity($"Rehearsing {production.Name} {path.Route} on a copy");

        using var source = await ComposeDeployment.OpenAsync(production, ct).ConfigureAwait(false);
        var profile = source.Profile;
        var engine = source.Engine;
        activity.Report("Removing copies left by rehearsals that did not finish", 2);
        var abandoned = await ComposeRehearsalCopy.RemoveAbandonedAsync(engine, root, production.Name, log, ct).ConfigureAwait(false);

        var report = new RehearsalReport
        {
            Platform = DeploymentPlatform.Compose,
            Id = id, DeploymentName = production.Name, CopyName = "", From = path.From, To = path.To, Route = path.Route, Strategy = request.Strategy,
            BackupId = backup.Id, BackupPath = backup.Path, Started = DateTimeOffset.UtcNow, Backup = backup.Duration,
        };
        if (abandoned.Count > 0) report.Warnings.Add($"Removed {abandoned.Count} copy(ies) left by rehearsals that did not finish: {string.Join(", ", abandoned)}.");

        ComposeRehearsalCopy? copy = null;
        try
        {
            activity.Report("Creating the copy: folder, volumes and containers", 5);
            var restoreClock = Stopwatch.StartNew();
            copy = await ComposeRehearsalCopy.CreateAsync(engine, source, backup, backup.Path, request.Passphrase, root, id, log, ct).ConfigureAwait(false);
            report.CopyName = copy.ProjectName;
            report.CopyLocation = copy.ComposeFile;
            report.PortMap = PortMapping.From(copy.PortMap).ToList();
            await StartAndRestoreAsync(copy, production, backup, request, context, activity, log).ConfigureAwait(false);
            report.Restore = restoreClock.Elapsed;
            log.LogInformation("Copy {Copy} serves {Version} with the backup's data after {Seconds:N1} s", copy.ProjectName, backup.Version, report.Restore.TotalSeconds);

            activity.Report($"Upgrading the copy {path.Route}", 40);
            var copyDeployment = await DescribeCopyAsync(copy, production, context).ConfigureAwait(false);
            var upgradeStarted = DateTimeOffset.UtcNow;
            var upgrade = await ComposeUpgrade.UpgradeAsync(new UpgradeRequest
            {
                Deployment = copyDeployment, Path = path, SkipBackup = true, Strategy = request.Strategy, MigrationTimeout = request.MigrationTimeout,
                HealthTimeout = request.HealthTimeout, ConfigurationValues = request.ConfigurationValues, Force = true,
                ServePreviousOnFailure = false,
            }, context).ConfigureAwait(false);
            await RehearsalService.ConcludeAsync(report, upgrade, profile, () => DescribeCopyAsync(copy, production, context), upgradeStarted, context, activity).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            report.Stopped(null);
            throw;
        }
        catch (Exception ex) when (ex is UpgradeOpsException or DockerApiException or IOException or HttpRequestException)
        {
            // The copy's .env is the backup's; production's may hold secrets set since.
            report.Stopped(ex, new SecretRedactor(ComposeFile.SecretsAt(source.File.Path)
                .Concat(copy is null ? Array.Empty<KeyValuePair<string, string>>() : EnvFile.Read(Path.Combine(copy.Folder, ".env"))).ToList()).Redact);
        }
        finally
        {
            report.Duration = clock.Elapsed;
            if (copy is not null)
            {
                if (request.Keep)
                {
                    report.Kept = true;
                    report.Warnings.Add($"The copy {copy.ProjectName} was kept (-Keep) at {copy.Folder}; it serves on ports {RehearsalLabels.Format(copy.PortMap)}. " +
                                        $"Remove it with: docker rm -f $(docker ps -aq --filter label={RehearsalLabels.Id}={copy.Id}); " +
                                        $"docker volume rm $(docker volume ls -q --filter label={RehearsalLabels.Id}={copy.Id}); rm -r '{copy.Folder}'");
                }
                else
                {
                    activity.Report("Removing the copy", 97);
                    var left = await copy.RemoveAsync(engine, log).ConfigureAwait(false);
                    if (left.Count > 0) report.Warnings.Add("Parts of the copy could not be removed: " + string.Join("; ", left));
                    report.CopyLocation = null;
                }
            }
        }
        activity.Complete();
        return report;
    }

    /// <summary>The production deployment as it is now, and the path from the backup's version.</summary>
    private static async Task<(DeploymentBackup Backup, Deployment Production, UpgradePath Path)> PrepareAsync(RehearsalRequest request, DeploymentBackup backup, EngineContext context)
    {
        if (request.Helm is not null)
            throw new UpgradeOpsException("HelmParameterOnCompose", ErrorKind.InvalidArgument, backup.Id,
                $"Backup {backup.Id} is of a Compose deployment: -Chart, -ChartVersion, -HelmPath, -ValuesFile and -CopyValue are for a Helm release's backup. Run again without them.");
        var production = request.Deployment is { } given
            ? await ComposeDiscovery.DiscoverAsync(ComposeDiscoveryRequest.Again(given), context).ConfigureAwait(false)
            : backup.Location is { } location
                ? await ComposeDiscovery.DiscoverAsync(new ComposeDiscoveryRequest { ComposeFile = location, Profile = backup.Profile ?? "infrahub" }, context).ConfigureAwait(false)
                : throw new UpgradeOpsException("DeploymentRequired", ErrorKind.InvalidArgument, backup.Id,
                    "The backup does not say where its deployment's compose file is: give the deployment with -Deployment.");
        if (production.Name != backup.DeploymentName)
            throw new UpgradeOpsException("BackupOfAnotherDeployment", ErrorKind.InvalidArgument, backup.Id,
                $"The backup is of '{backup.DeploymentName}', the deployment given is '{production.Name}'. Give that deployment's backup.");
        if (production.IsRehearsalCopy)
            throw new UpgradeOpsException("RehearsalOfACopy", ErrorKind.InvalidArgument, production.Name,
                $"'{production.Name}' is itself a rehearsal copy. Rehearse from the production deployment's backup.");

        var path = UpgradePathService.Test(new UpgradePathRequest
        {
            From = backup.Version ?? throw new UpgradeOpsException("BackupVersionUnknown", ErrorKind.InvalidData, backup.Id,
                $"Backup {backup.Id} does not record the version it was taken at, so a rehearsal cannot know where to start. Take a new backup with New-DeploymentBackup."),
            To = request.To, Profile = production.Profile, AvailableVersions = request.AvailableVersions, Deployment = production,
        });
        if (!path.IsSupported)
            throw new UpgradeOpsException("UpgradePathNotSupported", ErrorKind.InvalidOperation, path, $"{path.Reason} Nothing was created.");
        return (backup, production, path);
    }

    /// <summary>
    /// Data stores first; the backup's databases and volumes restored into them; then the application, until every
    /// container is healthy. The copy's own compose file and .env stay as written (the backup's configuration files are
    /// not restored: they would overwrite production's).
    /// </summary>
    private static async Task StartAndRestoreAsync(ComposeRehearsalCopy copy, Deployment production, DeploymentBackup backup, RehearsalRequest request, EngineContext context,
        ProgressActivity activity, ILogger log)
    {
        var ct = context.CancellationToken;
        var deployment = await DescribeCopyAsync(copy, production, context).ConfigureAwait(false);
        using var target = await ComposeDeployment.OpenAsync(deployment, ct).ConfigureAwait(false);
        var client = target.Engine.Client;
        var dataServices = target.Profile.DataStores.Where(s => s.Service is not null).Select(s => target.ComposeName(s.Service!))
            .Concat(target.Profile.Services.Where(s => s.Role is ServiceRole.Database or ServiceRole.Cache or ServiceRole.Queue)
                .Select(s => s.ComposeService ?? s.Name))
            .ToHashSet();
        var first = target.Containers.Where(c => dataServices.Contains(c.Labels[ComposeDiscovery.ServiceLabel])).ToList();
        activity.Report($"Starting the copy's data stores: {string.Join(", ", first.Select(c => c.Names.First().TrimStart('/')))}", 10);
        foreach (var container in first) await client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
        await ComposeHealth.WaitHealthyAsync(target.Engine, copy.ProjectName, request.HealthTimeout, ct, first.Select(c => c.ID).ToList()).ConfigureAwait(false);

        await target.RefreshAsync(ct).ConfigureAwait(false);
        foreach (var component in backup.Components.Where(c => c.Kind is BackupComponentKind.PostgresDump or BackupComponentKind.Volume))
        {
            activity.Report($"Restoring {component.Name} into the copy", 20);
            log.LogDebug("Restoring {Component} into copy {Copy}", component.Name, copy.ProjectName);
            await ComposeRestore.RestoreComponentAsync(target, backup.Path, component, request.Passphrase, log, ct).ConfigureAwait(false);
        }

        var rest = target.Containers.Where(c => !dataServices.Contains(c.Labels[ComposeDiscovery.ServiceLabel])).ToList();
        activity.Report("Starting the copy's application", 30);
        foreach (var container in rest) await client.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), ct).ConfigureAwait(false);
        await ComposeHealth.WaitHealthyAsync(target.Engine, copy.ProjectName, request.HealthTimeout, ct).ConfigureAwait(false);
    }

    private static Task<Deployment> DescribeCopyAsync(ComposeRehearsalCopy copy, Deployment production, EngineContext context) =>
        ComposeDiscovery.DiscoverAsync(new ComposeDiscoveryRequest { ComposeFile = copy.ComposeFile, Profile = production.Profile, DockerHost = production.Endpoint }, context);
}

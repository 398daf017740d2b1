using UpgradeOps.Backups;
using UpgradeOps.Hosting;
using UpgradeOps.Journal;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;
using UpgradeOps.Validation;

namespace UpgradeOps.Engine.Tests.Validation;

/// <summary>New-DeploymentBackup's check for running background tasks, with the built-in infrahub profile's query.</summary>
public class RunningTasksGateTests
{
    private static readonly ValidationDefinition Infrahub = ProfileLoader.Load("infrahub").Validation;

    private static string Tasks(int count) => """{"data":{"InfrahubTask":{"count":N}}}""".Replace("N", count.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Running_tasks_refuse_the_backup_with_their_count_and_what_to_do()
    {
        using var api = new ScriptedApi((_, _, _) => (200, Tasks(3)));
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            RunningTasksGate.RefuseWhileTasksRunAsync(() => api.Api, "infrahub", Infrahub, new CapturedLog(), CancellationToken.None));
        Assert.Equal(("BackgroundTasksRunning", ErrorKind.ResourceBusy, "infrahub"), (error.ErrorId, error.Kind, error.Target as string));
        Assert.Contains("has 3 background task(s) pending or running", error.Message);
        Assert.EndsWith("or give -Force to back up anyway.", error.Message);
        Assert.Equal("query { InfrahubTask(state: [PENDING, RUNNING]) { count } }", api.Requests.Single().Body);
    }

    [Fact]
    public async Task No_running_task_lets_the_backup_go_on_silently()
    {
        using var api = new ScriptedApi((_, _, _) => (200, Tasks(0)));
        var log = new CapturedLog();
        await RunningTasksGate.RefuseWhileTasksRunAsync(() => api.Api, "infrahub", Infrahub, log, CancellationToken.None);
        Assert.Empty(log.Lines);
    }

    [Fact]
    public async Task An_api_that_cannot_count_them_is_a_warning_not_a_refusal()
    {
        // Infrahub 0.x has no state argument: its GraphQL answers an error.
        using var old = new ScriptedApi((_, _, _) => (200, """{"data":null,"errors":[{"message":"Unknown argument 'state' on field 'Query.InfrahubTask'."}]}"""));
        var log = new CapturedLog();
        await RunningTasksGate.RefuseWhileTasksRunAsync(() => old.Api, "infrahub", Infrahub, log, CancellationToken.None);
        Assert.Contains("did not count its background tasks (Unknown argument 'state'", Assert.Single(log.Lines));

        // Nothing listens there (the stub is closed): the backup of a broken deployment still goes on.
        var closed = new ScriptedApi((_, _, _) => (200, Tasks(1)));
        var down = closed.Api;
        closed.Dispose();
        var downLog = new CapturedLog();
        await RunningTasksGate.RefuseWhileTasksRunAsync(() => down, "infrahub", Infrahub, downLog, CancellationToken.None);
        Assert.Contains("Could not ask the API of 'infrahub' for running background tasks", Assert.Single(downLog.Lines));

        var noEndpoint = new CapturedLog();
        await RunningTasksGate.RefuseWhileTasksRunAsync(() => ProductApi.For(new Deployment { Name = "infrahub", Platform = DeploymentPlatform.Compose, Profile = "infrahub" }, ProfileLoader.Load("infrahub")),
            "infrahub", Infrahub, noEndpoint, CancellationToken.None);
        Assert.Contains("No API endpoint is known", Assert.Single(noEndpoint.Lines));
    }

    [Fact]
    public async Task A_refused_backup_never_starts_Force_backs_up_without_asking_and_an_unreachable_deployment_is_backed_up_with_a_warning()
    {
        using var api = new ScriptedApi((_, _, _) => (200, Tasks(2)));
        var busy = new FakePlatform(api.Api);
        await Assert.ThrowsAsync<UpgradeOpsException>(() => RunningTasksGate.BackUpAsync(busy, busy.Request(force: false), EngineContext.Silent()));
        Assert.Equal((1, 0), (busy.Opened, busy.BackedUp));

        var forced = new FakePlatform(api.Api);
        await RunningTasksGate.BackUpAsync(forced, forced.Request(force: true), EngineContext.Silent());
        Assert.Equal((0, 1), (forced.Opened, forced.BackedUp));

        using var idle = new ScriptedApi((_, _, _) => (200, Tasks(0)));
        var quiet = new FakePlatform(idle.Api);
        await RunningTasksGate.BackUpAsync(quiet, quiet.Request(force: false), EngineContext.Silent());
        Assert.Equal((1, 1, 1), (quiet.Opened, quiet.Closed, quiet.BackedUp));

        var unreachable = new FakePlatform(null);
        await RunningTasksGate.BackUpAsync(unreachable, unreachable.Request(force: false), EngineContext.Silent());
        Assert.Equal(1, unreachable.BackedUp);
    }

    [Fact]
    public void WhatIf_says_the_backup_checks_the_tasks_or_that_Force_skips_it()
    {
        var deployment = new Deployment { Name = "infrahub", Platform = DeploymentPlatform.Compose, Profile = "infrahub" };
        Assert.StartsWith("Checks first that the API reports no background task", RunningTasksGate.DescribeBeforeBackup(deployment, force: false));
        Assert.Equal("Does not check for running background tasks (-Force).", RunningTasksGate.DescribeBeforeBackup(deployment, force: true));
    }

    /// <summary>A deployment whose backup only counts that it ran; its API is <c>api</c>, or it cannot be reached (null).</summary>
    private sealed class FakePlatform(ProductApi? api) : IDeploymentPlatform, IValidationTarget
    {
        public int Opened, Closed, BackedUp;
        public Deployment Deployment { get; } = new() { Name = "infrahub", Platform = DeploymentPlatform.Compose, Profile = "infrahub" };
        public BackupRequest Request(bool force) => new() { Deployment = Deployment, Path = "/nowhere", IgnoreRunningTasks = force };

        public Task<IValidationTarget> OpenValidationTargetAsync(EngineContext context)
        {
            Opened++;
            return api is null
                ? throw new UpgradeOpsException("EngineUnreachable", ErrorKind.ConnectionError, "unix:///nowhere", "The Docker Engine does not answer. Start it.")
                : Task.FromResult<IValidationTarget>(this);
        }

        public Task<DeploymentBackup> BackUpAsync(BackupRequest request, EngineContext context)
        {
            BackedUp++;
            return Task.FromResult(new DeploymentBackup { Id = "b", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = Deployment.Name });
        }

        public ProductApi Api(string? apiEndpoint) => api!;
        public void Dispose() => Closed++;
        public ProductProfile Profile => ProfileLoader.Load("infrahub");
        public SecretRedactor Redactor { get; } = new([]);
        public string InstanceNoun => "containers";
        public string StartRemedy => "Start it.";
        public string StateAnchor => "/nowhere";
        public Task<ExecResult> ExecAsync(string service, IReadOnlyList<string> command, CancellationToken ct) => throw new NotSupportedException();
        public Task<(DateTimeOffset From, IReadOnlyList<(string Instance, string Text)> Logs)> LogsSinceAsync(DateTimeOffset? since, CancellationToken ct) => throw new NotSupportedException();
        public Task<IReadOnlyList<PlannedComponent>> PlanBackupAsync(BackupRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<RestorePlan> PlanRestoreAsync(RestoreRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<DeploymentBackup> RestoreAsync(RestoreRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<IDataStoreHost> OpenDataStoresAsync(CancellationToken ct) => throw new NotSupportedException();
        public void CheckUpgradeRequest(UpgradeRequest request) => throw new NotSupportedException();
        public Task<UpgradePlan> PlanUpgradeAsync(UpgradeRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<IReadOnlyList<UpgradeResult>> UpgradeAsync(UpgradeRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<string> PlanResumeAsync(UpgradeRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<IReadOnlyList<UpgradeResult>> ResumeAsync(UpgradeRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<string> PlanRollbackAsync(RollbackRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<UpgradeResult> RollBackAsync(RollbackRequest request, EngineContext context) => throw new NotSupportedException();
        public Task<(FileEdit? Edit, IReadOnlyList<ConfigurationChange> Changes)> PlanConfigurationAsync(ConfigurationRequest request, EngineContext context) =>
            throw new NotSupportedException();
        public Task<IReadinessTarget> OpenReadinessTargetAsync(EngineContext context) => throw new NotSupportedException();
        public Task<DiagnosticReport> CollectDiagnosticsAsync(DiagnosticRequest request, UpgradeJournal? journal, EngineContext context) => throw new NotSupportedException();
    }
}

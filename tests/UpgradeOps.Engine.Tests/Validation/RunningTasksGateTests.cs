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
    public void WhatIf_says_the_backup_checks_the_tasks_or_that_Force_skips_it()
    {
        var deployment = new Deployment { Name = "infrahub", Platform = DeploymentPlatform.Compose, Profile = "infrahub" };
        Assert.StartsWith("Checks first that the API reports no background task", RunningTasksGate.DescribeBeforeBackup(deployment, force: false));
        Assert.Equal("Does not check for running background tasks (-Force).", RunningTasksGate.DescribeBeforeBackup(deployment, force: true));
    }
}

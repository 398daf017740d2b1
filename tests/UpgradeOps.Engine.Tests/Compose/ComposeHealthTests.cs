using System.Net;
using System.Net.Sockets;
using UpgradeOps.Compose;
using UpgradeOps.Profiles;

namespace UpgradeOps.Tests.Compose;

/// <summary>
/// An upgrade's API step and a rollback end when the API answers where users reach it: a load balancer keeps a backend it
/// saw fail out of rotation for a moment after its container is healthy (nginx answered 502 to Test-PostUpgrade).
/// </summary>
public class ComposeHealthTests
{
    [Fact]
    public async Task Waits_through_a_load_balancer_s_502s_until_the_API_answers()
    {
        using var api = new StubApi(failures: 3);
        await ComposeHealth.WaitApiAnswersAsync(api.Deployment, Profile, TimeSpan.FromSeconds(20), CancellationToken.None);
        Assert.Equal(4, api.Requests);
    }

    [Fact]
    public async Task An_API_that_never_answers_is_ApiNotAnswering_naming_the_endpoint_and_the_last_answer()
    {
        using var api = new StubApi(failures: int.MaxValue);
        var ex = await Assert.ThrowsAsync<UpgradeOpsException>(() =>
            ComposeHealth.WaitApiAnswersAsync(api.Deployment, Profile, TimeSpan.FromSeconds(1), CancellationToken.None));
        Assert.Equal("ApiNotAnswering", ex.ErrorId);
        Assert.Equal(api.Deployment.ApiEndpoint, ex.Target);
        Assert.Contains("HTTP 502", ex.Message);
    }

    [Fact]
    public async Task Without_an_endpoint_or_an_info_route_there_is_nothing_to_wait_for()
    {
        await ComposeHealth.WaitApiAnswersAsync(new Deployment { Name = "d", Platform = DeploymentPlatform.Compose, Profile = "infrahub" }, Profile, TimeSpan.FromSeconds(1), CancellationToken.None);
        await ComposeHealth.WaitApiAnswersAsync(new Deployment { Name = "d", Platform = DeploymentPlatform.Compose, Profile = "infrahub", ApiEndpoint = "http://127.0.0.1:1/" }, new ProductProfile(), TimeSpan.FromSeconds(1), CancellationToken.None);
    }

    private static readonly ProductProfile Profile = new() { Api = new ApiDefinition { Info = "/api/info" } };

    /// <summary>An HTTP server on a free loopback port that answers 502 a number of times, then 200.</summary>
    private sealed class StubApi : IDisposable
    {
        private readonly HttpListener _listener = new();
        private int _requests;

        public StubApi(int failures)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Deployment = new Deployment { Name = "d", Platform = DeploymentPlatform.Compose, Profile = "infrahub", ApiEndpoint = $"http://127.0.0.1:{port}/" };
            _listener.Prefixes.Add(Deployment.ApiEndpoint);
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try { context = await _listener.GetContextAsync(); }
                    catch (Exception) { return; }
                    var n = Interlocked.Increment(ref _requests);
                    context.Response.StatusCode = n <= failures ? 502 : 200;
                    context.Response.Close();
                }
            });
        }

        public Deployment Deployment { get; }
        public int Requests => Volatile.Read(ref _requests);
        public void Dispose() => _listener.Close();
    }
}

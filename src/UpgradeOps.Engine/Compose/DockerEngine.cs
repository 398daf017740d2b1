using Docker.DotNet;
using Polly;
using Polly.Retry;
using UpgradeOps.Hosting;

namespace UpgradeOps.Compose;

/// <summary>
/// A connection to a Docker Engine: -DockerHost, else DOCKER_HOST and the current docker context (the
/// library reads both). Requests are unversioned so the engine answers in its own API version (Docker 29 refuses
/// explicit versions below 1.44). Needs API 1.41 (Engine 20.10) or newer: run live on 20.10, and against recorded
/// answers of API 1.43-1.51 (Docker 24-28) in DockerApiVersionTests.
/// </summary>
public sealed class DockerEngine : IDisposable
{
    /// <summary>
    /// How long the engine may take to answer the first request (a ping, which a live engine answers in milliseconds):
    /// an address that takes the connection and never answers (a hung engine, a proxy) would otherwise hold the
    /// command for the client's 100 s.
    /// </summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(5);

    private DockerEngine(DockerClient client) => Client = client;

    public DockerClient Client { get; }
    public Uri Endpoint => Client.Options.Endpoint;

    public static async Task<DockerEngine> ConnectAsync(string? dockerHost, CancellationToken cancellationToken)
    {
        var builder = new DockerClientBuilder();
        var given = string.IsNullOrWhiteSpace(dockerHost) ? Environment.GetEnvironmentVariable("DOCKER_HOST") : dockerHost;
        var source = string.IsNullOrWhiteSpace(dockerHost) ? " (from DOCKER_HOST)" : "";
        if (!string.IsNullOrWhiteSpace(given) && (!Uri.TryCreate(given, UriKind.Absolute, out var uri) || !IsSupported(uri)))
            throw InvalidHost(given, source);
        if (!string.IsNullOrWhiteSpace(dockerHost))
            builder = builder.WithEndpoint(new Uri(dockerHost));

        DockerClient client;
        try
        {
            client = builder.Build();
        }
        catch (DockerConfigurationException ex)
        {
            throw new UpgradeOpsException("DockerEngineUnreachable", ErrorKind.ConnectionError, dockerHost,
                $"The Docker configuration could not be read: {ex.Message.TrimEnd('.')}. Set DOCKER_HOST or give -DockerHost.", ex);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            // What the client library cannot connect to (a scheme it has no transport for here) is the endpoint's fault.
            throw InvalidHost(given ?? dockerHost ?? "", source, ex);
        }

        var engine = new DockerEngine(client);
        using var answer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        answer.CancelAfter(AnswerTimeout);
        try
        {
            await client.System.PingAsync(answer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            engine.Dispose();
            throw new UpgradeOpsException("DockerEngineUnreachable", ErrorKind.ConnectionError, engine.Endpoint.ToString(),
                $"The Docker Engine at {engine.Endpoint} took the connection but did not answer within {AnswerTimeout.TotalSeconds:0} s. Check that " +
                "the engine runs and answers there ('docker version'), or point UpgradeOps at another one with -DockerHost, the DOCKER_HOST " +
                "environment variable or 'docker context use'.", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            engine.Dispose();
            throw new UpgradeOpsException("DockerEngineUnreachable", ErrorKind.ConnectionError, engine.Endpoint.ToString(),
                $"No Docker Engine answered at {engine.Endpoint} ({ex.Message}). Start the engine, or point UpgradeOps at another one " +
                "with -DockerHost, the DOCKER_HOST environment variable or 'docker context use'.", ex);
        }
        return engine;
    }

    public void Dispose() => Client.Dispose();

    /// <summary>
    /// Whether a failure means the engine stopped answering (stopped, restarted, its socket gone) rather than refusing a
    /// request: the client reports a refused or broken connection as HttpRequestException, a cut stream as IOException.
    /// </summary>
    public static bool IsLost(Exception ex) =>
        ex is HttpRequestException || ex is IOException { InnerException: System.Net.Sockets.SocketException or HttpRequestException };

    /// <summary>What an operation that lost its engine half-way reports, with where it stopped and how to finish.</summary>
    public string LostMessage(string? step, Exception ex, string next) =>
        $"The Docker Engine at {Endpoint} stopped answering{(step is null ? "" : $" at {step}")} ({ex.Message.TrimEnd('.')}). " +
        $"Start it again (the containers it ran come back by their restart policy), then {next}";

    /// <summary>
    /// Removes a container this module made for one job (a volume helper, a migration, a scratch copy), running or not,
    /// with the anonymous volumes Docker gave its image's VOLUME paths, as `docker run --rm` does; named volumes stay.
    /// </summary>
    public Task RemoveOneOffAsync(string containerId, CancellationToken ct) =>
        Client.Containers.RemoveContainerAsync(containerId, new Docker.DotNet.Models.ContainerRemoveParameters { Force = true, RemoveVolumes = true }, ct);

    /// <summary>
    /// Removes, as <see cref="RemoveOneOffAsync"/> does, every container whose name starts with one of
    /// <paramref name="namePrefixes"/> (a deployment's one-offs that a killed run left: "PROJECT-upgradeops-migrate-");
    /// returns how many. Anchored at the name's start: "sandbox-" must not match another project's "mysandbox-".
    /// </summary>
    public async Task<int> RemoveOneOffsNamedAsync(IEnumerable<string> namePrefixes, CancellationToken ct)
    {
        var names = namePrefixes.ToDictionary(prefix => "^/" + System.Text.RegularExpressions.Regex.Escape(prefix), _ => true);
        var all = await Client.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = names },
        }, ct).ConfigureAwait(false);
        foreach (var container in all)
            await RemoveOneOffAsync(container.ID, ct).ConfigureAwait(false);
        return all.Count;
    }

    /// <summary>
    /// Restarts a container now if Docker's restart policy is holding its restart back (state "restarting": its delay
    /// doubles, up to a minute, each time the container ran under 10 s); true when it did. Only for a container whose exit
    /// this module caused, such as a Neo4j server stopped for neo4j-admin: a crash loop keeps its delay.
    /// </summary>
    public Task<bool> RestartIfHeldBackAsync(string containerId, CancellationToken ct) => RestartIfHeldBackAsync(Client, containerId, ct);

    internal static async Task<bool> RestartIfHeldBackAsync(DockerClient client, string containerId, CancellationToken ct)
    {
        try
        {
            var container = await client.Containers.InspectContainerAsync(containerId, ct).ConfigureAwait(false);
            if (!DockerModels.StateOf(container).Restarting) return false;
            await client.Containers.RestartContainerAsync(containerId, new Docker.DotNet.Models.ContainerRestartParameters { WaitBeforeKillSeconds = 10 }, ct)
                .ConfigureAwait(false);
            return true;
        }
        // Only a shortcut: the caller's wait goes on, with its own timeout and message.
        catch (DockerApiException)
        {
            return false;
        }
    }

    /// <summary>
    /// Pauses a container, trying again when the engine's freezer gives up for a moment: runc cannot freeze a container
    /// while a process is being started in it (a healthcheck or an exec), and answers "unable to freeze".
    /// </summary>
    public async Task PauseAsync(string containerId, CancellationToken ct)
    {
        try
        {
            await TransientFreeze.ExecuteAsync(async token => await Client.Containers.PauseContainerAsync(containerId, token).ConfigureAwait(false), ct)
                .ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            throw new UpgradeOpsException("ContainerPauseFailed", ErrorKind.ResourceUnavailable, containerId,
                $"The Docker Engine could not pause container {containerId[..Math.Min(12, containerId.Length)]} ({ex.ResponseBody?.Trim() ?? ex.Message}); " +
                "nothing was written. Run the backup again; if it keeps failing, look at 'docker logs' of the container and the engine's log.", ex);
        }
    }

    private static readonly ResiliencePipeline TransientFreeze = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<DockerApiException>(IsTransientFreeze),
            MaxRetryAttempts = 5,
            Delay = TimeSpan.FromMilliseconds(200),
            BackoffType = DelayBackoffType.Exponential,
        })
        .Build();

    internal static bool IsTransientFreeze(DockerApiException ex) =>
        ex.StatusCode == System.Net.HttpStatusCode.InternalServerError && ex.ResponseBody?.Contains("unable to freeze", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The transports this module carries: a Unix socket, TCP (plain or TLS), and a named pipe on Windows.</summary>
    private static bool IsSupported(Uri uri) =>
        uri.Scheme is "unix" or "tcp" or "http" or "https" || uri.Scheme == "npipe" && OperatingSystem.IsWindows();

    private static UpgradeOpsException InvalidHost(string given, string source, Exception? inner = null) =>
        new("InvalidDockerHost", ErrorKind.InvalidArgument, given,
            $"'{LocalFile.Shown(given)}'{source} is not a Docker endpoint UpgradeOps can reach: give one such as unix:///var/run/docker.sock " +
            $"or tcp://127.0.0.1:2375{(OperatingSystem.IsWindows() ? " or npipe:////./pipe/docker_engine" : "")}.", inner);
}

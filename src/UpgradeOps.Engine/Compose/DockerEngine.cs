using Docker.DotNet;

namespace UpgradeOps.Compose;

/// <summary>
/// A connection to a Docker Engine: -DockerHost, else DOCKER_HOST and the current docker context (the
/// library reads both). Requests are unversioned so the engine answers in its own API version: that works
/// from Engine 20.10 (API 1.41) to Docker 29, which refuses explicit versions below 1.44.
/// </summary>
public sealed class DockerEngine : IDisposable
{
    private DockerEngine(DockerClient client) => Client = client;

    public DockerClient Client { get; }
    public Uri Endpoint => Client.Options.Endpoint;

    public static async Task<DockerEngine> ConnectAsync(string? dockerHost, CancellationToken cancellationToken)
    {
        var builder = new DockerClientBuilder();
        if (!string.IsNullOrWhiteSpace(dockerHost))
        {
            if (!Uri.TryCreate(dockerHost, UriKind.Absolute, out var uri))
                throw new UpgradeOpsException("InvalidDockerHost", ErrorKind.InvalidArgument, dockerHost,
                    $"'{dockerHost}' is not a Docker endpoint URI. Give one such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375.");
            builder = builder.WithEndpoint(uri);
        }

        DockerClient client;
        try
        {
            client = builder.Build();
        }
        catch (DockerConfigurationException ex)
        {
            throw new UpgradeOpsException("DockerEngineUnreachable", ErrorKind.ConnectionError, dockerHost,
                $"The Docker configuration could not be read: {ex.Message} Set DOCKER_HOST or give -DockerHost.", ex);
        }

        var engine = new DockerEngine(client);
        try
        {
            await client.System.PingAsync(cancellationToken).ConfigureAwait(false);
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
}

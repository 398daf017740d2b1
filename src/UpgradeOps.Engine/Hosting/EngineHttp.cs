namespace UpgradeOps.Hosting;

/// <summary>One HttpClient for the module's lifetime (sockets are reused; DNS changes are picked up).</summary>
public static class EngineHttp
{
    public static HttpClient Client { get; } = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = TimeSpan.FromSeconds(100),
    };
}

using Microsoft.Extensions.Logging;

namespace UpgradeOps.Hosting;

/// <summary>Something the engine wants shown: a log line or a progress change. Posted from any thread.</summary>
public abstract record EngineEvent;

public enum EngineLogLevel { Trace, Debug, Information, Warning, Error }

public sealed record LogEvent(EngineLogLevel Level, string Category, string Message) : EngineEvent;

/// <summary>A progress bar's state; <see cref="Completed"/> closes the bar.</summary>
public sealed record ProgressEvent(int ActivityId, int ParentActivityId, string Activity, string Status, int PercentComplete, bool Completed)
    : EngineEvent;

/// <summary>Where engine events go; the cmdlet layer queues them for the pipeline thread.</summary>
public interface IEngineEventSink
{
    void Post(EngineEvent engineEvent);
}

/// <summary>What every engine operation receives: logging, progress and cancellation, with no PowerShell types.</summary>
public sealed class EngineContext : ILoggerFactory
{
    private int _nextActivityId;

    public EngineContext(IEngineEventSink sink, CancellationToken cancellationToken)
    {
        Sink = sink;
        CancellationToken = cancellationToken;
    }

    public IEngineEventSink Sink { get; }
    public CancellationToken CancellationToken { get; }

    /// <summary>A context whose events go nowhere; for tests and for callers that do not show progress.</summary>
    public static EngineContext Silent(CancellationToken cancellationToken = default) => new(new NullSink(), cancellationToken);

    public ILogger CreateLogger(string categoryName) => new SinkLogger(Sink, categoryName);
    public ILogger<T> CreateLogger<T>() => new Logger<T>(this);

    /// <summary>Starts a progress bar; dispose it (or call Complete) to close it.</summary>
    public ProgressActivity StartActivity(string activity, ProgressActivity? parent = null) =>
        new(Sink, Interlocked.Increment(ref _nextActivityId), parent?.Id ?? -1, activity);

    void ILoggerFactory.AddProvider(ILoggerProvider provider) => throw new NotSupportedException("The engine logs only to its sink.");
    void IDisposable.Dispose() { }

    private sealed class NullSink : IEngineEventSink
    {
        public void Post(EngineEvent engineEvent) { }
    }
}

/// <summary>One progress bar.</summary>
public sealed class ProgressActivity : IDisposable
{
    private readonly IEngineEventSink _sink;
    private bool _completed;

    internal ProgressActivity(IEngineEventSink sink, int id, int parentId, string activity)
    {
        _sink = sink;
        Id = id;
        ParentId = parentId;
        Activity = activity;
    }

    public int Id { get; }
    public int ParentId { get; }
    public string Activity { get; }

    public void Report(string status, int percentComplete = -1) =>
        _sink.Post(new ProgressEvent(Id, ParentId, Activity, status, Math.Clamp(percentComplete, -1, 100), false));

    public void Complete()
    {
        if (_completed) return;
        _completed = true;
        _sink.Post(new ProgressEvent(Id, ParentId, Activity, "Completed", 100, true));
    }

    public void Dispose() => Complete();
}

/// <summary>An ILogger that turns entries into <see cref="LogEvent"/>s, whatever thread writes them.</summary>
internal sealed class SinkLogger(IEngineEventSink sink, string category) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel == LogLevel.None) return;
        var message = formatter(state, exception);
        if (exception is not null) message += " " + exception.Message;
        var level = logLevel switch
        {
            LogLevel.Trace => EngineLogLevel.Trace,
            LogLevel.Debug => EngineLogLevel.Debug,
            LogLevel.Information => EngineLogLevel.Information,
            LogLevel.Warning => EngineLogLevel.Warning,
            _ => EngineLogLevel.Error,
        };
        sink.Post(new LogEvent(level, category, message));
    }
}

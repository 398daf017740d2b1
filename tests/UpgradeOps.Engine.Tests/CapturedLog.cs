using Microsoft.Extensions.Logging;

namespace UpgradeOps.Engine.Tests;

/// <summary>A logger that keeps every line it is given, formatted, so a test can read what a warning said.</summary>
internal sealed class CapturedLog : ILogger
{
    public List<string> Lines { get; } = new();
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Add(formatter(state, exception));
}

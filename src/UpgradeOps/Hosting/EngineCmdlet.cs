using System.Collections.Concurrent;
using System.Management.Automation;
using UpgradeOps.Hosting;
using UpgradeOps.ReleaseNotes;

namespace UpgradeOps.Commands.Hosting;

/// <summary>
/// Base of every UpgradeOps cmdlet: runs engine work on the thread pool and pumps its log and progress
/// events back onto the pipeline thread (the only thread allowed to write to PowerShell streams).
/// Ctrl+C (StopProcessing) cancels the engine's token. Events posted from any thread are queued, never
/// dropped, and the queue is drained once more after the work ends.
/// </summary>
public abstract class EngineCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<int, string> _lastStatus = new();

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>Runs <paramref name="work"/> and returns its result, showing its events meanwhile.</summary>
    protected T RunEngine<T>(Func<EngineContext, Task<T>> work)
    {
        var queue = new ConcurrentQueue<EngineEvent>();
        using var signal = new SemaphoreSlim(0);
        var context = new EngineContext(new QueueSink(queue, signal), _stopping.Token);

        var task = Task.Run(() => work(context), _stopping.Token);
        task.ContinueWith(_ => signal.Release(), TaskScheduler.Default);

        while (!task.IsCompleted)
        {
            signal.Wait();
            try
            {
                Drain(queue);
            }
            catch (PipelineStoppedException) when (_stopping.IsCancellationRequested)
            {
                // Ctrl+C: the pipeline takes no more output, but the engine is still bringing the deployment back (containers
                // started, partial files removed). Wait for it: a script or job that ends now would kill that halfway.
                task.ContinueWith(_ => { }, TaskScheduler.Default).Wait();
                throw;
            }
        }
        Drain(queue);

        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception ex) when (ex is not UpgradeOpsException and not PipelineStoppedException and not OperationCanceledException)
        {
            // Whatever the engine did not foresee (a Docker API or I/O failure) still reaches the user as an
            // ErrorRecord with a stable ErrorId and the original message.
            throw new UpgradeOpsException("EngineFailure", ErrorKind.InvalidOperation, MyInvocation.MyCommand.Name,
                $"{MyInvocation.MyCommand.Name} failed: {ex.GetType().Name}: {ex.Message} Run it again with -Verbose to see " +
                "where it stopped; for an upgrade, Get-UpgradeHistory shows what its journal recorded.", ex);
        }
    }

    protected void RunEngine(Func<EngineContext, Task> work) =>
        RunEngine<bool>(async context =>
        {
            await work(context).ConfigureAwait(false);
            return true;
        });

    /// <summary>-ConfigurationValue as the engine takes it: setting name → value as text.</summary>
    protected static Dictionary<string, string>? ConfigurationValues(System.Collections.Hashtable? values) =>
        values?.Cast<System.Collections.DictionaryEntry>().ToDictionary(e => e.Key.ToString()!, e => e.Value?.ToString() ?? "");

    /// <summary>
    /// Reads release notes from a file (resolved against PowerShell's current location) or else a URL; null when neither
    /// is given. Notes that cannot be read stop the cmdlet with the engine's error.
    /// </summary>
    protected ReleaseNoteDocument? LoadReleaseNotes(string? path, Uri? uri = null, ReleaseNoteFormat format = ReleaseNoteFormat.Auto)
    {
        var source = path is not null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(path) : uri?.AbsoluteUri;
        if (source is null) return null;
        return RunEngineOrThrowError(context => ReleaseNoteSource.LoadAsync(source, format, EngineHttp.Client, context.CancellationToken));
    }

    /// <summary>
    /// A built-in profile name stays as it is; anything else is a path, resolved against PowerShell's current location (the
    /// process's own current folder is another one). A path PowerShell cannot resolve (an unknown drive) is given to the
    /// loader as it is, which says that no such profile exists.
    /// </summary>
    protected string ResolveProfile(string nameOrPath)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath) || Profiles.ProfileLoader.IsBuiltIn(nameOrPath)) return nameOrPath;
        try
        {
            return SessionState.Path.GetUnresolvedProviderPathFromPSPath(nameOrPath);
        }
        catch (Exception ex) when (ex is ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or PSArgumentException or NotSupportedException)
        {
            return nameOrPath;
        }
    }

    /// <summary>
    /// ShouldProcess with -Force: -WhatIf still only describes (and -Confirm still asks), but -Force alone
    /// proceeds without a prompt, so unattended runbooks never stop on a question.
    /// </summary>
    protected bool ShouldChange(string target, string description, string action, bool force)
    {
        var bound = MyInvocation.BoundParameters;
        var whatIf = bound.ContainsKey("WhatIf")
            ? ((SwitchParameter)bound["WhatIf"]).IsPresent
            : SessionState.PSVariable.GetValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true;
        if (force && !whatIf && !bound.ContainsKey("Confirm")) return true;
        return ShouldProcess(description, $"{action} {target}?\n{description}", action);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with an encryption passphrase as UTF-8 bytes (null without one), reports engine
    /// errors as ErrorRecords, and zeroes the bytes afterwards whatever happened.
    /// </summary>
    protected void WithPassphrase(System.Security.SecureString? key, Action<byte[]?> action)
    {
        var passphrase = SecureStrings.ToUtf8(key);
        try
        {
            RunOrWriteError(() => action(passphrase));
        }
        finally
        {
            if (passphrase is not null) Array.Clear(passphrase);
        }
    }

    /// <summary>
    /// Parameters that are wrong whatever the deployment (<see cref="Commands.ParameterChecks"/>), refused as a terminating
    /// ErrorRecord before any engine or cluster is contacted.
    /// </summary>
    protected void CheckParameters(Action checks) => RunOrThrowError(checks);

    /// <summary>
    /// Runs engine work for one input and hands its result to <paramref name="onResult"/> (warnings, ShouldProcess, output);
    /// an engine error from either becomes a non-terminating ErrorRecord, and the cmdlet goes on with the next input.
    /// </summary>
    protected void RunEngineOrWriteError<T>(Func<EngineContext, Task<T>> work, Action<T> onResult) =>
        RunOrWriteError(() => onResult(RunEngine(work)));

    /// <summary>Runs engine work whose failure stops the cmdlet (what every input needs): an engine error is a terminating ErrorRecord.</summary>
    protected T RunEngineOrThrowError<T>(Func<EngineContext, Task<T>> work)
    {
        T result = default!;
        RunOrThrowError(() => result = RunEngine(work));
        return result;
    }

    /// <summary>
    /// One input's work, when it is more than one engine call (the cmdlet's own checks, files it writes): an engine error
    /// becomes a non-terminating ErrorRecord with its ErrorId, category and target (a bare exception would lose all three),
    /// and the cmdlet goes on with the next input.
    /// </summary>
    protected void RunOrWriteError(Action work)
    {
        try
        {
            work();
        }
        catch (UpgradeOpsException ex)
        {
            WriteEngineError(ex);
        }
    }

    /// <summary>Work whose failure stops the cmdlet: an engine error becomes a terminating ErrorRecord.</summary>
    protected void RunOrThrowError(Action work)
    {
        try
        {
            work();
        }
        catch (UpgradeOpsException ex)
        {
            ThrowEngineError(ex);
        }
    }

    /// <summary>Writes an engine error as a non-terminating ErrorRecord (per-input failures).</summary>
    protected void WriteEngineError(UpgradeOpsException exception) => WriteError(ErrorRecords.From(exception));

    /// <summary>Stops the cmdlet with an engine error as a terminating ErrorRecord.</summary>
    protected void ThrowEngineError(UpgradeOpsException exception) => ThrowTerminatingError(ErrorRecords.From(exception));

    private void Drain(ConcurrentQueue<EngineEvent> queue)
    {
        while (queue.TryDequeue(out var engineEvent)) Show(engineEvent);
    }

    private void Show(EngineEvent engineEvent)
    {
        switch (engineEvent)
        {
            case LogEvent log:
                ShowLog(log);
                break;
            case ProgressEvent progress:
                ShowProgress(progress);
                break;
        }
    }

    private void ShowLog(LogEvent log)
    {
        switch (log.Level)
        {
            case EngineLogLevel.Trace: WriteDebug(log.Message); break;
            case EngineLogLevel.Debug: WriteVerbose(log.Message); break;
            case EngineLogLevel.Information: WriteInformation(log.Message, new[] { "UpgradeOps", log.Category }); break;
            default: WriteWarning(log.Message); break;
        }
    }

    private void ShowProgress(ProgressEvent progress)
    {
        var record = new ProgressRecord(progress.ActivityId, progress.Activity, progress.Status)
        {
            ParentActivityId = progress.ParentActivityId,
            PercentComplete = progress.PercentComplete,
            RecordType = progress.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
        WriteProgress(record);

        // Azure Automation does not record progress: mirror each new status line to Verbose.
        if (_lastStatus.TryGetValue(progress.ActivityId, out var last) && last == progress.Status) return;
        _lastStatus[progress.ActivityId] = progress.Status;
        var percent = progress.PercentComplete >= 0 && !progress.Completed ? $" ({progress.PercentComplete}%)" : string.Empty;
        WriteVerbose($"{progress.Activity}: {progress.Status}{percent}");
    }

    private sealed class QueueSink(ConcurrentQueue<EngineEvent> queue, SemaphoreSlim signal) : IEngineEventSink
    {
        public void Post(EngineEvent engineEvent)
        {
            queue.Enqueue(engineEvent);
            try
            {
                signal.Release();
            }
            catch (ObjectDisposedException)
            {
                // the cmdlet has finished; the event stays queued and is simply not shown
            }
        }
    }
}

namespace UpgradeOps;

/// <summary>What kind of failure an engine error is; the cmdlet layer maps it to an ErrorCategory.</summary>
public enum ErrorKind
{
    InvalidArgument,
    InvalidData,
    ObjectNotFound,
    ResourceUnavailable,
    ConnectionError,
    OperationTimeout,
    InvalidOperation,
    PermissionDenied,
    ResourceBusy,
    NotImplemented,
    SecurityError,
    OperationStopped,
    /// <summary>The operation ran but its outcome cannot be told (a migration whose log was lost).</summary>
    InvalidResult,
}

/// <summary>
/// Every failure the engine reports carries a stable ErrorId, a kind, the input that failed and a
/// message that says what to do next; the cmdlet layer turns it into an ErrorRecord unchanged.
/// </summary>
public class UpgradeOpsException : Exception
{
    public UpgradeOpsException(string errorId, ErrorKind kind, object? target, string message, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public ErrorKind Kind { get; }
    public object? Target { get; }
}

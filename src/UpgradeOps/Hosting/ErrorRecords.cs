using System.Management.Automation;

namespace UpgradeOps.Commands.Hosting;

/// <summary>Turns engine failures into ErrorRecords with their stable ErrorId, category and target.</summary>
internal static class ErrorRecords
{
    public static ErrorRecord From(UpgradeOpsException exception) =>
        new(exception, exception.ErrorId, Category(exception.Kind), exception.Target);

    public static ErrorCategory Category(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        ErrorKind.InvalidData => ErrorCategory.InvalidData,
        ErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        ErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        ErrorKind.ConnectionError => ErrorCategory.ConnectionError,
        ErrorKind.OperationTimeout => ErrorCategory.OperationTimeout,
        ErrorKind.InvalidOperation => ErrorCategory.InvalidOperation,
        ErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        ErrorKind.ResourceBusy => ErrorCategory.ResourceBusy,
        ErrorKind.NotImplemented => ErrorCategory.NotImplemented,
        ErrorKind.SecurityError => ErrorCategory.SecurityError,
        ErrorKind.OperationStopped => ErrorCategory.OperationStopped,
        ErrorKind.InvalidResult => ErrorCategory.InvalidResult,
        _ => ErrorCategory.NotSpecified,
    };
}

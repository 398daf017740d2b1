namespace UpgradeOps.Backups;

/// <summary>
/// A backup file that is not what it should be; the ErrorId says how, the kind what sort of problem it is (a manifest that
/// reaches outside its backup, or that the key proves was changed, is a SecurityError, not just damaged data).
/// </summary>
public sealed class BackupFormatException(string errorId, string message, ErrorKind kind = ErrorKind.InvalidData) : Exception(message)
{
    public string ErrorId { get; } = errorId;
    public ErrorKind Kind { get; } = kind;
}

namespace UpgradeOps;

/// <summary>What a command run inside a container or pod returned.</summary>
public sealed record ExecResult(long ExitCode, string StandardError, string StandardOutputText);

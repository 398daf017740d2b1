using System.Text.RegularExpressions;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Upgrades;

/// <summary>
/// What every way of running the profile's migration command shares (a one-off container on Compose, pod exec on a Helm
/// release): its lines shown as progress, and its exit code and timeout turned into MigrationFailed / MigrationTimedOut.
/// </summary>
internal static partial class MigrationRun
{
    /// <summary>Exception data key: the (redacted) output of a migration that failed.</summary>
    public const string OutputKey = "UpgradeOps.MigrationOutput";

    /// <summary>One line of the migration's output as the status of its progress bar; "(42%)" in it moves the bar.</summary>
    public static void Report(ProgressActivity activity, string line)
    {
        var percent = PercentPattern().Match(line);
        activity.Report(line.Length > 100 ? line[..100] : line, percent.Success ? int.Parse(percent.Groups[1].Value) : -1);
    }

    /// <summary>
    /// A migration that ended with a non-zero exit code: MigrationFailed, whatever the code means (the profile's product
    /// documents its codes), with the last lines of its output; the whole output travels in the exception's data.
    /// </summary>
    public static UpgradeOpsException Failed(IReadOnlyList<string> command, string? to, long exitCode, string output, string? where = null) =>
        new("MigrationFailed", ErrorKind.InvalidOperation, string.Join(' ', command),
            $"The migration to {to}{where} failed with exit code {exitCode}: {LastLines(output, 5)} " +
            "The full output is in the result's MigrationOutput; Invoke-Rollback returns to the backup.")
        { Data = { [OutputKey] = output } };

    /// <summary>
    /// The first line of a migration's output that one of the profile's migration.failurePatterns matches, or null: a
    /// product that exits 0 after a failed migration says so only in its output.
    /// </summary>
    public static string? FailureLine(MigrationDefinition migration, string output)
    {
        if (migration.FailurePatterns.Count == 0) return null;
        var patterns = migration.FailurePatterns.Select(p => new Regex(p, RegexOptions.None, TimeSpan.FromSeconds(1))).ToList();
        try
        {
            return output.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(line => patterns.Any(p => p.IsMatch(line)));
        }
        catch (RegexMatchTimeoutException ex)
        {
            // Undecided is not "no failure": the migration may have failed, so the upgrade does not go on.
            throw new UpgradeOpsException("FailurePatternTimedOut", ErrorKind.InvalidData, ex.Pattern,
                $"The profile's migration.failurePatterns entry '{ex.Pattern}' took more than {ex.MatchTimeout.TotalSeconds:N0} s on one line of the migration's " +
                "output, so whether the migration failed is not known. Read the output (the result's MigrationOutput), simplify the pattern, " +
                "and run Invoke-Upgrade -Resume, or Invoke-Rollback if the migration failed.", ex) { Data = { [OutputKey] = output } };
        }
    }

    /// <summary>A migration that exited 0 but printed a line of the profile's migration.failurePatterns: MigrationFailed.</summary>
    public static UpgradeOpsException FailedInOutput(IReadOnlyList<string> command, string? to, string line, string output, string? where = null) =>
        new("MigrationFailed", ErrorKind.InvalidOperation, string.Join(' ', command),
            $"The migration to {to}{where} exited with code 0 but reported a failure: '{line.Trim()}' (a line its profile's migration.failurePatterns names). " +
            $"Last lines: {LastLines(output, 5)} The full output is in the result's MigrationOutput; Invoke-Rollback returns to the backup.")
        { Data = { [OutputKey] = output } };

    /// <summary>A migration stopped at -MigrationTimeout; <paramref name="stopped"/> says what became of it.</summary>
    public static UpgradeOpsException TimedOut(IReadOnlyList<string> command, string? to, TimeSpan timeout, string output, string stopped) =>
        new("MigrationTimedOut", ErrorKind.OperationTimeout, string.Join(' ', command),
            $"The migration to {to} did not finish within {timeout}; {stopped}. Last output: {LastLines(output, 5)} " +
            "Give a longer -MigrationTimeout if it was making progress, or roll back with Invoke-Rollback.")
        { Data = { [OutputKey] = output } };

    public static string LastLines(string output, int count) =>
        string.Join(" | ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(count).Select(l => l.Trim()));

    [GeneratedRegex(@"\((\d{1,3})%\)")]
    private static partial Regex PercentPattern();
}

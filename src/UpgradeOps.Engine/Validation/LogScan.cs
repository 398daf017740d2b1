using System.Text.RegularExpressions;
using UpgradeOps.Profiles;

namespace UpgradeOps.Validation;

/// <summary>
/// Finds the error and warning lines of a log by the profile's patterns (validation.logErrorPatterns, logIgnorePatterns).
/// A Python traceback's first line says nothing by itself, so it is reported with the exception that ends it.
/// </summary>
public sealed class LogScan(ValidationDefinition validation)
{
    private static readonly Regex WarningLine = new(@"\bWARN(ING)?\b", RegexOptions.CultureInvariant);
    private readonly List<Regex> _errors = validation.LogErrorPatterns.Select(p => new Regex(p, RegexOptions.CultureInvariant)).ToList();
    private readonly List<Regex> _ignored = validation.LogIgnorePatterns.Select(p => new Regex(p, RegexOptions.CultureInvariant)).ToList();

    public (List<string> Errors, List<string> Warnings) Scan(string text)
    {
        var errors = new List<string>();
        var warnings = new List<string>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || _ignored.Any(r => r.IsMatch(line))) continue;
            if (_errors.Any(r => r.IsMatch(line)))
                errors.Add(line.StartsWith("Traceback (most recent call last)", StringComparison.Ordinal) && ExceptionOf(lines, i) is { } exception
                    ? $"{line} {exception}" : line);
            else if (WarningLine.IsMatch(line))
                warnings.Add(line);
        }
        return (errors, warnings);
    }

    /// <summary>The first unindented line after a traceback's frames: "ValueError: ...".</summary>
    private static string? ExceptionOf(string[] lines, int traceback)
    {
        for (var i = traceback + 1; i < lines.Length && i < traceback + 200; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length > 0 && !char.IsWhiteSpace(line[0])) return line.Trim();
        }
        return null;
    }
}

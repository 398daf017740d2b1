using UpgradeOps.Profiles;
using UpgradeOps.Validation;
using Xunit;

namespace UpgradeOps.Engine.Tests.Validation;

public class LogScanTests
{
    private static readonly LogScan Scan = new(new ValidationDefinition
    {
        LogErrorPatterns = { @"^ERROR\b", @"Traceback \(most recent call last\)" },
        LogIgnorePatterns = { "ERROR known harmless" },
    });

    [Fact]
    public void A_traceback_is_reported_with_the_exception_that_ends_it()
    {
        var log = "INFO started\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n    boom()\nBrokenPipeError: [Errno 32] Broken pipe\nINFO next\n";
        var (errors, _) = Scan.Scan(log);
        Assert.Equal(new[] { "Traceback (most recent call last): BrokenPipeError: [Errno 32] Broken pipe" }, errors);
    }

    [Fact]
    public void Errors_warnings_and_ignored_lines_are_told_apart()
    {
        var (errors, warnings) = Scan.Scan("ERROR the database is gone\nERROR known harmless thing\nWARNING memory overcommit\nINFO fine\n");
        Assert.Equal(new[] { "ERROR the database is gone" }, errors);
        Assert.Equal(new[] { "WARNING memory overcommit" }, warnings);
    }
}

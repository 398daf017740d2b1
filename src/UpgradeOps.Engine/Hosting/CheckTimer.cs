using System.Diagnostics;

namespace UpgradeOps.Hosting;

/// <summary>
/// Times one check of a report (backup verification, readiness, validation) and makes its CheckResult, so every
/// report builds its results the same way.
/// </summary>
internal sealed class CheckTimer(string name)
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    public static CheckTimer Start(string name) => new(name);

    public CheckResult Finish(CheckStatus status, string detail, string? remedy = null, string? errorId = null) =>
        new() { Name = name, Status = status, Detail = detail, Remedy = remedy, ErrorId = status == CheckStatus.Failed ? errorId : null, Duration = _watch.Elapsed };

    public CheckResult Pass(string detail) => Finish(CheckStatus.Passed, detail);
    public CheckResult Warn(string detail, string? remedy = null) => Finish(CheckStatus.Warning, detail, remedy);
    public CheckResult Skip(string detail) => Finish(CheckStatus.Skipped, detail);
    public CheckResult Fail(string errorId, string detail, string? remedy = null) => Finish(CheckStatus.Failed, detail, remedy, errorId);
}

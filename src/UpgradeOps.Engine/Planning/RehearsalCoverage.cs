using System.Globalization;
using UpgradeOps.Hosting;
using UpgradeOps.Versioning;

using UpgradeOps.Reporting;

namespace UpgradeOps.Planning;

/// <summary>
/// What a rehearsal says about an upgrade being planned: whether it rehearsed these very versions (or one of the
/// hops), and whether it counts as "tested in non-production" for the readiness checklist.
/// </summary>
public static class RehearsalCoverage
{
    /// <summary>A rehearsal older than this is a Warning: the deployment's data and configuration have moved on since.</summary>
    public static readonly TimeSpan DefaultMaximumAge = TimeSpan.FromDays(30);

    /// <summary>The two versions are the same release ("v1.7.6" is "1.7.6"); text that is not a version compares as text.</summary>
    public static bool SameVersion(string? a, string? b) =>
        ProductVersion.TryParse(a, out var x) && ProductVersion.TryParse(b, out var y) ? x!.Equals(y) : string.Equals(a, b, StringComparison.Ordinal);

    /// <summary>The rehearsal went from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool Covers(RehearsalReport rehearsal, string? from, string to) =>
        SameVersion(rehearsal.From, from) && SameVersion(rehearsal.To, to);

    /// <summary>The hop from <paramref name="from"/> to <paramref name="to"/> as a passed rehearsal ran it, if it did.</summary>
    public static RehearsalHop? Hop(RehearsalReport? rehearsal, string from, string to) =>
        rehearsal is { Passed: true }
            ? rehearsal.Hops.FirstOrDefault(h => h.Status == StepStatus.Succeeded && SameVersion(h.From, from) && SameVersion(h.To, to))
            : null;

    /// <summary>
    /// Why a rehearsal's figures are not used for a path from <paramref name="from"/> to <paramref name="to"/>, or
    /// null when they are (a passed rehearsal of the same versions).
    /// </summary>
    public static string? NotUsedBecause(RehearsalReport rehearsal, string from, string to, IEnumerable<(string From, string To)> hops)
    {
        if (!rehearsal.Passed)
            return $"Rehearsal {rehearsal.Id} {rehearsal.Status}: its timings are not used. Fix what its report lists and rehearse again.";
        if (Covers(rehearsal, from, to)) return null;
        var someHops = hops.Count(h => Hop(rehearsal, h.From, h.To) is not null);
        return $"Rehearsal {rehearsal.Id} went {rehearsal.From} → {rehearsal.To}, not {from} → {to}: " +
               (someHops > 0 ? $"only {someHops} hop(s) carry its measured time; the window stays an estimate." : "its timings are not used.");
    }

    /// <summary>The readiness item "Rehearsal": tested in non-production, from the current version to the target.</summary>
    public static CheckResult Check(RehearsalReport? rehearsal, string? from, string to, DateTimeOffset now, TimeSpan? maximumAge = null)
    {
        var check = CheckTimer.Start("Rehearsal");
        const string rehearse = "Rehearse it on a copy restored from the backup: $d | Invoke-UpgradeRehearsal -To <target> -Backup $b, then give -Rehearsal.";
        if (rehearsal is null)
            return check.Warn("No rehearsal of this upgrade on a non-production copy is on record.", rehearse);
        var when = (rehearsal.Started + rehearsal.Duration).ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture);
        if (!Covers(rehearsal, from, to))
            return check.Warn($"Rehearsal {rehearsal.Id} ({when}) went {rehearsal.From} → {rehearsal.To}; this upgrade goes {from ?? "(unknown version)"} → {to}.", rehearse);
        if (!rehearsal.Passed)
            return check.Fail("RehearsalFailed",
                $"Rehearsal {rehearsal.Id} of {rehearsal.From} → {rehearsal.To} ({when}) {rehearsal.Status}" +
                (rehearsal.Errors.Count > 0 ? $": {rehearsal.Errors[0]}" : "."),
                "Read its report (Export-UpgradeReport), fix what went wrong, and rehearse again until it passes.");
        var age = now - (rehearsal.Started + rehearsal.Duration);
        var limit = maximumAge ?? DefaultMaximumAge;
        if (age > limit)
            return check.Warn($"Rehearsal {rehearsal.Id} passed but is {age.TotalDays:N0} days old (more than {limit.TotalDays:N0}): the data and configuration have changed since.", rehearse);
        return check.Pass($"Rehearsal {rehearsal.Id} ({when}) passed: {rehearsal.From} → {rehearsal.To} in {DurationText.Of(rehearsal.Duration)}, " +
                          $"API down {DurationText.Of(rehearsal.Downtime)}, window {DurationText.Of(rehearsal.EstimatedWindow)}");
    }
}

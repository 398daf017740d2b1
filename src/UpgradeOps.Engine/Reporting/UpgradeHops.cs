using System.Text.RegularExpressions;

namespace UpgradeOps.Reporting;

/// <summary>
/// The hops of an upgrade as its steps recorded them: a multi-hop upgrade names each step "1.6.3→1.7.6 migrate",
/// a single hop has no prefix. Each hop's duration, migration time and API outage (from stopping the API to the
/// recreated API's step ending) come from the step timings, so a report of an upgrade and of a rehearsal show the same.
/// </summary>
public static partial class UpgradeHops
{
    public static List<RehearsalHop> Of(UpgradeResult result)
    {
        var groups = new List<(string From, string To, List<UpgradeStepResult> Steps)>();
        foreach (var step in result.Steps)
        {
            var match = HopPrefix().Match(step.Name);
            var (from, to) = match.Success ? (match.Groups[1].Value, match.Groups[2].Value) : (result.From, result.To);
            if (groups.Count == 0 || groups[^1].From != from || groups[^1].To != to) groups.Add((from, to, new List<UpgradeStepResult>()));
            groups[^1].Steps.Add(step);
        }
        return groups.Select(g => new RehearsalHop
        {
            From = g.From, To = g.To,
            Duration = Span(g.Steps, g.Steps[0], g.Steps[^1]),
            Migration = g.Steps.Where(s => Named(s, "migrate")).Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Duration),
            ApiUnavailable = g.Steps.FirstOrDefault(s => Named(s, "stop API")) is { } stop && g.Steps.LastOrDefault(s => Named(s, "recreate API")) is { } back
                ? Span(g.Steps, stop, back) : TimeSpan.Zero,
            Status = g.Steps.Any(s => s.Status == StepStatus.Failed) ? StepStatus.Failed
                : g.Steps.All(s => s.Status is StepStatus.Succeeded or StepStatus.Skipped) ? StepStatus.Succeeded : StepStatus.Running,
        }).ToList();
    }

    /// <summary>From the start of <paramref name="first"/> to the end of <paramref name="last"/>; the sum of the steps between when a start is missing.</summary>
    private static TimeSpan Span(List<UpgradeStepResult> steps, UpgradeStepResult first, UpgradeStepResult last)
    {
        if (first.Started is { } start && last.Started is { } end) return end + last.Duration - start;
        var from = steps.IndexOf(first);
        return steps.Skip(from).Take(steps.IndexOf(last) - from + 1).Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Duration);
    }

    private static bool Named(UpgradeStepResult step, string name) =>
        step.Name.Equals(name, StringComparison.OrdinalIgnoreCase) || step.Name.EndsWith(" " + name, StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"^(\S+)→(\S+) ")]
    private static partial Regex HopPrefix();
}

using System.Globalization;

namespace UpgradeOps.Hosting;

/// <summary>A duration as reports and checks say it: "4.2 s", "3 min 05 s", "1 h 02 min".</summary>
public static class DurationText
{
    public static string Of(TimeSpan span) =>
        span.TotalSeconds < 60 ? span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"
        : span.TotalHours < 1 ? $"{(int)span.TotalMinutes} min {span.Seconds:00} s"
        : $"{(int)span.TotalHours} h {span.Minutes:00} min";
}

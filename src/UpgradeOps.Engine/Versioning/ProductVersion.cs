using Semver;
using UpgradeOps.Hosting;

namespace UpgradeOps.Versioning;

/// <summary>
/// A product version: a semantic version, accepted with or without a leading "v".
/// Wraps the Semver library so the rest of the engine never parses versions by hand.
/// </summary>
public sealed class ProductVersion : IComparable<ProductVersion>, IEquatable<ProductVersion>
{
    private readonly SemVersion _version;

    private ProductVersion(SemVersion version) => _version = version;

    public int Major => (int)_version.Major;
    public int Minor => (int)_version.Minor;
    public int Patch => (int)_version.Patch;
    public bool IsPrerelease => _version.IsPrerelease;

    /// <summary>
    /// Parses "1.7.6" or "v1.7.6"; "1.7", "latest", "1..2", a part above <see cref="int.MaxValue"/> or digits other than 0-9
    /// throw <see cref="InvalidVersionException"/>.
    /// </summary>
    public static ProductVersion Parse(string? text)
    {
        if (TryRead(text, out var version, out var problem)) return version!;
        throw new InvalidVersionException(text ?? string.Empty, problem);
    }

    public static bool TryParse(string? text, out ProductVersion? version) => TryRead(text, out version, out _);

    private static bool TryRead(string? text, out ProductVersion? version, out string? problem)
    {
        version = null;
        problem = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var trimmed = text.Trim();
        if (!SemVersion.TryParse(trimmed, SemVersionStyles.AllowV, out var parsed))
        {
            if (trimmed.Any(c => char.IsDigit(c) && !char.IsAsciiDigit(c))) problem = "a version is written with the digits 0-9";
            return false;
        }
        // Semver reads numbers of any size; the planner works in Int32 (Major, Minor, Patch), as every real product does.
        foreach (var (part, number) in new[] { ("major", parsed.Major), ("minor", parsed.Minor), ("patch", parsed.Patch) })
        {
            if (number <= int.MaxValue) continue;
            problem = $"its {part} number {number} is larger than {int.MaxValue}, the largest a version part can be";
            return false;
        }
        version = new ProductVersion(parsed);
        return true;
    }

    /// <summary>True when both versions share major and minor.</summary>
    public bool SameMinor(ProductVersion other) => Major == other.Major && Minor == other.Minor;

    /// <summary>True when the version is in the range.</summary>
    public bool Satisfies(VersionRange range) => range.Contains(_version);

    public int CompareTo(ProductVersion? other) =>
        other is null ? 1 : _version.ComparePrecedenceTo(other._version);

    public bool Equals(ProductVersion? other) => other is not null && CompareTo(other) == 0;
    public override bool Equals(object? obj) => obj is ProductVersion other && Equals(other);
    // Equal versions hash alike: precedence ignores build metadata (1.7.6+build.1 equals 1.7.6+build.2), so the hash does too.
    public override int GetHashCode() => SemVersion.PrecedenceComparer.GetHashCode(_version);
    public override string ToString() => _version.ToString();

    public static bool operator <(ProductVersion a, ProductVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(ProductVersion a, ProductVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(ProductVersion a, ProductVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ProductVersion a, ProductVersion b) => a.CompareTo(b) >= 0;
}

/// <summary>
/// A range of versions in the syntax helm's --version and Chart.yaml dependencies accept (npm style, as in the Masterminds
/// library): "&gt;=1.6.4 &lt;=2.0.0", "1.7.x", "^1.6.0", "~1.7.0", "1.6.4 - 2.0.0", alternatives joined by "||"; a comma is
/// read as a space (both mean "and"). Pre-releases are in a range only when it names one of their version.
/// </summary>
public sealed class VersionRange
{
    private readonly SemVersionRange _range;
    private readonly string _text;

    private VersionRange(SemVersionRange range, string text) => (_range, _text) = (range, text);

    public static bool TryParse(string? text, out VersionRange? range)
    {
        range = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        if (!SemVersionRange.TryParseNpm(text.Replace(',', ' ').Trim(), out var parsed)) return false;
        range = new VersionRange(parsed, text.Trim());
        return true;
    }

    internal bool Contains(SemVersion version) => _range.Contains(version);

    public override string ToString() => _text;
}

/// <summary>A text that is not a full semantic version (ErrorId InvalidVersion); the text is the target as given, escaped in the message.</summary>
public sealed class InvalidVersionException : UpgradeOpsException
{
    public InvalidVersionException(string text, string? problem = null)
        : base("InvalidVersion", ErrorKind.InvalidArgument, text,
            $"'{UserText.Shown(text)}' is not a version: {(problem is null ? "" : problem + ". ")}" +
            $"{(problem is null ? "give" : "Give")} a full semantic version such as 1.7.6 (a leading 'v' is allowed; '1.7' and 'latest' are not).")
    {
    }
}

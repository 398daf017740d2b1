using UpgradeOps.Hosting;
using UpgradeOps.Versioning;

namespace UpgradeOps.ReleaseNotes;

/// <summary>The notes of one released version.</summary>
public sealed class ReleaseEntry
{
    public required ProductVersion Version { get; init; }
    public DateTime? Date { get; init; }

    /// <summary>
    /// True when the version carries a pre-release suffix, or when GitHub flags the release as a
    /// pre-release even though its tag looks stable.
    /// </summary>
    public bool IsPrerelease { get; init; }

    /// <summary>The entries in the order the source lists them.</summary>
    public required IReadOnlyList<ReleaseNote> Notes { get; init; }

    public override string ToString() => $"{Version} ({Notes.Count} notes)";
}

/// <summary>Release notes of many versions, as read from one changelog or release feed.</summary>
public sealed class ReleaseNoteDocument
{
    public ReleaseNoteDocument(IEnumerable<ReleaseEntry> releases, string? source = null)
    {
        Releases = releases.ToList();
        Source = source;
    }

    /// <summary>The releases in source order (newest first in every common format).</summary>
    public IReadOnlyList<ReleaseEntry> Releases { get; }

    /// <summary>The file or URL the document was read from.</summary>
    public string? Source { get; }

    /// <summary>Every version the document has notes for, in source order.</summary>
    public IReadOnlyList<ProductVersion> Versions => Releases.Select(release => release.Version).ToList();

    /// <summary>
    /// The notes an upgrade from <paramref name="fromExclusive"/> to <paramref name="toInclusive"/> crosses:
    /// releases with from &lt; version &lt;= to (no lower bound when from is null), oldest release first,
    /// each release's entries in source order. A null or empty category filter keeps every category.
    /// </summary>
    public IReadOnlyList<ReleaseNote> Between(
        ProductVersion? fromExclusive,
        ProductVersion toInclusive,
        IReadOnlyCollection<ReleaseNoteCategory>? categories = null)
    {
        ArgumentNullException.ThrowIfNull(toInclusive);
        var filter = categories is { Count: > 0 } ? categories.ToHashSet() : null;

        return Releases
            .Where(release => (fromExclusive is null || release.Version > fromExclusive) && release.Version <= toInclusive)
            .OrderBy(release => release.Version) // OrderBy is stable: releases of equal version keep source order
            .SelectMany(release => release.Notes)
            .Where(note => filter is null || filter.Contains(note.Category))
            .ToList();
    }
    /// <summary>
    /// Get-UpgradeReleaseNote's answer for -From (exclusive) and -To (inclusive), as given: the notes, and a warning for every
    /// reason the answer is emptier than the reader may think (the same version twice, a range the document does not cover).
    /// Without -To the range ends at the newest release. A -From newer than -To is ReleaseNoteRangeReversed.
    /// </summary>
    public ReleaseNoteSelection Select(string? from, string? to, IReadOnlyCollection<ReleaseNoteCategory>? categories = null)
    {
        var fromVersion = string.IsNullOrEmpty(from) ? null : ProductVersion.Parse(from);
        var toVersion = string.IsNullOrEmpty(to) ? null : ProductVersion.Parse(to);
        if (fromVersion is not null && toVersion is not null && fromVersion > toVersion)
            throw new UpgradeOpsException("ReleaseNoteRangeReversed", ErrorKind.InvalidArgument, from,
                $"-From {fromVersion} is newer than -To {toVersion}: the notes listed are those after the running version (-From) up to the target (-To), " +
                $"so this range holds none. Give the older version as -From and the newer as -To (swap them); a downgrade crosses no release notes: " +
                "to go back, restore a backup taken before the upgrade.");
        if (fromVersion is not null && toVersion is not null && fromVersion.Equals(toVersion))
            return new ReleaseNoteSelection([], [$"-From and -To are the same version ({toVersion}): staying on {toVersion} crosses no release notes, so none are listed. " +
                "To list what an upgrade crosses, give the running version as -From and the target as -To."], $"No release between {toVersion} and {toVersion}.");

        var newest = Releases.Select(r => r.Version).DefaultIfEmpty(fromVersion).Max();
        var upTo = toVersion ?? (fromVersion is not null && newest is not null && fromVersion > newest ? fromVersion : newest);
        if (upTo is null)
            return new ReleaseNoteSelection([], [$"{Described(capitalize: true)} hold no release, so there are no notes to list. Give the product's CHANGELOG.md, or its GitHub releases JSON."], "No releases.");

        var all = Between(fromVersion, upTo);
        var notes = Between(fromVersion, upTo, categories);
        var range = fromVersion is null ? $"up to {upTo}" : $"after {fromVersion} up to {upTo}";
        var detail = $"{all.Count} entries {range} in {Described()}" +
                     (categories is { Count: > 0 } ? $"; {(notes.Count == 0 ? "none" : notes.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))} of the categories {string.Join(", ", categories)}." : ".");
        return new ReleaseNoteSelection(notes, CoverageWarnings(fromVersion, upTo), detail);
    }

    /// <summary>
    /// What the document does not cover of an upgrade from <paramref name="fromExclusive"/> to <paramref name="toInclusive"/>:
    /// a range wholly before or after its releases (so no notes were found, which is not "no breaking changes"), or one
    /// that runs past its newest or before its oldest release. Each warning names the first and last version it has.
    /// </summary>
    public IReadOnlyList<string> CoverageWarnings(ProductVersion? fromExclusive, ProductVersion toInclusive)
    {
        ArgumentNullException.ThrowIfNull(toInclusive);
        if (Releases.Count == 0)
            return [$"{Described(capitalize: true)} hold no release, so none of the notes up to {toInclusive} are listed. Give the product's CHANGELOG.md, or its GitHub releases JSON."];
        var oldest = Releases.Min(r => r.Version)!;
        var newest = Releases.Max(r => r.Version)!;
        var covers = $"{Described(capitalize: true)} cover {oldest} to {newest}";
        var giveNewer = $"Give release notes that cover {toInclusive} (a newer CHANGELOG.md, or the GitHub releases URL).";

        if (fromExclusive is not null && fromExclusive >= newest)
            return [$"{covers}: none is newer than {fromExclusive}, so no notes were found after it. {giveNewer}"];
        if (fromExclusive is not null && fromExclusive >= toInclusive) return [];
        if (toInclusive < oldest)
            return [$"{covers}: {(fromExclusive is null ? $"up to {toInclusive}" : $"{fromExclusive} → {toInclusive}")} ends before the oldest of them, " +
                    $"so no notes were found for it. Give release notes that go back to {toInclusive} (an older CHANGELOG.md, or the GitHub releases URL)."];

        var warnings = new List<string>();
        if (fromExclusive is not null && fromExclusive < oldest)
            warnings.Add($"{covers}: nothing in them is older than {oldest}, so the notes of the versions after {fromExclusive} and before {oldest}, if any, " +
                         "are not listed. Give the product's complete CHANGELOG.md to see them.");
        if (toInclusive > newest)
            warnings.Add($"{covers}: the versions after {newest} up to {toInclusive} are not covered, so their breaking changes, migrations and " +
                         $"configuration changes are not listed. {giveNewer}");
        return warnings;
    }

    private string Described(bool capitalize = false) =>
        Source is null ? (capitalize ? "The release notes" : "the release notes") : $"{(capitalize ? "The" : "the")} release notes in '{UserText.Shown(Source)}'";
}

/// <summary>The notes of a range, the warnings that explain an emptier answer than expected, and a one-line account for -Verbose.</summary>
public sealed record ReleaseNoteSelection(IReadOnlyList<ReleaseNote> Notes, IReadOnlyList<string> Warnings, string Detail);

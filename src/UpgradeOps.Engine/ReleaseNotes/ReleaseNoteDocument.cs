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
}

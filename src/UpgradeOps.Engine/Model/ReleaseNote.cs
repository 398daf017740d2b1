namespace UpgradeOps;

/// <summary>The kind of a release-note entry, as an admin reviewing an upgrade needs it.</summary>
public enum ReleaseNoteCategory
{
    BreakingChange,
    DatabaseMigration,
    ConfigurationChange,
    Deprecation,
    KnownIssue,
    Security,
    Feature,
    Fix,
    Other,
}

/// <summary>One entry of the release notes of one version.</summary>
public sealed class ReleaseNote
{
    public required string Version { get; init; }
    public DateTime? ReleaseDate { get; init; }
    public required ReleaseNoteCategory Category { get; init; }
    /// <summary>The heading the entry stood under in the source ("Fixed", "Added", ...).</summary>
    public string? Section { get; init; }
    /// <summary>The first line of the entry, as plain text.</summary>
    public required string Title { get; init; }
    /// <summary>The whole entry as plain text (continuation lines and nested bullets included).</summary>
    public required string Text { get; init; }
    /// <summary>Issue or pull-request references found in the entry (e.g. "#4438").</summary>
    public IReadOnlyList<string> References { get; init; } = Array.Empty<string>();
    /// <summary>The file or URL the notes came from.</summary>
    public string? Source { get; init; }

    public override string ToString() => $"{Version} {Category}: {Title}";
}

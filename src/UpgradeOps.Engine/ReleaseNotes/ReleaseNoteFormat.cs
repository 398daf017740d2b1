namespace UpgradeOps.ReleaseNotes;

/// <summary>How release-note text is laid out.</summary>
public enum ReleaseNoteFormat
{
    /// <summary>JSON when the text starts with '[' or '{', otherwise a changelog.</summary>
    Auto,

    /// <summary>A Keep a Changelog or towncrier CHANGELOG.md.</summary>
    Changelog,

    /// <summary>The JSON of GitHub's "list releases" REST API.</summary>
    GitHubReleases,
}

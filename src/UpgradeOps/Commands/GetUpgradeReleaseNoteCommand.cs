using System.Management.Automation;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Hosting;
using UpgradeOps.ReleaseNotes;
using UpgradeOps.Commands.Completion;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Lists the release-note entries an upgrade crosses, classified for review.</para>
/// <para type="description">Get-UpgradeReleaseNote reads release notes from a Keep a Changelog or towncrier CHANGELOG.md, or
/// from a GitHub releases JSON document, and returns one UpgradeOps.ReleaseNote per entry of every version after -From up
/// to and including -To. Each entry has a Category: BreakingChange, DatabaseMigration, ConfigurationChange, Deprecation,
/// KnownIssue, Security, Feature, Fix or Other. The section heading gives the first guess and the entry's text
/// overrides it, so a "BREAKING CHANGE:" line inside a "Fixed" entry is a BreakingChange, and so is an entry that asks the
/// admin to act by hand ("you will need to manually delete the queue"); a "Removed" entry about the documentation only is not.</para>
/// <para type="description">Review every BreakingChange, DatabaseMigration and ConfigurationChange entry before an
/// upgrade. The command reads only; the network is used only when -Uri is given.</para>
/// <para type="description">An empty answer is never silent when the notes cannot answer: a warning names the first and last
/// version the notes cover when the range lies outside them (or runs past them), and says when -From and -To are the same
/// version. A -From newer than -To is the error ReleaseNoteRangeReversed. Release notes larger than 8 MB are refused
/// (ReleaseNotesTooLarge), an empty or binary file is InvalidReleaseNotes.</para>
/// </summary>
/// <example>
/// <code>Get-UpgradeReleaseNote -Path ./CHANGELOG.md -From 1.5.2 -To 1.7.6 -Category BreakingChange,DatabaseMigration</code>
/// <para>Lists the breaking changes and database migrations between 1.5.2 (excluded) and 1.7.6 (included).</para>
/// </example>
/// <example>
/// <code>Test-UpgradePath -From 1.5.2 -To 1.7.6 -ReleaseNotePath ./CHANGELOG.md | Get-UpgradeReleaseNote -Path ./CHANGELOG.md | Group-Object Category</code>
/// <para>Takes From and To from the upgrade path in the pipeline and counts the entries of each category.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeReleaseNote -Uri https://api.github.com/repos/opsmill/infrahub/releases -To 1.7.6 -From 1.7.0</code>
/// <para>Reads the GitHub releases of the project over the network and lists the notes of 1.7.1 to 1.7.6.</para>
/// </example>
/// <returns>One UpgradeOps.ReleaseNote per entry: Version, ReleaseDate, Category, Section, Title, Text, References, Source.</returns>
/// <seealso cref="TestUpgradePathCommand"/>
/// <seealso href="about_UpgradeOps">about_UpgradeOps</seealso>
[Cmdlet(VerbsCommon.Get, "UpgradeReleaseNote", DefaultParameterSetName = PathSet)]
[OutputType(typeof(ReleaseNote))]
public sealed class GetUpgradeReleaseNoteCommand : EngineCmdlet
{
    private const string PathSet = "Path";
    private const string UriSet = "Uri";
    private ReleaseNoteDocument? _document;

    /// <summary>
    /// <para type="description">The CHANGELOG.md or GitHub releases JSON file to read.</para>
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [Alias("ReleaseNotePath")]
    public string Path { get; set; } = "";

    /// <summary>
    /// <para type="description">The URL of a raw CHANGELOG.md or of the GitHub releases API to read.</para>
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = UriSet)]
    [Alias("ReleaseNoteUri")]
    public Uri? Uri { get; set; }

    /// <summary>
    /// <para type="description">Changelog, GitHubReleases, or Auto (the default: JSON when the document starts with '[', else a changelog).</para>
    /// <para type="default">Auto</para>
    /// </summary>
    [Parameter]
    public ReleaseNoteFormat Format
    {
        get => (ReleaseNoteFormat)_format;
        set => _format = (int)value;
    }

    // Kept as its number: a field of the engine's enum type made Import-Module load the engine (to lay the field out while
    // listing the module's cmdlets), and nothing else there needs it; the engine now loads when a cmdlet first runs.
    private int _format = (int)ReleaseNoteFormat.Auto;

    /// <summary>
    /// <para type="description">The version running now: its own notes are not listed (exclusive bound). Omit it to list every version up to -To. Binds from the From or Version property of piped objects.</para>
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Version")]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string? From { get; set; }

    /// <summary>
    /// <para type="description">The version to upgrade to: its notes are listed (inclusive bound). Omit it to list up to the newest version in the notes.</para>
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string? To { get; set; }

    /// <summary>
    /// <para type="description">Only entries of these categories (BreakingChange, DatabaseMigration, ConfigurationChange, Deprecation, KnownIssue, Security, Feature, Fix, Other).</para>
    /// </summary>
    [Parameter]
    public ReleaseNoteCategory[] Category { get; set; } = Array.Empty<ReleaseNoteCategory>();

    protected override void BeginProcessing() =>
        _document = ParameterSetName == UriSet ? LoadReleaseNotes(null, Uri, Format) : LoadReleaseNotes(Path, format: Format);

    protected override void ProcessRecord() => RunOrWriteError(() =>
    {
        var selection = _document!.Select(From, To, Category);
        foreach (var warning in selection.Warnings) WriteWarning(warning);
        WriteVerbose(selection.Detail);
        WriteObject(selection.Notes, enumerateCollection: true);
    });
}

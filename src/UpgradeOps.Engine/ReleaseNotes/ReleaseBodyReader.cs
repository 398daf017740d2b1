using Markdig.Syntax;
using UpgradeOps.Versioning;

namespace UpgradeOps.ReleaseNotes;

/// <summary>
/// Turns the Markdown blocks of one release into entries. Every heading among the blocks opens a
/// section (deeper headings nest inside shallower ones); every top-level list item is one entry;
/// a run of other blocks (paragraphs, code, quotes) between headings and lists is one entry too,
/// so the prose above the first section of a release is kept, with no section.
/// </summary>
internal sealed class ReleaseBodyReader
{
    private readonly ProductVersion _version;
    private readonly DateTime? _date;
    private readonly string? _source;
    private readonly List<(int Level, string Title)> _sections = [];
    private readonly List<Block> _looseBlocks = [];
    private readonly List<ReleaseNote> _notes = [];

    private ReleaseBodyReader(ProductVersion version, DateTime? date, string? source)
    {
        _version = version;
        _date = date;
        _source = source;
    }

    public static IReadOnlyList<ReleaseNote> Read(IEnumerable<Block> blocks, ProductVersion version, DateTime? date, string? source)
    {
        var reader = new ReleaseBodyReader(version, date, source);
        foreach (var block in blocks) reader.Add(block);
        reader.FlushLooseBlocks();
        return reader._notes;
    }

    private void Add(Block block)
    {
        switch (block)
        {
            case HeadingBlock heading:
                FlushLooseBlocks();
                OpenSection(heading);
                break;
            case ListBlock list:
                FlushLooseBlocks();
                foreach (var item in list.OfType<ListItemBlock>()) AddNote([item]);
                break;
            case HtmlBlock or LinkReferenceDefinitionGroup:
                break; // comments and link definitions are not notes
            case ThematicBreakBlock:
                FlushLooseBlocks();
                break;
            default:
                _looseBlocks.Add(block);
                break;
        }
    }

    private void OpenSection(HeadingBlock heading)
    {
        while (_sections.Count > 0 && _sections[^1].Level >= heading.Level) _sections.RemoveAt(_sections.Count - 1);
        _sections.Add((heading.Level, MarkdownPlainText.RenderInlines(heading.Inline)));
    }

    private void FlushLooseBlocks()
    {
        if (_looseBlocks.Count == 0) return;
        AddNote(_looseBlocks.ToList());
        _looseBlocks.Clear();
    }

    private void AddNote(IReadOnlyList<Block> blocks)
    {
        var section = _sections.Count > 0 ? _sections[^1].Title : null;
        if (_sections.Any(open => ReleaseNoteRules.IsIgnoredSection(open.Title))) return;

        var text = MarkdownPlainText.Render(blocks);
        if (text.Length == 0 || ReleaseNoteRules.IsIgnoredText(text)) return;

        _notes.Add(new ReleaseNote
        {
            Version = _version.ToString(),
            ReleaseDate = _date,
            Category = ReleaseNoteRules.Classify(SectionCategory(text), text),
            Section = section,
            Title = MarkdownPlainText.Title(blocks, text),
            Text = text,
            References = ReleaseNoteRules.FindReferences(text),
            Source = _source,
        });
    }

    /// <summary>
    /// The innermost section heading that names a category ("### Breaking changes" under "## What's Changed"),
    /// so a sub-heading such as "#### API" keeps the category of the section it belongs to.
    /// </summary>
    private ReleaseNoteCategory? SectionCategory(string text)
    {
        for (var i = _sections.Count - 1; i >= 0; i--)
            if (ReleaseNoteRules.CategoryOfSection(_sections[i].Title, text) is { } category) return category;
        return null;
    }
}

using System.Text;
using System.Text.RegularExpressions;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace UpgradeOps.ReleaseNotes;

/// <summary>
/// Renders Markdig blocks as the plain text an admin reads in a console: links keep their text,
/// code keeps its lines, nested lists keep a "- " marker and their indentation, and blocks are
/// separated by a blank line. Soft line breaks stay line breaks so line-based rules still see them.
/// </summary>
internal static class MarkdownPlainText
{
    private static readonly Regex TrailingSpaces = new(@"[ \t]+$", RegexOptions.Multiline | RegexOptions.Compiled);
    private static readonly Regex ExtraBlankLines = new(@"\n{3,}", RegexOptions.Compiled);
    private static readonly Regex Whitespace = new(@"\s+", RegexOptions.Compiled);

    public static string Render(IEnumerable<Block> blocks) => Tidy(JoinBlocks(blocks));

    public static string RenderInlines(ContainerInline? inlines)
    {
        var text = new StringBuilder();
        if (inlines is not null) AppendInline(text, inlines);
        return Tidy(text.ToString()).Trim();
    }

    /// <summary>The first paragraph, on one line; the first line of the text when there is no paragraph.</summary>
    public static string Title(IReadOnlyList<Block> blocks, string renderedText)
    {
        var firstParagraph = blocks.SelectMany(ParagraphsOf).FirstOrDefault();
        var title = firstParagraph is null ? null : Whitespace.Replace(RenderInlines(firstParagraph.Inline), " ").Trim();

        return string.IsNullOrEmpty(title)
            ? renderedText.Split('\n').FirstOrDefault(line => line.Trim().Length > 0)?.Trim() ?? string.Empty
            : title;
    }

    private static IEnumerable<ParagraphBlock> ParagraphsOf(Block block) => block switch
    {
        ParagraphBlock paragraph => [paragraph],
        ContainerBlock container => container.Descendants<ParagraphBlock>(),
        _ => [],
    };

    private static string JoinBlocks(IEnumerable<Block> blocks, string separator = "\n\n") =>
        string.Join(separator, blocks.Select(RenderBlock).Where(text => text.Trim().Length > 0));

    private static string RenderBlock(Block block) => block switch
    {
        // Comments, rules and link definitions carry no text of their own.
        HtmlBlock or ThematicBreakBlock or LinkReferenceDefinitionGroup or LinkReferenceDefinition => string.Empty,
        HeadingBlock heading => RenderInlines(heading.Inline),
        ParagraphBlock paragraph => RenderInlines(paragraph.Inline),
        CodeBlock code => code.Lines.ToString(),
        ListBlock list => RenderList(list),
        ListItemBlock item => RenderListItem(item),
        ContainerBlock container => JoinBlocks(container),
        LeafBlock leaf => leaf.Lines.ToString(),
        _ => string.Empty,
    };

    private static string RenderList(ListBlock list)
    {
        var lines = new List<string>();
        foreach (var item in list.OfType<ListItemBlock>())
        {
            var marker = list.IsOrdered ? $"{item.Order}{list.OrderedDelimiter} " : "- ";
            var indent = new string(' ', marker.Length);
            var itemLines = RenderListItem(item).Split('\n');
            for (var i = 0; i < itemLines.Length; i++)
                lines.Add(i == 0 ? marker + itemLines[i] : itemLines[i].Length == 0 ? string.Empty : indent + itemLines[i]);
        }

        return string.Join('\n', lines);
    }

    /// <summary>Items of a tight list keep their blocks on consecutive lines, as the source wrote them.</summary>
    private static string RenderListItem(ListItemBlock item) =>
        JoinBlocks(item, item.Parent is ListBlock { IsLoose: false } ? "\n" : "\n\n");

    private static void AppendInline(StringBuilder text, Inline inline)
    {
        switch (inline)
        {
            case LiteralInline literal:
                text.Append(literal.Content.ToString());
                break;
            case CodeInline code:
                text.Append(code.Content);
                break;
            case AutolinkInline autolink:
                text.Append(autolink.Url);
                break;
            case LineBreakInline:
                text.Append('\n');
                break;
            case HtmlEntityInline entity:
                text.Append(entity.Transcoded.ToString());
                break;
            case HtmlInline:
                break; // tags such as <br> or <!-- --> carry no text
            case DelimiterInline delimiter:
                // Delimiters that matched nothing stay literal text ("[Unreleased]" without a link definition).
                text.Append(delimiter.ToLiteral());
                foreach (var child in delimiter) AppendInline(text, child);
                break;
            case ContainerInline container:
                // Links and emphasis: only the text inside counts, the URL is dropped.
                foreach (var child in container) AppendInline(text, child);
                break;
        }
    }

    private static string Tidy(string text) =>
        ExtraBlankLines.Replace(TrailingSpaces.Replace(text.Replace("\r\n", "\n"), string.Empty), "\n\n").Trim('\n');
}

using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace UpgradeOps.Hosting;

/// <summary>
/// YAML from the user's files (compose files, Helm values files) loaded into nodes safely, and its errors placed at
/// file:line:column. YamlDotNet builds nodes recursively, so a file nested a hundred thousand levels deep would overflow
/// the stack and end the PowerShell process: nesting is limited while the parser's events are read.
/// </summary>
internal static partial class SafeYaml
{
    public const int MaxDepth = 256;

    /// <summary>The documents of <paramref name="text"/>; a <see cref="YamlException"/> when it is not YAML or is nested too deep.</summary>
    public static YamlStream Load(string text)
    {
        var stream = new YamlStream();
        stream.Load(new DepthLimitedParser(new Parser(new StringReader(text))));
        return stream;
    }

    /// <summary>
    /// "path:line:column: reason" for a YAML error. YamlDotNet gives no position for some errors (a tab in the
    /// indentation, an alias to an anchor that does not exist): those are found in the text; else only the path.
    /// </summary>
    public static string Describe(string path, string text, YamlException ex)
    {
        var reason = Reason(ex);
        var at = !ex.Start.Equals(Mark.Empty) ? (ex.Start.Line, ex.Start.Column) : Locate(text, ex);
        return $"{Where(path, at)}: {reason}";
    }

    /// <summary>"path:line:column", or the path alone when the position is not known.</summary>
    public static string Where(string path, (long Line, long Column)? at) =>
        at is { } position ? $"{LocalFile.Shown(path)}:{position.Line}:{position.Column}" : LocalFile.Shown(path);

    /// <summary>The error's own words, without YamlDotNet's trailing period (the caller's sentence follows).</summary>
    public static string Reason(YamlException ex) => LocalFile.Shown((ex.InnerException as YamlException ?? ex).Message.Trim().TrimEnd('.'));

    private static (long Line, long Column)? Locate(string text, YamlException ex)
    {
        var error = ex.InnerException as YamlException ?? ex;
        if (error is AnchorNotFoundException && AnchorName().Match(error.Message) is { Success: true } anchor)
        {
            var alias = Regex.Match(text, $@"\*{Regex.Escape(anchor.Groups["name"].Value)}(?![^\s,\[\]{{}}])");
            return alias.Success ? Position(text, alias.Index) : null;
        }
        if (error.Message.Contains("tab", StringComparison.OrdinalIgnoreCase) && LeadingTab().Match(text) is { Success: true } tab)
            return Position(text, tab.Groups["tab"].Index);
        return null;
    }

    private static (long Line, long Column) Position(string text, int index)
    {
        var lineStart = index == 0 ? 0 : text.LastIndexOf('\n', index - 1) + 1;
        return (text.AsSpan(0, index).Count('\n') + 1, index - lineStart + 1);
    }

    [GeneratedRegex(@"anchor '(?<name>[^']+)'")]
    private static partial Regex AnchorName();

    [GeneratedRegex(@"^[ ]*(?<tab>\t)", RegexOptions.Multiline)]
    private static partial Regex LeadingTab();

    private sealed class DepthLimitedParser(IParser inner) : IParser
    {
        private int _depth;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (!inner.MoveNext()) return false;
            switch (inner.Current)
            {
                case MappingStart or SequenceStart when ++_depth > MaxDepth:
                    throw new YamlException(inner.Current.Start, inner.Current.End,
                        $"it is nested more than {MaxDepth} levels deep, deeper than any real file");
                case MappingEnd or SequenceEnd:
                    _depth--;
                    break;
            }
            return true;
        }
    }
}

using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace UpgradeOps.Kubernetes;

/// <summary>
/// Edits a Helm values file as text: adds a key (creating its parent maps), replaces a scalar, or moves a key with its
/// value, comments and nested lines to another place. YamlDotNet's parser says where each node starts and ends; only
/// those characters change, so comments, blank lines, key order, quoting and indentation of everything else stay as
/// they were (a load and re-serialise would lose them). Flow-style maps ({a: 1}) are not edited: they are refused.
/// </summary>
public static partial class YamlValuesEditor
{
    /// <summary>The value written after a key: the rest of the key's line, and the lines nested under it (relative indentation).</summary>
    private sealed record Fragment(string Inline, IReadOnlyList<string> Block, IReadOnlyList<string> LeadingComments);

    private sealed record Entry(YamlScalarNode Key, YamlNode Value, YamlMappingNode Parent);

    /// <summary>The scalar at a dotted key, or null when it is missing, empty or not a scalar.</summary>
    public static string? GetScalar(string text, string dottedKey) =>
        Find(Parse(text), dottedKey) is { Value: YamlScalarNode { Value: { Length: > 0 } value } } ? value : null;

    /// <summary>Whether a dotted key holds something: a non-empty scalar, a map or a list.</summary>
    public static bool IsSet(string text, string dottedKey) => Find(Parse(text), dottedKey) is { } entry && !IsNull(entry.Value);

    /// <summary>Sets a dotted key to a scalar: replaces its value, or adds it with the parent maps it needs.</summary>
    public static string Set(string text, string dottedKey, string value, bool quote = false)
    {
        var scalar = FormatScalar(value, quote);
        var root = Parse(text);
        if (Find(root, dottedKey) is { } entry && !IsNull(entry.Value))
            return entry.Value is YamlScalarNode existing
                ? text[..(int)existing.Start.Index] + scalar + text[(int)existing.End.Index..]
                : throw NotEditable(dottedKey, "it holds a map or a list, not a single value");
        return Insert(text, root, dottedKey, new Fragment(scalar, [], []));
    }

    /// <summary>
    /// Moves a dotted key (with its value, the comment lines just above it and anything nested) to another dotted key.
    /// Nothing changes when the old key is missing or the new one is already set. A parent map left empty is removed
    /// too, because an empty map in a values file would erase the chart's defaults for it.
    /// </summary>
    public static string Move(string text, string fromKey, string toKey)
    {
        var root = Parse(text);
        if (Find(root, fromKey) is not { } entry || IsSet(text, toKey)) return text;
        var nl = NewLine(text);
        var keyLine = LineStart(text, (int)entry.Key.Start.Index);
        var colon = text.IndexOf(':', (int)entry.Key.End.Index);
        var afterKeyLine = LineEndAfter(text, colon);
        var end = LineEndAfter(text, EffectiveEnd(entry));
        var inline = text[(colon + 1)..afterKeyLine].TrimEnd('\r', '\n').Trim();
        var block = Dedent(SplitLines(text[afterKeyLine..end]));
        var commentStart = keyLine;
        var indent = (int)entry.Key.Start.Column - 1;
        while (commentStart > 0 && LineStart(text, commentStart - 1) is var previous &&
               CommentLine().Match(text[previous..commentStart]) is { Success: true } m && m.Groups["indent"].Length == indent)
            commentStart = previous;
        var comments = SplitLines(text[commentStart..keyLine]).Select(l => l.TrimStart()).ToList();

        // Remove the entry, or the highest ancestor that holds nothing else.
        var removeFrom = commentStart;
        var parts = fromKey.Split('.');
        for (var depth = parts.Length - 1; depth > 0; depth--)
        {
            var ancestor = Find(root, string.Join('.', parts[..depth]))!;
            if (((YamlMappingNode)ancestor.Value).Children.Count != 1) break;
            removeFrom = LineStart(text, (int)ancestor.Key.Start.Index);
        }
        var removed = text[..removeFrom] + text[end..];
        return Insert(removed, Parse(removed), toKey, new Fragment(inline, block, comments), nl);
    }

    private static YamlMappingNode? Parse(string text)
    {
        YamlStream stream;
        try
        {
            stream = Hosting.SafeYaml.Load(text);
        }
        catch (YamlException ex)
        {
            throw new UpgradeOpsException("ValuesFileUnreadable", ErrorKind.InvalidData, null,
                $"The values file is not valid YAML ({ex.Start}): {ex.Message} Correct it, then run again.", ex);
        }
        return stream.Documents.FirstOrDefault()?.RootNode switch
        {
            null => null,
            YamlMappingNode { Style: MappingStyle.Flow } => throw NotEditable("(root)", "its top level is a flow map ({...})"),
            YamlMappingNode map => map,
            YamlScalarNode scalar when IsNull(scalar) => null,
            _ => throw NotEditable("(root)", "its top level is not a map of keys"),
        };
    }

    private static Entry? Find(YamlMappingNode? root, string dottedKey)
    {
        Entry? found = null;
        YamlNode? node = root;
        foreach (var part in dottedKey.Split('.'))
        {
            if (node is not YamlMappingNode map) return null;
            var pair = map.Children.FirstOrDefault(p => p.Key is YamlScalarNode k && k.Value == part);
            if (pair.Key is null) return null;
            found = new Entry((YamlScalarNode)pair.Key, pair.Value, map);
            node = pair.Value;
        }
        return found;
    }

    private static bool IsNull(YamlNode node) => node switch
    {
        YamlScalarNode s => s.Style is ScalarStyle.Plain or ScalarStyle.Any && (string.IsNullOrEmpty(s.Value) || s.Value is "~" or "null" or "Null" or "NULL"),
        YamlMappingNode m => m.Children.Count == 0,
        _ => false,
    };

    /// <summary>Adds the missing part of a dotted key under the deepest map that exists (or fills the empty key it ends on).</summary>
    private static string Insert(string text, YamlMappingNode? root, string dottedKey, Fragment fragment, string? nl = null)
    {
        nl ??= NewLine(text);
        var parts = dottedKey.Split('.');
        var step = IndentStep(root);
        if (root is null || root.Children.Count == 0)
        {
            // An empty document (nothing, comments, "~" or "{}"): its comments stay, the new map follows them.
            var kept = string.Concat(SplitLines(text).Where(l => l.TrimStart().StartsWith('#') || l.Trim().Length == 0).Select(l => l + nl));
            return kept + Lines(parts, 0, step, fragment, nl);
        }
        var map = root;
        for (var i = 0; i < parts.Length; i++)
        {
            var entry = Find(map, parts[i]);
            if (entry is null)
            {
                if (map.Style == MappingStyle.Flow) throw NotEditable(dottedKey, $"'{string.Join('.', parts[..i])}' is a flow map ({{...}})");
                var indent = (int)map.Children.First().Key.Start.Column - 1;
                var at = LineEndAfter(text, EffectiveEnd(map));
                var lead = at == text.Length && !text.EndsWith('\n') ? nl : "";
                return text[..at] + lead + Lines(parts[i..], indent, step, fragment, nl) + text[at..];
            }
            var last = i == parts.Length - 1;
            if (IsNull(entry.Value))
                return last
                    ? ReplaceEmpty(text, entry, fragment.Inline, fragment.Block, step, nl)
                    : ReplaceEmpty(text, entry, "", SplitLines(Lines(parts[(i + 1)..], 0, step, fragment, "\n")), step, nl);
            if (last) throw NotEditable(dottedKey, "it is already set");
            map = entry.Value as YamlMappingNode ?? throw NotEditable(dottedKey, $"'{string.Join('.', parts[..(i + 1)])}' holds a value, not a map");
        }
        throw NotEditable(dottedKey, "it is already set");
    }

    /// <summary>A key whose value is empty (key:, key: ~, key: {}): the value is replaced, nested lines go below it; its comment stays.</summary>
    private static string ReplaceEmpty(string text, Entry entry, string inline, IReadOnlyList<string> nested, int step, string nl)
    {
        var colon = text.IndexOf(':', (int)entry.Key.End.Index);
        var lineEnd = LineEndAfter(text, colon);
        var comment = Regex.Match(text[(colon + 1)..lineEnd].TrimEnd('\r', '\n'), @"\s#.*$").Value;
        var pad = new string(' ', (int)entry.Key.Start.Column - 1 + step);
        var below = string.Concat(nested.Select(l => (l.Length == 0 ? "" : pad + l) + nl));
        return text[..(colon + 1)] + (inline.Length > 0 ? " " + inline : "") + comment + nl + below + text[lineEnd..];
    }

    private static string Lines(IReadOnlyList<string> parts, int indent, int step, Fragment fragment, string nl)
    {
        var text = new StringBuilder();
        for (var i = 0; i < parts.Count; i++)
        {
            var pad = new string(' ', indent + i * step);
            var key = FormatScalar(parts[i], quote: false);
            if (i < parts.Count - 1)
            {
                text.Append(pad).Append(key).Append(':').Append(nl);
                continue;
            }
            foreach (var comment in fragment.LeadingComments) text.Append(pad).Append(comment).Append(nl);
            text.Append(pad).Append(key).Append(':').Append(fragment.Inline.Length > 0 ? " " + fragment.Inline : "").Append(nl);
            foreach (var line in fragment.Block) text.Append(line.Length == 0 ? "" : pad + new string(' ', step) + line).Append(nl);
        }
        return text.ToString();
    }

    /// <summary>Where a node's own text ends: the end of its last nested value, not the blank lines and comments after it.</summary>
    private static int EffectiveEnd(Entry entry) =>
        IsNull(entry.Value) && entry.Value is YamlScalarNode ? (int)entry.Key.End.Index : EffectiveEnd(entry.Value);

    private static int EffectiveEnd(YamlNode node) => node switch
    {
        YamlMappingNode { Style: not MappingStyle.Flow, Children.Count: > 0 } map =>
            EffectiveEnd(new Entry((YamlScalarNode)map.Children.Last().Key, map.Children.Last().Value, map)),
        YamlSequenceNode { Style: not SequenceStyle.Flow, Children.Count: > 0 } list => EffectiveEnd(list.Children.Last()),
        _ => (int)node.End.Index,
    };

    /// <summary>The indentation step the file uses (the first nested map's), 2 when it has none.</summary>
    private static int IndentStep(YamlMappingNode? root)
    {
        foreach (var (key, value) in root?.Children ?? Enumerable.Empty<KeyValuePair<YamlNode, YamlNode>>())
            if (value is YamlMappingNode { Style: not MappingStyle.Flow, Children.Count: > 0 } nested &&
                nested.Children.First().Key.Start.Column - key.Start.Column is var step and > 0)
                return (int)step;
        return 2;
    }

    private static int LineStart(string text, int index) => index <= 0 ? 0 : text.LastIndexOf('\n', index - 1) + 1;

    /// <summary>The index just after the line that holds <paramref name="index"/> (or the end of the text).</summary>
    private static int LineEndAfter(string text, int index)
    {
        if (index > 0 && index <= text.Length && text[index - 1] == '\n') return index;
        var next = text.IndexOf('\n', Math.Min(index, text.Length));
        return next < 0 ? text.Length : next + 1;
    }

    private static List<string> SplitLines(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static IReadOnlyList<string> Dedent(IReadOnlyList<string> lines)
    {
        var indents = lines.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart(' ').Length).ToList();
        var common = indents.Count == 0 ? 0 : indents.Min();
        return lines.Select(l => l.Trim().Length == 0 ? "" : l[common..]).ToList();
    }

    private static string NewLine(string text) => text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";

    /// <summary>A plain scalar when YAML reads it back as the same string, double-quoted otherwise (or when asked).</summary>
    public static string FormatScalar(string value, bool quote)
    {
        if (!quote && PlainSafe().IsMatch(value) && !NotAString().IsMatch(value)) return value;
        var escaped = new StringBuilder("\"");
        foreach (var c in value)
            escaped.Append(c switch
            {
                '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t",
                < ' ' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        return escaped.Append('"').ToString();
    }

    private static UpgradeOpsException NotEditable(string key, string reason) =>
        new("ValuesFileNotEditable", ErrorKind.InvalidData, key,
            $"The values key '{key}' cannot be edited in place: {reason}. Edit the values file by hand (or write that map in block style), then run again.");

    [GeneratedRegex(@"^[A-Za-z0-9_./][A-Za-z0-9_./+:@-]*(?<!:)$")]
    private static partial Regex PlainSafe();

    /// <summary>Plain scalars YAML reads as something other than a string: booleans, null, numbers.</summary>
    [GeneratedRegex(@"^(?:true|false|yes|no|on|off|y|n|null|~|[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$", RegexOptions.IgnoreCase)]
    private static partial Regex NotAString();

    [GeneratedRegex(@"^(?<indent>[ ]*)#.*\r?\n?$")]
    private static partial Regex CommentLine();

}

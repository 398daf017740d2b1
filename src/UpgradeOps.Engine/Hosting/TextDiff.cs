using System.Text;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace UpgradeOps.Hosting;

/// <summary>A unified diff of two texts, for -WhatIf and change records (DiffPlex computes it).</summary>
public static class TextDiff
{
    public static string Unified(string path, string before, string after, int context = 2)
    {
        var lines = InlineDiffBuilder.Diff(before, after, ignoreWhiteSpace: false, ignoreCase: false).Lines;
        var changed = lines.Select((line, index) => (line, index)).Where(l => l.line.Type is ChangeType.Inserted or ChangeType.Deleted or ChangeType.Modified)
            .Select(l => l.index).ToList();
        if (changed.Count == 0) return string.Empty;

        var output = new StringBuilder();
        output.Append("--- ").Append(path).Append('\n').Append("+++ ").Append(path).Append('\n');
        var shown = new HashSet<int>(changed.SelectMany(i => Enumerable.Range(i - context, 2 * context + 1)).Where(i => i >= 0 && i < lines.Count));
        var previous = -2;
        foreach (var index in shown.Order())
        {
            if (index != previous + 1) output.Append("@@ line ").Append(OldLineNumber(lines, index)).Append(" @@\n");
            var line = lines[index];
            var marker = line.Type switch { ChangeType.Inserted => '+', ChangeType.Deleted => '-', _ => ' ' };
            output.Append(marker).Append(line.Text).Append('\n');
            previous = index;
        }
        return output.ToString();
    }

    private static int OldLineNumber(IReadOnlyList<DiffPiece> lines, int index) =>
        lines.Take(index + 1).Count(l => l.Type != ChangeType.Inserted);
}

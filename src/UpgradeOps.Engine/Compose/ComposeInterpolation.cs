using System.Text;

namespace UpgradeOps.Compose;

/// <summary>
/// Compose variable interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
/// ${VAR?error}, ${VAR:+alternative}, ${VAR+alternative}, and $$ for a literal dollar. Defaults may
/// themselves contain interpolation.
/// </summary>
public static class ComposeInterpolation
{
    public static string Interpolate(string text, Func<string, string?> lookup)
    {
        var result = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c != '$' || i + 1 >= text.Length)
            {
                result.Append(c);
                i++;
                continue;
            }

            var next = text[i + 1];
            if (next == '$')
            {
                result.Append('$');
                i += 2;
            }
            else if (next == '{')
            {
                var end = FindClosingBrace(text, i + 2);
                if (end < 0) throw new FormatException($"Unclosed '${{' in \"{text}\".");
                result.Append(Expand(text[(i + 2)..end], lookup));
                i = end + 1;
            }
            else if (IsNameStart(next))
            {
                var start = i + 1;
                var j = start;
                while (j < text.Length && IsNameChar(text[j])) j++;
                result.Append(lookup(text[start..j]) ?? string.Empty);
                i = j;
            }
            else
            {
                result.Append(c);
                i++;
            }
        }
        return result.ToString();
    }

    /// <summary>The name and default of a ${NAME:-default} or ${NAME-default} reference, if the text is one.</summary>
    public static bool TryParseDefaulted(string expression, out string name, out string? defaultValue)
    {
        name = "";
        defaultValue = null;
        var j = 0;
        while (j < expression.Length && IsNameChar(expression[j])) j++;
        if (j == 0) return false;
        name = expression[..j];
        var rest = expression[j..];
        if (rest.StartsWith(":-", StringComparison.Ordinal)) defaultValue = rest[2..];
        else if (rest.StartsWith('-')) defaultValue = rest[1..];
        else if (rest.Length > 0) return false;
        return true;
    }

    private static string Expand(string expression, Func<string, string?> lookup)
    {
        var j = 0;
        while (j < expression.Length && IsNameChar(expression[j])) j++;
        if (j == 0) throw new FormatException($"'${{{expression}}}' does not start with a variable name.");
        var name = expression[..j];
        var op = expression[j..];
        var value = lookup(name);
        if (op.Length == 0) return value ?? string.Empty;

        var colon = op.StartsWith(':');
        var kind = colon ? (op.Length > 1 ? op[1] : '\0') : op[0];
        var argument = op[(colon ? 2 : 1)..];
        var missing = colon ? string.IsNullOrEmpty(value) : value is null;
        return kind switch
        {
            '-' => missing ? Interpolate(argument, lookup) : value!,
            '+' => missing ? string.Empty : Interpolate(argument, lookup),
            '?' => missing ? throw new FormatException($"Required variable {name} is not set: {Interpolate(argument, lookup)}") : value!,
            _ => throw new FormatException($"'${{{expression}}}' uses an operator compose does not know."),
        };
    }

    private static int FindClosingBrace(string text, int start)
    {
        var depth = 1;
        for (var i = start; i < text.Length; i++)
        {
            if (text[i] == '{' && i > 0 && text[i - 1] == '$') depth++;
            else if (text[i] == '}' && --depth == 0) return i;
        }
        return -1;
    }

    private static bool IsNameStart(char c) => char.IsAsciiLetter(c) || c == '_';
    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}

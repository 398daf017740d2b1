using System.Text;

namespace UpgradeOps.Hosting;

/// <summary>Text from the user's files or arguments as a message may show it (paths, versions, values).</summary>
internal static class UserText
{
    /// <summary>The text with its control characters escaped ("\n", "\0", "\x1b"), never raw: a message stays one readable line.</summary>
    public static string Shown(string text)
    {
        if (!text.Any(char.IsControl)) return text;
        var shown = new StringBuilder(text.Length + 8);
        foreach (var c in text)
            shown.Append(c switch
            {
                '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '\0' => "\\0",
                _ when char.IsControl(c) => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        return shown.ToString();
    }
}

using UpgradeOps.Hosting;

namespace UpgradeOps.Compose;

/// <summary>
/// A compose .env file: KEY=VALUE lines (LF or CRLF), '#' comments, optional 'export ', single or double quotes. A key
/// set twice has its last value, as compose reads it (compose-go's dotenv parser assigns each line in turn).
/// Values are kept only in memory; nothing here ever writes or logs them.
/// </summary>
public static class EnvFile
{
    /// <summary>The values of the .env at <paramref name="path"/>; none when there is no file. A folder or a link loop there is an error (EnvFileUnreadable).</summary>
    public static IReadOnlyDictionary<string, string> Read(string path) =>
        Open(path) is { } file ? Parse(file.Text) : new Dictionary<string, string>();

    /// <summary>Masks the values of a Compose deployment's .env file (none when it has no such file).</summary>
    public static SecretRedactor Redactor(string? path) =>
        new(path is not null && File.Exists(path) ? Read(path) : new Dictionary<string, string>().AsReadOnly());

    /// <summary>The text of the .env and whether it has a byte order mark, to edit and write back the same way; null when there is none.</summary>
    public static (string Text, bool ByteOrderMark)? Open(string path) => LocalFile.Read(path, "The .env file", "EnvFileUnreadable");

    public static IReadOnlyDictionary<string, string> Parse(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line.StartsWith("export ", StringComparison.Ordinal)) line = line[7..].TrimStart();
            var equals = line.IndexOf('=');
            if (equals <= 0) continue;
            var key = line[..equals].Trim();
            values[key] = Unquote(line[(equals + 1)..].Trim());
        }
        return values;
    }

    private static string Unquote(string value)
    {
        if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0])
        {
            var inner = value[1..^1];
            return value[0] == '"' ? inner.Replace("\\n", "\n").Replace("\\\"", "\"") : inner;
        }
        // An unquoted value ends at an inline comment (" #").
        var comment = value.IndexOf(" #", StringComparison.Ordinal);
        return comment >= 0 ? value[..comment].TrimEnd() : value;
    }
}

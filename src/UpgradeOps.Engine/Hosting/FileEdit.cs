using System.Text.RegularExpressions;

namespace UpgradeOps.Hosting;

/// <summary>A planned change to one text file: its whole old and new content and the diff between them.</summary>
public sealed partial record FileEdit(string Path, string Before, string After, bool ByteOrderMark = false)
{
    /// <summary>For .env files: the variables whose values may be shown (the version); every other value is masked in <see cref="Diff"/>.</summary>
    public IReadOnlyCollection<string>? ShownVariables { get; init; }

    /// <summary>Reads a file's text and whether it starts with a UTF-8 byte order mark, to write it back the same way.</summary>
    public static (string Text, bool ByteOrderMark) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var bom = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF;
        return (new System.Text.UTF8Encoding(false).GetString(bytes, bom ? 3 : 0, bytes.Length - (bom ? 3 : 0)), bom);
    }

    /// <summary>For YAML values files: values never to show (given or generated); keys with secret names are masked too.</summary>
    public IReadOnlyCollection<string>? SecretValues { get; init; }

    /// <summary>The unified diff, with .env (or values file) secrets masked: safe to print, log and journal.</summary>
    public string Diff => (ShownVariables, SecretValues) switch
    {
        ({ } shown, _) => MaskEnvValues(TextDiff.Unified(Path, Before, After), shown),
        (_, { } secrets) => MaskValuesDiff(TextDiff.Unified(Path, Before, After), secrets),
        _ => TextDiff.Unified(Path, Before, After),
    };

    private static string MaskEnvValues(string diff, IReadOnlyCollection<string> shown) =>
        EnvAssignment().Replace(diff, m => shown.Contains(m.Groups["key"].Value) || m.Groups["value"].Length == 0
            ? m.Value
            : $"{m.Groups["lead"].Value}{m.Groups["key"].Value}{m.Groups["eq"].Value}***");

    [GeneratedRegex(@"^(?<lead>[ +\-][ \t]*(?:export[ \t]+)?)(?<key>[A-Za-z_][A-Za-z0-9_]*)(?<eq>[ \t]*=[ \t]*)(?<value>.*)$", RegexOptions.Multiline)]
    private static partial Regex EnvAssignment();


    /// <summary>Writes the new content beside the file and renames it over the file: never half-written.</summary>
    public void Apply()
    {
        var temporary = Path + $".upgradeops-{Guid.NewGuid():N}";
        try
        {
            // The new text (a .env, a values file: secrets) is never readable by others, not even before it takes the file's mode.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(temporary, options))
            using (var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: ByteOrderMark)))
                writer.Write(After);
            if (!OperatingSystem.IsWindows() && File.Exists(Path)) File.SetUnixFileMode(temporary, File.GetUnixFileMode(Path));
            File.Move(temporary, Path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>
    /// Masks, in a diff of a values file, the values of keys whose names say they are secret and every value listed
    /// (values given by the user or generated): the line stays, its value becomes ***.
    /// </summary>
    public static string MaskValuesDiff(string diff, IReadOnlyCollection<string> secretValues) =>
        DiffValueLine().Replace(diff, m =>
        {
            var value = m.Groups["value"].Value;
            var bare = value.Trim().Trim('"', '\'');
            return SecretRedactor.IsSecretName(m.Groups["key"].Value) || secretValues.Contains(bare) ||
                   secretValues.Any(s => s.Length >= 6 && value.Contains(s, StringComparison.Ordinal))
                ? m.Groups["lead"].Value + m.Groups["key"].Value + m.Groups["sep"].Value + SecretRedactor.Mask
                : m.Value;
        });

    [GeneratedRegex(@"^(?!---|\+\+\+)(?<lead>[ +\-][ \t]*(?:-[ \t]+)?)(?<key>[^\s:#'""][^:#]*?|""[^""]*""|'[^']*')(?<sep>:[ \t]+)(?<value>[^\s#|>].*?)[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex DiffValueLine();
}

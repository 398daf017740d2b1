using System.Text.RegularExpressions;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

namespace UpgradeOps.Compose;

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
        (_, { } secrets) => Kubernetes.YamlValuesEditor.MaskDiff(TextDiff.Unified(Path, Before, After), secrets),
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
}

/// <summary>
/// Makes the compose file and .env name a new version, changing only the version text — every other byte
/// (comments, anchors, ordering, quoting, line ends) stays as it was, so the files remain the source of truth.
/// Where the version lives decides what is edited: a VERSION=... line in .env, else the default of every
/// ${VERSION:-x} reference in the compose file, else the literal tag of the product services' images.
/// </summary>
public static partial class ComposeVersionEditor
{
    public static IReadOnlyList<FileEdit> PlanVersionChange(ComposeFile file, ProductProfile profile, string newVersion)
    {
        var variable = profile.Version.EnvironmentVariable;
        if (variable is not null && EnvFile.Open(file.EnvFilePath) is { } env)
        {
            var (envText, envBom) = env;
            // The line may end in CRLF; of two assignments compose uses the last, so that is the one edited.
            var envLine = new Regex($@"^(?<lead>[ \t]*(?:export[ \t]+)?{Regex.Escape(variable)}[ \t]*=[ \t]*)(?<quote>[""']?)(?<value>[^""'\r\n#]*?)\k<quote>(?<tail>[ \t]*(?:#[^\r\n]*)?)(?=\r?$)",
                RegexOptions.Multiline);
            if (envLine.Matches(envText) is { Count: > 0 } assignments && assignments[^1] is var m)
                return new[] { new FileEdit(file.EnvFilePath, envText,
                    envText[..m.Index] + $"{m.Groups["lead"].Value}{m.Groups["quote"].Value}{newVersion}{m.Groups["quote"].Value}{m.Groups["tail"].Value}" + envText[(m.Index + m.Length)..],
                    envBom) { ShownVariables = new[] { variable } } };
        }

        var (composeText, composeBom) = FileEdit.Read(file.Path);
        if (variable is not null)
        {
            var reference = new Regex($@"\$\{{{Regex.Escape(variable)}(?<op>:?-)(?<value>[^}}]*)\}}");
            if (reference.IsMatch(composeText))
                return new[] { new FileEdit(file.Path, composeText, reference.Replace(composeText, m => $"${{{variable}{m.Groups["op"].Value}{newVersion}}}"), composeBom) };
        }

        // No variable: the version is the literal tag of the product images.
        var images = profile.Services.Where(s => s.ProductImage)
            .Select(s => file.Services.GetValueOrDefault(s.ComposeService ?? s.Name)?.RawImage)
            .Where(i => i is not null && ImageReference.Tag(i) is not null).Distinct().ToList();
        if (images.Count > 0)
        {
            var edited = composeText;
            foreach (var image in images)
                edited = edited.Replace(image!, ImageReference.WithTag(image!, newVersion), StringComparison.Ordinal);
            return new[] { new FileEdit(file.Path, composeText, edited, composeBom) };
        }

        throw new UpgradeOpsException("VersionLocationNotFound", ErrorKind.InvalidData, file.Path,
            $"Neither {file.EnvFilePath} nor {file.Path} says where the version lives (no {variable ?? "version variable"}=… line, no ${{{variable}:-…}} reference, no tagged product image). " +
            "Set version.environmentVariable or the product services in the profile to match the deployment.");
    }
}

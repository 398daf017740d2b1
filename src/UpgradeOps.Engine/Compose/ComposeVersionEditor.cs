using System.Text.RegularExpressions;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

using UpgradeOps.Versioning;

namespace UpgradeOps.Compose;

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

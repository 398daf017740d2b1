using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using UpgradeOps.Hosting;

namespace UpgradeOps.Validation;

/// <summary>
/// The zip a diagnostic is handed over in: report.json, logs/&lt;container&gt;.log per container and journal.json,
/// all redacted once more on the way out, written as an <see cref="OutputFile"/>: atomically, and over an existing
/// file only when asked.
/// </summary>
public static class DiagnosticBundle
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    private static OutputFile Target(string path) => new(path, "-OutFile", "OutFile", "the diagnostic bundle", "diagnostic.zip");

    /// <summary>Refuses an existing file unless <paramref name="force"/>: checked before collecting, and again before the rename.</summary>
    public static void CheckTarget(string path, bool force) => Target(path).Check(force);

    /// <summary>Writes the bundle and sets <see cref="DiagnosticReport.OutFile"/>.</summary>
    public static void Write(DiagnosticReport report, string path, bool force)
    {
        var target = Target(path);
        var mask = report.Mask ?? (text => text);
        var previousOutFile = report.OutFile;
        report.OutFile = target.Path;
        try
        {
            target.Write(force, stream =>
            {
                using var zip = new ZipArchive(stream, ZipArchiveMode.Create);
                Add(zip, "report.json", mask(JsonSerializer.Serialize(report, Options)));
                var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var service in report.Services)
                {
                    var name = SafeName(service.Container);
                    while (!names.Add(name)) name += "_";
                    Add(zip, $"logs/{name}.log", mask(string.Join('\n', service.LogTail) + (service.LogTail.Count > 0 ? "\n" : "")));
                }
                if (report.JournalText is not null) Add(zip, "journal.json", mask(report.JournalText));
            });
        }
        catch
        {
            report.OutFile = previousOutFile;
            throw;
        }
    }

    private static void Add(ZipArchive zip, string name, string text)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.Optimal);
        using var writer = new StreamWriter(entry.Open(), new UTF8Encoding(false));
        writer.Write(text);
    }

    private static string SafeName(string name)
    {
        var invalid = Path.GetInvalidFileNameChars().Concat(['/', '\\', ':']).ToHashSet();
        var safe = new string(name.Select(c => invalid.Contains(c) ? '_' : c).ToArray()).Trim('.');
        return safe.Length == 0 ? "container" : safe;
    }
}

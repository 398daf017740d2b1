using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using UpgradeOps.Hosting;

namespace UpgradeOps.Validation;

/// <summary>
/// The zip a diagnostic is handed over in: report.json, logs/&lt;container&gt;.log per container and journal.json,
/// all redacted once more on the way out. Written beside its final name and renamed into place, so a reader never
/// sees half a bundle; an existing file is replaced only when asked.
/// </summary>
public static class DiagnosticBundle
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Refuses an existing file unless <paramref name="force"/>: checked before collecting, and again before the rename.</summary>
    public static void CheckTarget(string path, bool force)
    {
        if (Directory.Exists(path))
            throw new UpgradeOpsException("OutFileExists", ErrorKind.InvalidArgument, path,
                $"{path} is a folder. Give the path of the zip file to write, for example {Path.Combine(path, "diagnostic.zip")}.");
        if (File.Exists(path) && !force)
            throw new UpgradeOpsException("OutFileExists", ErrorKind.InvalidOperation, path,
                $"{path} exists and was not replaced. Give another -OutFile, or -Force to overwrite it.");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
            throw new UpgradeOpsException("OutFileFolderNotFound", ErrorKind.ObjectNotFound, path,
                $"The folder {folder} does not exist. Create it, or give an -OutFile in an existing folder.");
    }

    /// <summary>Writes the bundle and sets <see cref="DiagnosticReport.OutFile"/>.</summary>
    public static void Write(DiagnosticReport report, string path, bool force)
    {
        path = Path.GetFullPath(path);
        CheckTarget(path, force);
        var redactor = report.Redactor ?? new SecretRedactor([]);
        var temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        var previousOutFile = report.OutFile;
        report.OutFile = path;
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var zip = new ZipArchive(stream, ZipArchiveMode.Create))
            {
                Add(zip, "report.json", redactor.Redact(JsonSerializer.Serialize(report, Options)));
                var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var service in report.Services)
                {
                    var name = SafeName(service.Container);
                    while (!names.Add(name)) name += "_";
                    Add(zip, $"logs/{name}.log", redactor.Redact(string.Join('\n', service.LogTail) + (service.LogTail.Count > 0 ? "\n" : "")));
                }
                if (report.JournalText is not null) Add(zip, "journal.json", redactor.Redact(report.JournalText));
            }
            File.Move(temporary, path, overwrite: force);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            report.OutFile = previousOutFile;
            TryDelete(temporary);
            if (ex is IOException && File.Exists(path) && !force)
                throw new UpgradeOpsException("OutFileExists", ErrorKind.InvalidOperation, path,
                    $"{path} appeared while the bundle was written and was not replaced. Give another -OutFile, or -Force to overwrite it.", ex);
            throw new UpgradeOpsException("OutFileNotWritten", ex is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.InvalidOperation, path,
                $"The diagnostic bundle could not be written to {path}: {ex.Message} Give an -OutFile in a folder you can write to.", ex);
        }
        catch
        {
            report.OutFile = previousOutFile;
            TryDelete(temporary);
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

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

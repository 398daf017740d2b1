namespace UpgradeOps.Hosting;

/// <summary>
/// A file a cmdlet writes for the user (a diagnostic bundle, an upgrade report, a notice): checked before any work is
/// done, written beside its final name and renamed into place, so a reader never sees half a file, and an existing
/// file is replaced only when asked. Its ErrorIds are the prefix + Exists, FolderNotFound or NotWritten.
/// </summary>
/// <param name="path">The file to write (made absolute).</param>
/// <param name="parameter">The parameter that named it, as users type it ("-OutFile").</param>
/// <param name="errorIdPrefix">"OutFile" gives OutFileExists, OutFileFolderNotFound and OutFileNotWritten.</param>
/// <param name="what">What the file holds, for messages ("the diagnostic bundle").</param>
/// <param name="exampleName">A file name to suggest when a folder was given ("diagnostic.zip").</param>
public sealed class OutputFile(string path, string parameter, string errorIdPrefix, string what, string exampleName)
{
    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>Refuses a folder, an existing file unless <paramref name="force"/>, and a missing parent folder.</summary>
    public void Check(bool force)
    {
        if (Directory.Exists(Path))
            throw new UpgradeOpsException(errorIdPrefix + "Exists", ErrorKind.InvalidArgument, Path,
                $"{Path} is a folder. Give the path of the file to write to {parameter}, for example {System.IO.Path.Combine(Path, exampleName)}.");
        if (File.Exists(Path) && !force)
            throw new UpgradeOpsException(errorIdPrefix + "Exists", ErrorKind.InvalidOperation, Path,
                $"{Path} exists and was not replaced. Give another {parameter}, or -Force to overwrite it.");
        var folder = System.IO.Path.GetDirectoryName(Path);
        if (folder is not null && !Directory.Exists(folder))
            throw new UpgradeOpsException(errorIdPrefix + "FolderNotFound", ErrorKind.ObjectNotFound, Path,
                $"The folder {folder} does not exist. Create it, or give a {parameter} in an existing folder.");
    }

    /// <summary>Checks again, then writes through <paramref name="write"/> to a temporary file and renames it into place.</summary>
    public void Write(bool force, Action<Stream> write)
    {
        Check(force);
        var temporary = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                write(stream);
            File.Move(temporary, Path, overwrite: force);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            if (ex is IOException && File.Exists(Path) && !force)
                throw new UpgradeOpsException(errorIdPrefix + "Exists", ErrorKind.InvalidOperation, Path,
                    $"{Path} appeared while {what} was written and was not replaced. Give another {parameter}, or -Force to overwrite it.", ex);
            throw new UpgradeOpsException(errorIdPrefix + "NotWritten", ex is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.InvalidOperation, Path,
                $"{char.ToUpperInvariant(what[0])}{what[1..]} could not be written to {Path}: {ex.Message} Give a {parameter} in a folder you can write to.", ex);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte order mark.</summary>
    public void WriteText(bool force, string text) =>
        Write(force, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false));
            writer.Write(text);
        });

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

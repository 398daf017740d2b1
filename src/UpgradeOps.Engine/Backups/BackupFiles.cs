using UpgradeOps.Compose;

using UpgradeOps.Hosting;

namespace UpgradeOps.Backups;

/// <summary>Backup files and folders are readable by their owner only: they hold data and secrets.</summary>
internal static class BackupFiles
{
    public static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public static FileStream CreatePrivateFile(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 1 << 16, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return new FileStream(path, options);
    }

    public static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);

    /// <summary>
    /// The full path of a file a manifest names (<paramref name="what"/> says which, "The manifest" or "The file of component
    /// 'database'"), refused with
    /// BackupPathOutsideBackup unless it lies inside the backup folder: a plain relative name ("database.dump",
    /// "config/.env") made of ordinary names, with no symbolic link on the way from the folder to the file. The writer
    /// never writes anything else, so anything else was made to reach other files. A file that is not there is the
    /// caller's to report.
    /// </summary>
    public static string ContainedPath(string folder, string file, string what)
    {
        var root = Path.GetFullPath(folder);
        if (NameProblem(file) is { } problem) throw Outside(root, file, what, problem);
        var current = root;
        foreach (var part in file.Split('/'))
        {
            current = Path.Combine(current, part);
            var entry = new FileInfo(current);
            if (entry.LinkTarget is { } target)
                throw Outside(root, file, what, $"'{LocalFile.Shown(part)}' is a symbolic link (to {LocalFile.Shown(target)})");
            if (!entry.Exists && !Directory.Exists(current)) break;
        }
        return current;
    }

    /// <summary>Why a name a manifest gives is not a plain relative name inside the backup; null when it is one.</summary>
    internal static string? NameProblem(string file)
    {
        if (file.Length == 0) return "the name is empty";
        if (file.Any(char.IsControl)) return "the name holds a control character";
        if (file.Contains('\\')) return "the name holds a backslash";
        if (file.StartsWith('/') || Path.IsPathRooted(file) || (file.Length >= 2 && file[1] == ':' && char.IsAsciiLetter(file[0])))
            return "the name is an absolute path";
        var parts = file.Split('/');
        if (parts.Contains("..")) return "the name climbs out of the folder with '..'";
        if (parts.Any(p => p is "" or ".")) return "the name has an empty or '.' part";
        return null;
    }

    private static BackupFormatException Outside(string root, string file, string what, string problem) =>
        new("BackupPathOutsideBackup",
            $"{what} of the backup {LocalFile.Shown(root)} is '{LocalFile.Shown(file)}', which is not inside the backup folder: {problem}. " +
            "A backup's files are plain names inside its own folder, so this backup was made or edited to reach other files; nothing outside it was read. " +
            "Do not use this backup: take a new one with New-DeploymentBackup, or use another.", ErrorKind.SecurityError);
}

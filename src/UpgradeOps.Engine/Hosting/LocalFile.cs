namespace UpgradeOps.Hosting;

/// <summary>
/// A file of the deployment's own that the user named or keeps beside it (the compose file, its .env, a Helm values
/// file): what the file system says about it (a folder, a link loop, no permission) becomes an error that names the
/// path and what to do, never a raw IOException or the engine's catch-all.
/// </summary>
internal static class LocalFile
{
    /// <summary>
    /// The text (without a UTF-8 byte order mark) and whether it had one; null when nothing is at the path (a link to
    /// nothing counts as nothing). <paramref name="what"/> names the file in messages ("The .env file").
    /// </summary>
    public static (string Text, bool ByteOrderMark)? Read(string path, string what, string unreadableId)
    {
        if (Directory.Exists(path))
            throw new UpgradeOpsException(unreadableId, ErrorKind.InvalidData, path,
                $"{what} '{Shown(path)}' is a folder, not a file. Remove or rename the folder (or give the file's own path), then run it again.");
        try
        {
            return File.Exists(path) ? FileEdit.Read(path) : null;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new UpgradeOpsException(unreadableId, ErrorKind.PermissionDenied, path,
                $"{what} '{Shown(path)}' cannot be read: permission denied. Give this user read access to it, or run as a user who has it.", ex);
        }
        catch (IOException ex)
        {
            // File.Exists is true for a link whose target cannot be resolved; reading it says "too many levels of symbolic links".
            throw new UpgradeOpsException(unreadableId, ErrorKind.InvalidData, path, new FileInfo(path).LinkTarget is not null
                ? $"{what} '{Shown(path)}' is a symbolic link that never reaches a file (a link loop). Point the link at the file, or give the file's real path, then run it again."
                : $"{what} '{Shown(path)}' cannot be read ({ex.Message}). Check the file and its disk, then run it again.", ex);
        }
    }

    /// <summary>Text from the user's files or arguments as a message may show it: control characters escaped, never raw.</summary>
    public static string Shown(string text) => Hosting.UserText.Shown(text);
}

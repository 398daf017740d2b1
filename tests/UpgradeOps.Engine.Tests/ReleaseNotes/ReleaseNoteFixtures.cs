namespace UpgradeOps.Engine.Tests.ReleaseNotes;

/// <summary>Reads the hand-written release-note fixtures copied next to the test assembly.</summary>
internal static class ReleaseNoteFixtures
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "ReleaseNotes", name);

    public static string Read(string name) => File.ReadAllText(PathOf(name));
}

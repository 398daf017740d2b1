using Microsoft.Extensions.Logging;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;
using UpgradeOps.ReleaseNotes;

namespace UpgradeOps.Versioning;

/// <summary>What Test-UpgradePath asks: the two versions and where known releases come from.</summary>
public sealed class UpgradePathRequest
{
    public required string From { get; init; }
    public required string To { get; init; }
    public string Profile { get; init; } = "infrahub";
    public IReadOnlyList<string> AvailableVersions { get; init; } = Array.Empty<string>();
    public ReleaseNoteDocument? ReleaseNotes { get; init; }
    public bool AllowPrerelease { get; init; }
    public Deployment? Deployment { get; init; }
    public long? DatabaseSizeBytes { get; init; }
    /// <summary>A rehearsal whose measured timings the path carries where it ran the same versions.</summary>
    public RehearsalReport? Rehearsal { get; init; }
}

/// <summary>Checks an upgrade path: parses the versions, loads the profile, gathers the known releases, plans.</summary>
public static class UpgradePathService
{
    public static UpgradePath Test(UpgradePathRequest request, EngineContext? context = null)
    {
        var log = (context ?? EngineContext.Silent()).CreateLogger(nameof(UpgradePathService));
        var from = ProductVersion.Parse(request.From);
        var to = ProductVersion.Parse(request.To);
        var profile = ProfileLoader.Load(request.Profile);
        log.LogDebug("Profile {Profile} loaded from {Source}", profile.Name, profile.Source);

        var known = profile.Catalog.Select(ProductVersion.Parse)
            .Concat(request.AvailableVersions.Select(ProductVersion.Parse)).ToList();
        log.LogDebug("Known releases: {Count} from the catalog and -AvailableVersion, {NoteCount} from release notes",
            known.Count, request.ReleaseNotes?.Releases.Count ?? 0);

        return new UpgradePathPlanner(profile).Plan(from, to, new UpgradePlanOptions
        {
            KnownVersions = known,
            ReleaseNotes = request.ReleaseNotes,
            AllowPrerelease = request.AllowPrerelease,
            DatabaseSizeBytes = request.DatabaseSizeBytes ?? request.Deployment?.DatabaseSizeBytes,
            Deployment = request.Deployment,
            Rehearsal = request.Rehearsal,
        });
    }
}

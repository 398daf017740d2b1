namespace UpgradeOps.Versioning;

/// <summary>Splits image references such as "127.0.0.1:5000/team/app:1.7.5@sha256:..." into name and tag.</summary>
public static class ImageReference
{
    /// <summary>The tag, or null when the reference has none (a registry port is not a tag).</summary>
    public static string? Tag(string? reference)
    {
        if (string.IsNullOrEmpty(reference)) return null;
        var withoutDigest = reference.Split('@')[0];
        var colon = withoutDigest.LastIndexOf(':');
        return colon > withoutDigest.LastIndexOf('/') ? withoutDigest[(colon + 1)..] : null;
    }

    /// <summary>The reference without its tag and digest.</summary>
    public static string Repository(string reference)
    {
        var withoutDigest = reference.Split('@')[0];
        var colon = withoutDigest.LastIndexOf(':');
        return colon > withoutDigest.LastIndexOf('/') ? withoutDigest[..colon] : withoutDigest;
    }

    /// <summary>The same image with another tag.</summary>
    public static string WithTag(string reference, string tag) => $"{Repository(reference)}:{tag}";

    /// <summary>The product version in the tag ("v1.7.5" and "1.7.5" both give 1.7.5), or null.</summary>
    public static string? Version(string? reference) =>
        Versioning.ProductVersion.TryParse(Tag(reference), out var version) ? version!.ToString() : null;
}

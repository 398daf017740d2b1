using System.Reflection;
using System.Runtime.CompilerServices;
using UpgradeOps.Versioning;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;
using YamlDotNet.Serialization.NodeDeserializers;

namespace UpgradeOps.Profiles;

/// <summary>Loads a product profile by built-in name or by path, and validates it.</summary>
public static class ProfileLoader
{
    private const string ResourcePrefix = "UpgradeOps.Profiles.";

    /// <summary>Names of the profiles that ship inside the module.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = typeof(ProfileLoader).Assembly
        .GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".yml", StringComparison.Ordinal))
        .Select(n => n[ResourcePrefix.Length..^4])
        .OrderBy(n => n, StringComparer.Ordinal)
        .ToArray();

    /// <summary>A built-in name ("infrahub") or the path of a YAML file.</summary>
    public static ProductProfile Load(string nameOrPath)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath))
            throw new ProfileException("ProfileNotFound", ErrorKind.InvalidArgument, nameOrPath,
                $"No profile was named. Give a built-in profile ({string.Join(", ", BuiltInNames)}) or the path of a profile YAML file.");

        var builtIn = BuiltInNames.FirstOrDefault(n => string.Equals(n, nameOrPath, StringComparison.OrdinalIgnoreCase));
        if (builtIn is not null)
        {
            using var stream = typeof(ProfileLoader).Assembly.GetManifestResourceStream(ResourcePrefix + builtIn + ".yml")!;
            using var reader = new StreamReader(stream);
            return Parse(reader.ReadToEnd(), "builtin:" + builtIn);
        }

        var path = Path.GetFullPath(nameOrPath);
        if (!File.Exists(path))
            throw new ProfileException("ProfileNotFound", ErrorKind.ObjectNotFound, nameOrPath,
                $"Profile '{nameOrPath}' is neither a built-in profile ({string.Join(", ", BuiltInNames)}) nor an existing file ({path}). Check the name or the path.");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates profile YAML; errors name the source, line and column.</summary>
    public static ProductProfile Parse(string yaml, string source)
    {
        var marks = new ConditionalWeakTable<object, MarkBox>();
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .WithDuplicateKeyChecking()
            .WithNodeDeserializer(inner => new MarkRecordingDeserializer(inner, marks), s => s.InsteadOf<ObjectNodeDeserializer>())
            .Build();

        ProductProfile? profile;
        try
        {
            profile = deserializer.Deserialize<ProductProfile>(yaml);
        }
        catch (YamlException ex)
        {
            var reason = Innermost(ex).Message;
            throw new ProfileException("InvalidProfile", ErrorKind.InvalidData, source,
                $"{Location(source, ex.Start)}: {reason} Fix the profile and load it again.", ex)
            { Line = (int)ex.Start.Line, Column = (int)ex.Start.Column, File = source };
        }

        if (profile is null)
            throw new ProfileException("InvalidProfile", ErrorKind.InvalidData, source,
                $"{source}: the profile is empty. A profile needs at least 'name' and 'services'.") { File = source };

        profile.Source = source;
        new ProfileValidator(source, marks).Validate(profile);
        return profile;
    }

    internal static string Location(string source, Mark mark) => $"{source}:{mark.Line}:{mark.Column}";

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null) ex = ex.InnerException;
        return ex;
    }

    internal sealed class MarkBox(Mark mark)
    {
        public Mark Mark { get; } = mark;
    }

    /// <summary>Remembers where each mapping started, so semantic errors can point at a line.</summary>
    private sealed class MarkRecordingDeserializer(INodeDeserializer inner, ConditionalWeakTable<object, MarkBox> marks) : INodeDeserializer
    {
        public bool Deserialize(IParser reader, Type expectedType, Func<IParser, Type, object?> nestedObjectDeserializer,
            out object? value, ObjectDeserializer rootDeserializer)
        {
            var start = reader.Current?.Start ?? Mark.Empty;
            if (!inner.Deserialize(reader, expectedType, nestedObjectDeserializer, out value, rootDeserializer)) return false;
            if (value is not null) marks.AddOrUpdate(value, new MarkBox(start));
            return true;
        }
    }
}

/// <summary>A profile that cannot be found or is not valid; carries file, line and column when known.</summary>
public sealed class ProfileException : UpgradeOpsException
{
    public ProfileException(string errorId, ErrorKind kind, object? target, string message, Exception? inner = null)
        : base(errorId, kind, target, message, inner)
    {
    }

    public string? File { get; init; }
    public int? Line { get; init; }
    public int? Column { get; init; }
}

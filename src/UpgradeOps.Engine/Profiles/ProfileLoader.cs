using System.Collections;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using UpgradeOps.Compose;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;
using YamlDotNet.Serialization.NodeDeserializers;

using UpgradeOps.Hosting;

namespace UpgradeOps.Profiles;

/// <summary>Loads a product profile by built-in name or by path, and validates it.</summary>
public static partial class ProfileLoader
{
    private const string ResourcePrefix = "UpgradeOps.Profiles.";

    /// <summary>
    /// A profile is written by hand and is a few kilobytes (the built-in infrahub profile is 6 KB): a file larger than this
    /// is not a profile, and is refused after reading no more than this, so a 10 GB file or /dev/zero is answered at once.
    /// </summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Names of the profiles that ship inside the module.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = typeof(ProfileLoader).Assembly
        .GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".yml", StringComparison.Ordinal))
        .Select(n => n[ResourcePrefix.Length..^4])
        .OrderBy(n => n, StringComparer.Ordinal)
        .ToArray();

    /// <summary>Whether <paramref name="name"/> names a built-in profile (case-insensitive).</summary>
    public static bool IsBuiltIn(string? name) => BuiltInNames.Contains(name, StringComparer.OrdinalIgnoreCase);

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

        var (text, path) = ReadFile(nameOrPath);
        return Parse(text, path);
    }

    /// <summary>
    /// The profile file's text and full path. What the file system says about the path (nothing there, a folder, a link
    /// loop, no permission, far too large) is an error that names the path and what to do, never a raw IOException.
    /// </summary>
    private static (string Text, string Path) ReadFile(string nameOrPath)
    {
        var builtIns = string.Join(", ", BuiltInNames);
        if (nameOrPath.Contains('\0'))
            throw new ProfileException("ProfileNotFound", ErrorKind.InvalidArgument, nameOrPath,
                $"Profile '{nameOrPath}' holds a NUL character, which no file name can. Give the path of a profile YAML file or a built-in profile ({builtIns}).");
        var path = Path.GetFullPath(nameOrPath);
        var notFound = new ProfileException("ProfileNotFound", ErrorKind.ObjectNotFound, nameOrPath,
            $"Profile '{nameOrPath}' is neither a built-in profile ({builtIns}) nor an existing file{(path == nameOrPath ? "" : $" ({path})")}. Check the name or the path.");
        if (Directory.Exists(path))
            throw new ProfileException("ProfileNotFound", ErrorKind.ObjectNotFound, nameOrPath,
                $"Profile '{path}' is a folder, not a profile file. Give the path of the profile's YAML file (or a built-in profile: {builtIns}).");
        if (!File.Exists(path)) throw notFound;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var known = stream.CanSeek ? stream.Length : 0;
            if (known > MaxBytes) throw TooLarge(nameOrPath, path, known);
            var bytes = new byte[MaxBytes + 1];
            var read = 0;
            for (int n; read < bytes.Length && (n = stream.Read(bytes, read, bytes.Length - read)) > 0;) read += n;
            if (read > MaxBytes) throw TooLarge(nameOrPath, path, null);
            using var reader = new StreamReader(new MemoryStream(bytes, 0, read), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return (reader.ReadToEnd(), path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // File.Exists is true for a link whose target is gone: that is nothing at the path.
            throw notFound;
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new ProfileException("ProfileUnreadable", ErrorKind.PermissionDenied, nameOrPath,
                $"Profile '{path}' cannot be read: permission denied. Give this user read access to it, or run as a user who has it.", ex);
        }
        catch (IOException ex)
        {
            throw new ProfileException("ProfileUnreadable", ErrorKind.InvalidData, nameOrPath, new FileInfo(path).LinkTarget is not null
                ? $"Profile '{path}' is a symbolic link that never reaches a file (a link loop). Point the link at the profile file, or give the file's real path."
                : $"Profile '{path}' cannot be read ({ex.Message}). Check the file and its disk, then run it again.", ex);
        }
    }

    private static ProfileException TooLarge(string nameOrPath, string path, long? size) =>
        new("ProfileTooLarge", ErrorKind.InvalidData, nameOrPath,
            $"Profile '{path}' is {(size is { } bytes ? $"{bytes / 1048576.0:0.0} MB" : "more than 1 MB")}, larger than any profile (at most {MaxBytes / 1048576} MB; " +
            "the built-in infrahub profile is 6 KB): it is not a profile. Give the path of the profile's YAML file.");

    /// <summary>Parses and validates profile YAML; errors name the source, line and column.</summary>
    public static ProductProfile Parse(string yaml, string source)
    {
        var marks = new ConditionalWeakTable<object, MarkBox>();
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .WithDuplicateKeyChecking()
            .WithNodeDeserializer(inner => new MarkRecordingDeserializer(inner, marks), s => s.InsteadOf<ObjectNodeDeserializer>())
            .WithNodeDeserializer(inner => new ScalarReader(inner), s => s.InsteadOf<ScalarNodeDeserializer>())
            .WithNodeDeserializer(new ShapeChecker(), s => s.OnTop())
            .Build();

        ProductProfile? profile;
        try
        {
            profile = deserializer.Deserialize<ProductProfile>(yaml);
        }
        catch (YamlException ex)
        {
            throw new ProfileException("InvalidProfile", ErrorKind.InvalidData, source,
                $"{Location(source, ex.Start)}: {Reason(ex)} Fix the profile and load it again.", ex)
            { Line = (int)ex.Start.Line, Column = (int)ex.Start.Column, File = source };
        }

        if (profile is null)
            throw new ProfileException("InvalidProfile", ErrorKind.InvalidData, source,
                $"{source}: the profile is empty. Write at least 'name' and 'services' in it, then load it again.") { File = source };

        profile.Source = source;
        new ProfileValidator(source, marks).Validate(profile);
        return profile;
    }

    internal static string Location(string source, Mark mark) => $"{source}:{mark.Line}:{mark.Column}";

    /// <summary>The YAML error in the profile's terms: YamlDotNet's type names and parser states are not the user's words.</summary>
    private static string Reason(YamlException ex)
    {
        var error = ex;
        while (error.InnerException is YamlException inner) error = inner;
        var message = PositionSuffix().Replace(error.Message.Trim(), "");
        if (UnknownProperty().Match(message) is { Success: true } unknown)
        {
            var type = typeof(ProductProfile).Assembly.GetType(unknown.Groups["type"].Value);
            return $"'{unknown.Groups["key"].Value}' is not a profile key{(type is null ? "" : $" here; the keys here are {string.Join(", ", Keys(type))}")}.";
        }
        if (message.StartsWith("Expected 'StreamEnd', got 'DocumentStart'", StringComparison.Ordinal))
            return "a second YAML document starts here (---), and a profile is one document: keep one per file.";
        if (error.InnerException is { } cause && message.StartsWith("Exception during deserialization", StringComparison.Ordinal))
            message = cause.Message;
        return message.TrimEnd('.') + ".";
    }

    /// <summary>The YAML keys of a profile type, as written in a profile.</summary>
    internal static IEnumerable<string> Keys(Type type) => type.GetProperties()
        .Where(p => p.CanWrite && !p.IsDefined(typeof(YamlIgnoreAttribute), true))
        .Select(p => CamelCaseNamingConvention.Instance.Apply(p.Name));

    /// <summary>What a value of <paramref name="type"/> looks like in YAML, for messages ("a whole number", "a list").</summary>
    private static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string)) return "a single value (text)";
        if (type == typeof(bool)) return "true or false";
        if (type.IsEnum) return $"one of {string.Join(", ", Enum.GetNames(type))}";
        if (type == typeof(int)) return $"a whole number (from {int.MinValue} to {int.MaxValue})";
        if (type == typeof(long)) return "a whole number";
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal)) return "a number";
        if (ShapeOf(type) == Shape.List) return "a list (one '- ' line per entry, or [a, b])";
        return $"a mapping of keys ({string.Join(", ", Keys(type).Take(4))}...)";
    }

    private enum Shape { Value, List, Mapping }

    private static Shape? ShapeOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(object)) return null;
        if (type == typeof(string) || type.IsPrimitive || type.IsEnum || type == typeof(decimal)) return Shape.Value;
        if (typeof(IDictionary).IsAssignableFrom(type)) return Shape.Mapping;
        if (typeof(IEnumerable).IsAssignableFrom(type)) return Shape.List;
        return Shape.Mapping;
    }

    /// <summary>A key with nothing after it ("services:"): YAML's null, which stands for the key's default.</summary>
    private static bool IsNull(Scalar scalar) =>
        scalar.Style == ScalarStyle.Plain && scalar.Value is "" or "~" or "null" or "Null" or "NULL";

    private static string Found(ParsingEvent node) => node switch
    {
        MappingStart => "a mapping (keys and values)",
        SequenceStart => "a list",
        Scalar scalar => $"the value '{Quoted(scalar.Value)}'",
        _ => "this",
    };

    private static string Quoted(string value) => LocalFile.Shown(value.Length > 60 ? value[..60] + "..." : value);

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

    /// <summary>
    /// A list where a mapping belongs, a mapping where one value belongs...: said in the profile's terms at the node, before
    /// YamlDotNet fails on it with a cast or a parser state.
    /// </summary>
    private sealed class ShapeChecker : INodeDeserializer
    {
        public bool Deserialize(IParser reader, Type expectedType, Func<IParser, Type, object?> nestedObjectDeserializer,
            out object? value, ObjectDeserializer rootDeserializer)
        {
            value = null;
            var node = reader.Current;
            if (node is Scalar empty && IsNull(empty) && expectedType.IsValueType && Nullable.GetUnderlyingType(expectedType) is null)
                throw new YamlException(node.Start, node.End, $"nothing is given here; give {Describe(expectedType)}, or leave the key out for its default.");
            Shape? found = node switch
            {
                MappingStart => Shape.Mapping,
                SequenceStart => Shape.List,
                Scalar scalar when !IsNull(scalar) => Shape.Value,
                _ => null,
            };
            if (found is not null && ShapeOf(expectedType) is { } expected && expected != found)
                throw new YamlException(node!.Start, node.End, $"{Describe(expectedType)} is expected here, not {Found(node)}.");
            return false;
        }
    }

    /// <summary>A value that is not of its key's type ("two" for a number, 42 for a role) is said in the profile's terms.</summary>
    private sealed class ScalarReader(INodeDeserializer inner) : INodeDeserializer
    {
        public bool Deserialize(IParser reader, Type expectedType, Func<IParser, Type, object?> nestedObjectDeserializer,
            out object? value, ObjectDeserializer rootDeserializer)
        {
            if (reader.Current is not Scalar scalar || IsNull(scalar))
                return inner.Deserialize(reader, expectedType, nestedObjectDeserializer, out value, rootDeserializer);
            var type = Nullable.GetUnderlyingType(expectedType) ?? expectedType;
            // Enum.Parse takes a number for any value, named or not: a role is named.
            if (type.IsEnum && !(scalar.Value.Length > 0 && char.IsLetter(scalar.Value[0])))
                throw NotA(scalar, type);
            try
            {
                return inner.Deserialize(reader, expectedType, nestedObjectDeserializer, out value, rootDeserializer);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException or InvalidCastException or YamlException)
            {
                throw NotA(scalar, type);
            }
        }

        private static YamlException NotA(Scalar scalar, Type type) =>
            new(scalar.Start, scalar.End, $"'{Quoted(scalar.Value)}' is not {Describe(type)}.");
    }

    [GeneratedRegex(@"\s*\(at Line: \d+, Col: \d+, Idx: \d+\)")]
    private static partial Regex PositionSuffix();

    [GeneratedRegex(@"^Property '(?<key>.*)' not found on type '(?<type>[^']+)'")]
    private static partial Regex UnknownProperty();
}

/// <summary>A profile that cannot be found or is not valid; carries file, line and column when known.</summary>
public sealed class ProfileException : UpgradeOpsException
{
    /// <summary>The message may quote the profile's text or path: its control characters are shown escaped, never raw.</summary>
    public ProfileException(string errorId, ErrorKind kind, object? target, string message, Exception? inner = null)
        : base(errorId, kind, target, LocalFile.Shown(message), inner)
    {
    }

    public string? File { get; init; }
    public int? Line { get; init; }
    public int? Column { get; init; }
}

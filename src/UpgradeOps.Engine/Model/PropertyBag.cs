using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace UpgradeOps;

/// <summary>
/// Rebuilds a model object from a tree of plain values: a map of property names for an object, a sequence for a list,
/// a map for a dictionary, and leaf values. That is what Export-Clixml / Import-Clixml, a job, a remote session or an
/// Azure Automation output stream give back of an object the module returned, once the cmdlet layer has unwrapped it;
/// the cmdlets rebuild it so a deployment, backup, path, result or rehearsal kept that way is taken again.
/// </summary>
/// <remarks>
/// Reflection rather than a JSON round trip: the model's JSON attributes describe the journal and the manifest (a
/// backup's Path and a result's Deployment are left out of them on purpose), not what a user's object carries.
/// </remarks>
public static class PropertyBag
{
    public const string InvalidErrorId = "DeserializedObjectInvalid";

    /// <summary>The <paramref name="type"/> (a model type, or a list, map or value of one) that <paramref name="value"/> describes.</summary>
    public static object? ToModel(Type type, object? value) => Convert(type, value, type.Name);

    private static object? Convert(Type type, object? value, string where)
    {
        var nullable = Nullable.GetUnderlyingType(type);
        var target = nullable ?? type;
        if (value is null) return target.IsValueType && nullable is null ? Activator.CreateInstance(target) : null;
        if (target.IsInstanceOfType(value)) return value;
        try
        {
            if (target.IsEnum)
            {
                var member = value is string name ? Enum.Parse(target, name, ignoreCase: true) : Enum.ToObject(target, System.Convert.ToInt64(value, CultureInfo.InvariantCulture));
                return Enum.IsDefined(target, member) ? member : throw Invalid(where, $"it is none of {string.Join(", ", Enum.GetNames(target))}");
            }
            if (target == typeof(TimeSpan)) return ToTimeSpan(value, where);
            if (target == typeof(DateTimeOffset)) return ToDateTimeOffset(value, where);
            if (target == typeof(DateTime) && value is string text) return DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            if (target == typeof(string)) return System.Convert.ToString(value, CultureInfo.InvariantCulture);
            if (target.IsPrimitive || target == typeof(decimal) || target == typeof(DateTime))
                return System.Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is FormatException or InvalidCastException or OverflowException or ArgumentException)
        {
            // The value itself is not echoed: it may be anything, control characters included.
            throw Invalid(where, $"its {value.GetType().Name} value is not a {target.Name}");
        }
        if (MapValueType(target) is { } itemType) return ToMap(itemType, value, where);
        if (ListElementType(target) is { } elementType) return ToList(target, elementType, value, where);
        if (value is IDictionary bag && target.Assembly == typeof(PropertyBag).Assembly) return ToObject(target, bag, where);
        throw Invalid(where, $"a {value.GetType().Name} is not a {target.Name}");
    }

    private static object ToObject(Type type, IDictionary bag, string where)
    {
        var instance = Activator.CreateInstance(type, nonPublic: false)
            ?? throw Invalid(where, $"{type.Name} cannot be made");
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            // Computed properties (Healthy, Passed, Route, SizeBytes...) come along in the bag and are worked out again.
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0) continue;
            if (!TryGet(bag, property.Name, out var raw))
            {
                if (property.IsDefined(typeof(RequiredMemberAttribute))) throw Invalid($"{where}.{property.Name}", "it is missing");
                continue;
            }
            property.SetValue(instance, Convert(property.PropertyType, raw, $"{where}.{property.Name}"));
        }
        return instance;
    }

    private static object ToList(Type target, Type elementType, object value, string where)
    {
        if (value is string or IDictionary || value is not IEnumerable items) throw Invalid(where, $"a {value.GetType().Name} is not a list");
        var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(elementType))!;
        var index = 0;
        foreach (var item in items) list.Add(Convert(elementType, item, $"{where}[{index++}]"));
        if (!target.IsArray) return list;
        var array = Array.CreateInstance(elementType, list.Count);
        list.CopyTo(array, 0);
        return array;
    }

    private static object ToMap(Type itemType, object value, string where)
    {
        if (value is not IDictionary entries) throw Invalid(where, $"a {value.GetType().Name} is not a map");
        var map = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), itemType))!;
        var index = 0;
        foreach (DictionaryEntry entry in entries)
            map[System.Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? ""] = Convert(itemType, entry.Value, $"{where}[{index++}]");
        return map;
    }

    /// <summary>A TimeSpan is a primitive of CliXml; as JSON or a property map it is its parts, of which Ticks is exact.</summary>
    private static TimeSpan ToTimeSpan(object value, string where) => value switch
    {
        string text => TimeSpan.Parse(text, CultureInfo.InvariantCulture),
        IDictionary parts when TryGet(parts, "Ticks", out var ticks) && ticks is not null => new TimeSpan(System.Convert.ToInt64(ticks, CultureInfo.InvariantCulture)),
        _ => throw Invalid(where, $"a {value.GetType().Name} is not a TimeSpan"),
    };

    /// <summary>CliXml has no DateTimeOffset: it gives back its properties, of which Ticks (in its offset) and Offset are exact.</summary>
    private static DateTimeOffset ToDateTimeOffset(object value, string where) => value switch
    {
        string text => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
        DateTime time => new DateTimeOffset(time),
        IDictionary parts when TryGet(parts, "Ticks", out var ticks) && ticks is not null && TryGet(parts, "Offset", out var offset) && offset is not null =>
            new DateTimeOffset(System.Convert.ToInt64(ticks, CultureInfo.InvariantCulture), (TimeSpan)Convert(typeof(TimeSpan), offset, where + ".Offset")!),
        _ => throw Invalid(where, $"a {value.GetType().Name} is not a DateTimeOffset"),
    };

    /// <summary>The element type of a list, collection or array type the model uses; null for anything else.</summary>
    private static Type? ListElementType(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        if (!type.IsGenericType) return null;
        var definition = type.GetGenericTypeDefinition();
        return definition == typeof(List<>) || definition == typeof(IReadOnlyList<>) || definition == typeof(IList<>) ||
               definition == typeof(IReadOnlyCollection<>) || definition == typeof(ICollection<>) || definition == typeof(IEnumerable<>)
            ? type.GenericTypeArguments[0]
            : null;
    }

    /// <summary>The value type of a map with string keys; null for anything else.</summary>
    private static Type? MapValueType(Type type)
    {
        if (!type.IsGenericType || type.GenericTypeArguments[0] != typeof(string)) return null;
        var definition = type.GetGenericTypeDefinition();
        return definition == typeof(Dictionary<,>) || definition == typeof(IReadOnlyDictionary<,>) || definition == typeof(IDictionary<,>)
            ? type.GenericTypeArguments[1]
            : null;
    }

    private static bool TryGet(IDictionary bag, string name, out object? value)
    {
        if (bag.Contains(name))
        {
            value = bag[name];
            return true;
        }
        foreach (DictionaryEntry entry in bag)
        {
            if (entry.Key is string key && string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                value = entry.Value;
                return true;
            }
        }
        value = null;
        return false;
    }

    private static UpgradeOpsException Invalid(string where, string why) =>
        new(InvalidErrorId, ErrorKind.InvalidArgument, where,
            $"{where} cannot be taken: {why}. Give the object as the module's cmdlet returned it, or as Import-Clixml gives back one that Export-Clixml wrote.");
}

using System.Collections;
using System.Management.Automation;

namespace UpgradeOps.Commands.Hosting;

/// <summary>
/// Lets a parameter take an object the module returned after it went through PowerShell's serialization: Import-Clixml,
/// a job or a remote session give back a property bag whose TypeNames say "Deserialized.UpgradeOps.X", which PowerShell
/// cannot turn into the engine type by itself. The bag is rebuilt into the first of the given types it names; anything
/// else passes through untouched for the binder to take or refuse as before.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class RehydrateAttribute : ArgumentTransformationAttribute
{
    private const string DeserializedPrefix = "Deserialized.";
    private readonly Type[] _types;

    public RehydrateAttribute(params Type[] types) => _types = types;

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        if (inputData is not PSObject { BaseObject: PSCustomObject } deserialized || deserialized.TypeNames.Count == 0) return inputData;
        var typeName = deserialized.TypeNames[0];
        var type = _types.FirstOrDefault(t => typeName == DeserializedPrefix + t.FullName);
        if (type is null) return inputData;
        try
        {
            return PropertyBag.ToModel(type, ToPlainValues(deserialized))!;
        }
        catch (UpgradeOpsException ex)
        {
            throw new ArgumentTransformationMetadataException(ex.Message, ex);
        }
    }

    /// <summary>The serialized object as plain values: property maps, lists, maps and leaves, without PowerShell's wrappers.</summary>
    private static object? ToPlainValues(object? value)
    {
        switch (value)
        {
            case null:
                return null;
            case PSObject { BaseObject: PSCustomObject } bag:
                var properties = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                foreach (var property in bag.Properties) properties[property.Name] = ToPlainValues(property.Value);
                return properties;
            case PSObject wrapped:
                return ToPlainValues(wrapped.BaseObject);
            case string:
                return value;
            case IDictionary map:
                var entries = new Dictionary<object, object?>();
                foreach (DictionaryEntry entry in map) entries[entry.Key is PSObject key ? key.BaseObject : entry.Key] = ToPlainValues(entry.Value);
                return entries;
            case IEnumerable items:
                return items.Cast<object?>().Select(ToPlainValues).ToList();
            default:
                return value;
        }
    }
}

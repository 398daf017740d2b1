using System.Text.Json.Nodes;

namespace KubeApiServer;

/// <summary>JSON merge patch (RFC 7386; also stands in for strategic merge patch) and JSON patch (RFC 6902).</summary>
public static class Patches
{
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (name, value) in patchObject)
        {
            if (value is null) result.Remove(name);
            else result[name] = MergePatch(result[name], value);
        }
        return result;
    }

    public static JsonNode JsonPatch(JsonNode target, JsonArray operations)
    {
        var doc = target.DeepClone();
        foreach (var op in operations.OfType<JsonObject>())
        {
            string kind = (string)op["op"]!;
            string path = (string)op["path"]!;
            switch (kind)
            {
                case "add": Set(ref doc, path, op["value"]?.DeepClone(), insert: true); break;
                case "replace": Set(ref doc, path, op["value"]?.DeepClone(), insert: false); break;
                case "remove": Remove(doc, path); break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(doc, path), op["value"])) throw new InvalidOperationException($"test failed at {path}");
                    break;
                case "copy": Set(ref doc, path, Get(doc, (string)op["from"]!)?.DeepClone(), insert: true); break;
                case "move":
                    var value = Get(doc, (string)op["from"]!)?.DeepClone();
                    Remove(doc, (string)op["from"]!);
                    Set(ref doc, path, value, insert: true);
                    break;
                default: throw new InvalidOperationException($"unsupported JSON patch op {kind}");
            }
        }
        return doc;
    }

    private static string[] Tokens(string path) =>
        path.Length == 0 ? [] : path[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();

    private static JsonNode? Get(JsonNode? doc, string path)
    {
        foreach (var token in Tokens(path))
            doc = doc switch { JsonObject o => o[token], JsonArray a => a[int.Parse(token)], _ => throw new InvalidOperationException($"no such path {path}") };
        return doc;
    }

    private static void Set(ref JsonNode doc, string path, JsonNode? value, bool insert)
    {
        var tokens = Tokens(path);
        if (tokens.Length == 0) { doc = value!; return; }
        var parent = Get(doc, "/" + string.Join('/', tokens[..^1].Select(t => t.Replace("~", "~0").Replace("/", "~1"))));
        if (tokens.Length == 1) parent = doc;
        string last = tokens[^1];
        switch (parent)
        {
            case JsonObject o:
                if (!insert && !o.ContainsKey(last)) throw new InvalidOperationException($"no such path {path}");
                o[last] = value;
                break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when insert: a.Insert(int.Parse(last), value); break;
            case JsonArray a: a[int.Parse(last)] = value; break;
            default: throw new InvalidOperationException($"no such path {path}");
        }
    }

    private static void Remove(JsonNode doc, string path)
    {
        var tokens = Tokens(path);
        var parent = tokens.Length == 1 ? doc : Get(doc, "/" + string.Join('/', tokens[..^1].Select(t => t.Replace("~", "~0").Replace("/", "~1"))));
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(tokens[^1]): o.Remove(tokens[^1]); break;
            case JsonArray a: a.RemoveAt(int.Parse(tokens[^1])); break;
            default: throw new InvalidOperationException($"no such path {path}");
        }
    }
}

using System.Text.Json.Nodes;

namespace KubeApiServer;

/// <summary>Label selectors (=, ==, !=, in, notin, exists, !exists) and the metadata field selectors.</summary>
public sealed class Selector
{
    private readonly List<Func<JsonObject, bool>> _labelTests = [];
    private readonly List<Func<JsonObject, bool>> _fieldTests = [];

    public static Selector Parse(string? labelSelector, string? fieldSelector)
    {
        var s = new Selector();
        foreach (var term in SplitTerms(labelSelector))
            s._labelTests.Add(LabelTerm(term));
        foreach (var term in SplitTerms(fieldSelector))
            s._fieldTests.Add(FieldTerm(term));
        return s;
    }

    public bool Matches(JsonObject obj)
    {
        var labels = obj["metadata"]?["labels"] as JsonObject ?? new JsonObject();
        return _labelTests.All(t => t(labels)) && _fieldTests.All(t => t(obj));
    }

    private static IEnumerable<string> SplitTerms(string? selector)
    {
        if (string.IsNullOrWhiteSpace(selector)) yield break;
        int depth = 0, start = 0;
        for (int i = 0; i < selector.Length; i++)
        {
            if (selector[i] == '(') depth++;
            else if (selector[i] == ')') depth--;
            else if (selector[i] == ',' && depth == 0) { yield return selector[start..i].Trim(); start = i + 1; }
        }
        yield return selector[start..].Trim();
    }

    private static Func<JsonObject, bool> LabelTerm(string term)
    {
        static string? Value(JsonObject labels, string key) => labels[key]?.GetValue<string>();
        var words = term.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length >= 2 && (words[1] == "in" || words[1] == "notin" || words[1].StartsWith("in(") || words[1].StartsWith("notin(")))
        {
            var key = words[0];
            var rest = term[key.Length..].Trim();
            bool notIn = rest.StartsWith("notin");
            var set = rest[(rest.IndexOf('(') + 1)..rest.LastIndexOf(')')].Split(',').Select(v => v.Trim()).ToHashSet();
            return l => notIn ? !set.Contains(Value(l, key) ?? "\0") : set.Contains(Value(l, key) ?? "\0");
        }
        int ne = term.IndexOf("!=", StringComparison.Ordinal);
        if (ne > 0) { var (k, v) = (term[..ne].Trim(), term[(ne + 2)..].Trim()); return l => Value(l, k) != v; }
        int eq = term.IndexOf('=');
        if (eq > 0) { var (k, v) = (term[..eq].Trim(), term[(eq + 1)..].TrimStart('=').Trim()); return l => Value(l, k) == v; }
        if (term.StartsWith('!')) { var k = term[1..].Trim(); return l => !l.ContainsKey(k); }
        return l => l.ContainsKey(term);
    }

    private static Func<JsonObject, bool> FieldTerm(string term)
    {
        bool negate = term.Contains("!=");
        var parts = term.Split(negate ? "!=" : "=", 2);
        var path = parts[0].Trim().TrimEnd('=').Split('.');
        var expected = parts.Length > 1 ? parts[1].TrimStart('=').Trim() : "";
        return o =>
        {
            JsonNode? node = o;
            foreach (var p in path) node = node?[p];
            var actual = node?.ToString() ?? "";
            return negate ? actual != expected : actual == expected;
        };
    }
}

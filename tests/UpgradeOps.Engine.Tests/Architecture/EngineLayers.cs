using Mono.Cecil;
using Mono.Cecil.Cil;

namespace UpgradeOps.Tests.Architecture;

/// <summary>
/// The engine's parts and what each uses, read from the compiled assembly (every type a type names in its
/// signatures, attributes and method bodies; compiler-generated closures and state machines count for the type
/// that declares them). A part is a namespace: UpgradeOps.Compose is "Compose", the root namespace UpgradeOps
/// (the objects users script against, and the types every part shares) is "Model".
/// </summary>
public static class EngineLayers
{
    public sealed record Edge(string From, string To, string FromType, string ToType);

    public static string PartOf(string? ns) =>
        string.IsNullOrEmpty(ns) || ns == "UpgradeOps" ? "Model" : ns.StartsWith("UpgradeOps.", StringComparison.Ordinal) ? ns.Split('.')[1] : "";

    /// <summary>Every dependency between two different parts, with one example pair of types each.</summary>
    public static IReadOnlyList<Edge> Dependencies(string assemblyPath)
    {
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        var edges = new Dictionary<(string, string), Edge>();
        foreach (var type in module.GetTypes())
        {
            var top = type;
            while (top.DeclaringType is not null) top = top.DeclaringType;
            if (top.Name == "<Module>" || top.Namespace.Length == 0 && top.Name.StartsWith('<')) continue;
            var from = PartOf(top.Namespace);
            foreach (var used in Used(type))
            {
                var usedTop = used;
                while (usedTop.DeclaringType is not null) usedTop = usedTop.DeclaringType;
                if (usedTop.Scope is not ModuleDefinition && usedTop.Module != module) continue;
                if (!usedTop.Namespace.StartsWith("UpgradeOps", StringComparison.Ordinal) && usedTop.Namespace.Length > 0) continue;
                if (usedTop.Name.StartsWith('<')) continue;
                var to = PartOf(usedTop.Namespace);
                if (to.Length == 0 || to == from) continue;
                edges.TryAdd((from, to), new Edge(from, to, top.FullName, usedTop.FullName));
            }
        }
        return edges.Values.OrderBy(e => e.From).ThenBy(e => e.To).ToList();
    }

    /// <summary>The groups of parts that use each other in a circle (Tarjan's strongly connected components).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Cycles(IReadOnlyList<Edge> edges)
    {
        var graph = edges.GroupBy(e => e.From).ToDictionary(g => g.Key, g => g.Select(e => e.To).ToList());
        var nodes = edges.SelectMany(e => new[] { e.From, e.To }).Distinct().OrderBy(n => n).ToList();
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<IReadOnlyList<string>>();
        var next = 0;

        void Visit(string node)
        {
            index[node] = low[node] = next++;
            stack.Push(node);
            onStack.Add(node);
            foreach (var target in graph.GetValueOrDefault(node) ?? new List<string>())
            {
                if (!index.ContainsKey(target))
                {
                    Visit(target);
                    low[node] = Math.Min(low[node], low[target]);
                }
                else if (onStack.Contains(target)) low[node] = Math.Min(low[node], index[target]);
            }
            if (low[node] != index[node]) return;
            var component = new List<string>();
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                component.Add(member);
            } while (member != node);
            if (component.Count > 1) result.Add(component.OrderBy(n => n).ToList());
        }

        foreach (var node in nodes.Where(n => !index.ContainsKey(n))) Visit(node);
        return result;
    }

    private static IEnumerable<TypeReference> Used(TypeDefinition type)
    {
        var found = new List<TypeReference>();
        void Add(TypeReference? reference)
        {
            switch (reference)
            {
                case null: return;
                case GenericInstanceType generic:
                    Add(generic.ElementType);
                    foreach (var argument in generic.GenericArguments) Add(argument);
                    return;
                case TypeSpecification specification:
                    Add(specification.ElementType);
                    return;
                case GenericParameter:
                    return;
                default:
                    found.Add(reference);
                    return;
            }
        }
        void AddAttributes(ICustomAttributeProvider provider)
        {
            foreach (var attribute in provider.CustomAttributes) Add(attribute.AttributeType);
        }
        void AddMethod(MethodReference method)
        {
            Add(method.DeclaringType);
            Add(method.ReturnType);
            foreach (var parameter in method.Parameters) Add(parameter.ParameterType);
            if (method is GenericInstanceMethod generic)
                foreach (var argument in generic.GenericArguments) Add(argument);
        }

        Add(type.BaseType);
        AddAttributes(type);
        foreach (var implemented in type.Interfaces) Add(implemented.InterfaceType);
        foreach (var field in type.Fields) { Add(field.FieldType); AddAttributes(field); }
        foreach (var property in type.Properties) { Add(property.PropertyType); AddAttributes(property); }
        foreach (var method in type.Methods)
        {
            AddMethod(method);
            AddAttributes(method);
            if (!method.HasBody) continue;
            foreach (var variable in method.Body.Variables) Add(variable.VariableType);
            foreach (var handler in method.Body.ExceptionHandlers) Add(handler.CatchType);
            foreach (var instruction in method.Body.Instructions)
            {
                switch (instruction.Operand)
                {
                    case TypeReference reference: Add(reference); break;
                    case MethodReference called: AddMethod(called); break;
                    case FieldReference field: Add(field.DeclaringType); Add(field.FieldType); break;
                }
            }
        }
        return found;
    }
}

public class EngineLayersTests
{
    private static string EngineAssembly => typeof(UpgradeOps.UpgradeOpsException).Assembly.Location;

    [Fact]
    public void The_engine_parts_use_each_other_in_no_circle()
    {
        var edges = EngineLayers.Dependencies(EngineAssembly);
        var cycles = EngineLayers.Cycles(edges);
        var explanation = string.Join("\n", cycles.Select(cycle =>
            string.Join(" ↔ ", cycle) + ":\n" + string.Join("\n", edges
                .Where(e => cycle.Contains(e.From) && cycle.Contains(e.To))
                .Select(e => $"    {e.From} → {e.To} ({e.FromType} uses {e.ToType})"))));
        Assert.True(cycles.Count == 0, "The engine's parts use each other in a circle:\n" + explanation);
    }

    /// <summary>
    /// The parts from the bottom up: each may use only parts listed before it. A part not listed is a platform (Compose,
    /// Kubernetes, and any added later): it may use every listed part, and never another platform. docs/architecture.md
    /// explains the order.
    /// </summary>
    private static readonly string[] Layers =
        ["Model", "Hosting", "Versioning", "Profiles", "ReleaseNotes", "Journal", "Backups", "Platforms", "Planning", "Upgrades", "Validation", "Reporting", "Rehearsals"];

    [Fact]
    public void Each_part_uses_only_the_parts_below_it_and_no_platform_another()
    {
        var edges = EngineLayers.Dependencies(EngineAssembly);
        int Rank(string part) => Array.IndexOf(Layers, part) is var index and >= 0 ? index : Layers.Length;
        var wrong = edges.Where(e => Rank(e.To) >= Rank(e.From))
            .Select(e => Rank(e.From) == Layers.Length && Rank(e.To) == Layers.Length
                ? $"{e.From} → {e.To}: one platform uses another ({e.FromType} uses {e.ToType})"
                : $"{e.From} → {e.To}: {e.To} is not below {e.From} ({e.FromType} uses {e.ToType})").ToList();
        Assert.True(wrong.Count == 0, "Parts use what they may not:\n" + string.Join("\n", wrong));
    }
}

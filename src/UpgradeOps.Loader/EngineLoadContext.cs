using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace UpgradeOps.Loader;

/// <summary>
/// Loads the engine and every third-party assembly it ships from Dependencies/ into a load context of its
/// own, so UpgradeOps works beside modules that bring other versions of YamlDotNet, Newtonsoft.Json and the
/// like (the "Engine" pattern of the PowerShell docs on module assembly dependency conflicts).
/// </summary>
internal sealed class EngineLoadContext : AssemblyLoadContext
{
    private static readonly string DependencyFolder =
        Path.Combine(Path.GetDirectoryName(typeof(EngineLoadContext).Assembly.Location)!, "Dependencies");

    // Names and paths only: reading a version opens the file, and doing that for every framework assembly
    // (about 170) was most of what resolving the engine at Import-Module cost.
    private static readonly Lazy<Dictionary<string, string>> FrameworkAssemblyPaths = new(ReadFrameworkAssemblyPaths);

    public static EngineLoadContext Instance { get; } = new();

    private EngineLoadContext() : base("UpgradeOps.Engine", isCollectible: false)
    {
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var path = Path.Combine(DependencyFolder, assemblyName.Name + ".dll");
        if (!File.Exists(path)) return null; // not ours: let the default context provide it

        // A framework assembly the runtime already has in the same or a newer version is shared, so types such
        // as Activity or JsonElement mean the same thing on both sides.
        if (FrameworkAssemblyPaths.Value.TryGetValue(assemblyName.Name!, out var frameworkPath) &&
            FrameworkVersion(frameworkPath) is { } frameworkVersion && frameworkVersion >= AssemblyName.GetAssemblyName(path).Version)
            return null;

        return LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = Path.Combine(DependencyFolder, unmanagedDllName);
        return File.Exists(path) ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }

    private static Dictionary<string, string> ReadFrameworkAssemblyPaths()
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var list = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? string.Empty;
        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        foreach (var file in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            // Only the shared framework counts; PowerShell's own third-party assemblies must not shadow ours.
            if (file.StartsWith(runtimeDirectory, StringComparison.Ordinal))
                result[Path.GetFileNameWithoutExtension(file)] = file;
        }
        return result;
    }

    private static Version? FrameworkVersion(string frameworkPath)
    {
        try
        {
            return AssemblyName.GetAssemblyName(frameworkPath).Version;
        }
        catch (BadImageFormatException)
        {
            return null; // native image in the list: not an assembly we could load anyway
        }
    }
}

/// <summary>Sends the default context's requests for the engine assembly (and only it) to <see cref="EngineLoadContext"/>.</summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private const string EngineAssemblyName = "UpgradeOps.Engine";

    public void OnImport() => AssemblyLoadContext.Default.Resolving += ResolveEngine;

    public void OnRemove(PSModuleInfo module) => AssemblyLoadContext.Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext defaultContext, AssemblyName name) =>
        name.Name == EngineAssemblyName ? EngineLoadContext.Instance.LoadFromAssemblyName(name) : null;
}

using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace UpgradeOps.Commands.Completion;

/// <summary>
/// Completes service names from the bound -Deployment (its Services, as Get-UpgradeDeployment described them):
/// nothing is read from Docker while typing.
/// </summary>
public sealed class ServiceNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            var deployment = CompletionSupport.Bound(fakeBoundParameters, "Deployment");
            if (deployment is null) return Array.Empty<CompletionResult>();
            var typed = CompletionSupport.Unquote(wordToComplete ?? "");
            var services = PSObject.AsPSObject(deployment).Properties["Services"]?.Value as IEnumerable ?? Array.Empty<object>();
            return services.Cast<object?>().Where(s => s is not null).Select(s => PSObject.AsPSObject(s!))
                .Select(s => (Name: s.Properties["Name"]?.Value?.ToString() ?? "", Role: s.Properties["Role"]?.Value?.ToString() ?? ""))
                .Where(s => s.Name.Length > 0 && s.Name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                .OrderBy(s => s.Name, StringComparer.Ordinal)
                .Select(s => CompletionSupport.Result(CompletionSupport.Quote(s.Name), s.Name, $"{s.Role} service of {CompletionSupport.Property(deployment, "Name")}"))
                .ToList();
        }
        catch (Exception)
        {
            return Array.Empty<CompletionResult>();
        }
    }
}

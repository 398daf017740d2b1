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
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSupport.Safely(() =>
        {
            var deployment = CompletionSupport.Bound(fakeBoundParameters, "Deployment");
            if (deployment is null) return Array.Empty<CompletionResult>();
            var services = PSObject.AsPSObject(deployment).Properties["Services"]?.Value as IEnumerable ?? Array.Empty<object>();
            return CompletionSupport.Matching(wordToComplete, services.Cast<object?>().Where(s => s is not null).Select(s => PSObject.AsPSObject(s!))
                .Select(s => (Name: s.Properties["Name"]?.Value?.ToString() ?? "", Role: s.Properties["Role"]?.Value?.ToString() ?? ""))
                .OrderBy(s => s.Name, StringComparer.Ordinal)
                .Select(s => (s.Name, ToolTip: $"{s.Role} service of {CompletionSupport.Property(deployment, "Name")}")));
        });
}

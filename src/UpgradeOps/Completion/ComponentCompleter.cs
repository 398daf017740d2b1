using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace UpgradeOps.Commands.Completion;

/// <summary>
/// Completes -Component of New-DeploymentBackup: the data stores of the deployment's profile (the bound -Deployment's
/// profile, else infrahub) and config, read from the profile alone, never from Docker.
/// </summary>
public sealed class ComponentCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionSupport.Safely(() =>
        {
            var profile = CompletionSupport.ProfileOf(fakeBoundParameters);
            return CompletionSupport.Matching(wordToComplete, CompletionSupport.DataStoreNames(CompletionSupport.ResolveProfile(profile))
                .Select(name => (Name: name, ToolTip: $"data store '{name}' of profile {profile}"))
                .Append((Name: "config", ToolTip: "the compose file and .env")));
        });
}

using System.Collections;
using System.Management.Automation;
using UpgradeOps.Commands.Completion;
using UpgradeOps.Commands.Hosting;
using UpgradeOps.Upgrades;

namespace UpgradeOps.Commands;

/// <summary>
/// <para type="synopsis">Applies the profile's configuration migrations for an upgrade: adds or moves keys in a Helm values file, or variables in a Compose .env, with a diff.</para>
/// <para type="description">Convert-UpgradeConfiguration finds the configuration rules of the deployment's profile that the
/// upgrade from its current version to -To crosses (for a Helm release also the chart versions, up to -ChartVersion) and
/// applies them to the file that configures it. On a Helm release that is the values file you give with -ValuesFile: a
/// required key is added with the rule's default, a value you give with -ConfigurationValue, or a generated secret (parent
/// maps are created as needed), and a key the chart renamed is moved to its new place with its comments and nested lines.
/// Only those lines change: every comment, blank line, key order and indentation of the rest of the file stays as it was. A
/// key already set in the file or in the release's values (which helm upgrade reuses) is left alone (AlreadySet). On a
/// Compose deployment the same rules edit the .env beside the compose file. A .env that sets a variable twice is read
/// as compose reads it, the last assignment winning, and that last line is the one edited. A value that needs quoting
/// in .env ($, #, spaces) is written in single quotes; one with a line break cannot be written (ConfigurationValueInvalid).</para>
/// <para type="description">The file is written atomically (a temporary file renamed over it), never half-written, with its
/// line ends (an added line of a CRLF file ends in CRLF) and its byte order mark kept. The diff it shows masks values you
/// gave, generated values and keys whose names say they are secret. Invoke-Upgrade runs the same migration itself before it
/// upgrades; run this cmdlet first to review the change or to commit it to your configuration repository.</para>
/// <para type="description">Changing a deployment's configuration asks for confirmation, as Invoke-Upgrade does (ConfirmImpact
/// High): give -Force (or -Confirm:$false) to write without a prompt, as an unattended runbook must; in a non-interactive
/// session without either the prompt fails and nothing is written. -WhatIf prints the masked diff and writes nothing.</para>
/// <para type="description">Everything local is read first: the compose file and .env, or the values file (ValuesFileNotFound,
/// ValuesFileUnreadable with the file, line and column, also for a key set twice), and only then the cluster for the release's
/// values (KubernetesUnreachable when it does not answer).</para>
/// <para type="description">When a rule requires a value that has no default and was not given, nothing is written and an
/// error with ErrorId ConfigurationValueRequired says which -ConfigurationValue to give.</para>
/// </summary>
/// <example>
/// <code>$d = Get-UpgradeDeployment -Namespace infrahub -Release infrahub
/// $d | Convert-UpgradeConfiguration -To 1.7.6 -ChartVersion 4.0.0 -ValuesFile ./values-prod.yaml -WhatIf</code>
/// <para>Shows the diff of values-prod.yaml the rules between the release's version and 1.7.6 (and chart 4.0.0) would make. Nothing is written.</para>
/// </example>
/// <example>
/// <code>$d | Test-UpgradePath -To 1.7.6 | Convert-UpgradeConfiguration -ValuesFile ./values-prod.yaml -Force</code>
/// <para>Takes the deployment and the target version from the upgrade path and edits values-prod.yaml without a prompt;
/// the result lists each rule with its Action (Added, Moved, AlreadySet) and the masked Diff.</para>
/// </example>
/// <example>
/// <code>Get-UpgradeDeployment -ComposeFile /srv/app/docker-compose.yml |
///     Convert-UpgradeConfiguration -To 2.0.0 -ConfigurationValue @{ APP_SIGNING_KEY = $key } -Confirm:$false</code>
/// <para>Writes the signing key 2.0.0 requires to the Compose deployment's .env; the diff shows it as ***.</para>
/// </example>
/// <returns>UpgradeOps.ConfigurationChange, one per rule: RuleId, Description, Setting, MovedFrom, File, Action (Added, Moved, AlreadySet, Missing), Applied, Diff (secrets masked).</returns>
/// <seealso cref="InvokeUpgradeCommand"/>
/// <seealso cref="TestUpgradePathCommand"/>
[Cmdlet(VerbsData.Convert, "UpgradeConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ConfigurationChange))]
public sealed class ConvertUpgradeConfigurationCommand : EngineCmdlet
{
    /// <summary>
    /// <para type="description">The deployment from Get-UpgradeDeployment, or an object with a Deployment property (an upgrade path from Test-UpgradePath).</para>
    /// <para type="inputType">UpgradeOps.Deployment, or an UpgradeOps.UpgradePath by its Deployment and To properties.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Rehydrate(typeof(Deployment))]
    public Deployment? Deployment { get; set; }

    /// <summary>
    /// <para type="description">The version the deployment will be upgraded to: the rules between its current version and this one apply.</para>
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string To { get; set; } = "";

    /// <summary>
    /// <para type="description">Helm (required there): the values file you pass to helm upgrade with -f. It must exist (ValuesFileNotFound otherwise) and is edited in place.</para>
    /// </summary>
    [Parameter]
    public string? ValuesFile { get; set; }

    /// <summary>
    /// <para type="description">Helm: the chart version the release will be upgraded to, for rules that apply from a chart version (chartVersion in the profile).</para>
    /// </summary>
    [Parameter]
    public string? ChartVersion { get; set; }

    /// <summary>
    /// <para type="description">Values for rules that have no default, by variable (Compose) or dotted values key (Helm), such as @{ 'auth.signingKey' = '...' }. Written to the file, never shown.</para>
    /// </summary>
    [Parameter]
    public Hashtable? ConfigurationValue { get; set; }

    /// <summary>
    /// <para type="description">Write the file without asking for confirmation (-WhatIf still only shows the diff, -Confirm still asks).</para>
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var deployment = Deployment!;
        var valuesFile = ValuesFile is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(ValuesFile);
        var given = ConfigurationValues(ConfigurationValue);
        RunEngineOrWriteError(context => ConfigurationMigration.PlanAsync(deployment, To, valuesFile, ChartVersion, given, context), plan =>
        {
            var (edit, changes) = plan;
            if (changes.Where(c => c.Action == ConfigurationAction.Missing).ToList() is { Count: > 0 } missing)
            {
                WriteObject(changes, enumerateCollection: true);
                throw Profiles.ConfigurationRules.MissingValues(missing, To, missing[0].File, "the file");
            }
            if (edit is null)
            {
                if (changes.Count == 0) WriteVerbose($"No configuration rule applies between {deployment.Version} and {To}.");
                WriteObject(changes, enumerateCollection: true);
                return;
            }
            if (!ShouldChange(edit.Path, $"Convert the configuration of '{deployment.Name}' for {To}:\n{edit.Diff.TrimEnd('\n')}", "Convert configuration", Force)) return;
            edit.Apply();
            foreach (var change in changes) change.Applied = change.Action is ConfigurationAction.Added or ConfigurationAction.Moved;
            WriteObject(changes, enumerateCollection: true);
        });
    }
}

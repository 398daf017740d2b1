using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using UpgradeOps.Versioning;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

using UpgradeOps.Kubernetes;

namespace UpgradeOps.Profiles;

/// <summary>Checks what YAML typing cannot: required fields, unique names, versions, cross references.</summary>
internal sealed partial class ProfileValidator(string source, ConditionalWeakTable<object, ProfileLoader.MarkBox> marks)
{
    private static readonly NullabilityInfoContext Nullability = new();

    public void Validate(ProductProfile profile)
    {
        FillEmptyKeys(profile, "");
        if (profile.SchemaVersion != 1)
            Fail(profile, $"schemaVersion {profile.SchemaVersion} is not supported; this module reads schemaVersion 1.");
        if (string.IsNullOrWhiteSpace(profile.Name))
            Fail(profile, "'name' is required.");
        if (profile.Services.Count == 0)
            Fail(profile, "'services' must list at least one service.");

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var service in profile.Services)
        {
            if (string.IsNullOrWhiteSpace(service.Name)) Fail(service, "every service needs a 'name'.");
            if (!names.Add(service.Name)) Fail(service, $"service '{service.Name}' is declared twice.");
            if (service.Replicas < 0) Fail(service, $"service '{service.Name}': replicas {service.Replicas} must be 0 or more.");
            if (service.KubernetesSelector is { } selector)
            {
                // An empty selector would claim every workload of the release for this one service.
                if (selector.MatchLabels.Count == 0)
                    Fail(selector, $"service '{service.Name}': kubernetesSelector.matchLabels needs at least one label (for example infrahub/service: server).");
                foreach (var (label, value) in selector.MatchLabels)
                    if (string.IsNullOrWhiteSpace(label) || value is null)
                        Fail(selector, $"service '{service.Name}': kubernetesSelector.matchLabels has a label without a name or value ('{label}'); give both, as 'infrahub/service: server'.");
            }
        }

        foreach (var version in profile.Catalog)
            if (!ProductVersion.TryParse(version, out _))
                Fail(profile.Catalog, $"catalog entry '{version}' is not a semantic version (for example 1.7.6).");
        ValidateHelmCharts(profile.Version);

        CheckRange(profile.Estimates, profile.Estimates.Patch, "estimates.patch");
        CheckRange(profile.Estimates, profile.Estimates.Minor, "estimates.minor");
        CheckRange(profile.Estimates, profile.Estimates.Major, "estimates.major");
        if (!double.IsFinite(profile.Estimates.MinutesPerGigabyte) || profile.Estimates.MinutesPerGigabyte < 0)
            Fail(profile.Estimates, $"estimates.minutesPerGigabyte {profile.Estimates.MinutesPerGigabyte} must be a number of minutes, 0 or more.");
        if (profile.VersionPolicy.MaxMinorStep < 1)
            Fail(profile.VersionPolicy, "versionPolicy.maxMinorStep must be 1 or more.");
        if (profile.Api.Service is { } apiService && !names.Contains(apiService))
            Fail(profile.Api, $"api.service '{apiService}' is not one of the declared services.");
        if ((profile.Api.TokenHeader is null) != (profile.Api.TokenVariable is null))
            Fail(profile.Api, "api.tokenHeader and api.tokenVariable go together: the header that carries the token and the variable of the API service's container that holds it; give both or neither.");
        if (profile.Api.TokenVariable is not null && profile.Api.Service is null)
            Fail(profile.Api, "api.tokenVariable is read in the API service's container: add api.service.");
        if (profile.Api.TokenHeader is { } header && !System.Text.RegularExpressions.Regex.IsMatch(header, "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"))
            Fail(profile.Api, $"api.tokenHeader '{header}' is not an HTTP header name (letters, digits and -, such as X-INFRAHUB-KEY).");
        if (profile.Api.Port is < 1 or > 65535)
            Fail(profile.Api, $"api.port {profile.Api.Port} is not a TCP port (1-65535).");
        ValidateChecks(profile.Validation, names);

        if (profile.Version.Service is { } versionService && !names.Contains(versionService))
            Fail(profile.Version, $"version.service '{versionService}' is not one of the declared services.");
        if (profile.Migration.Service is { } migrationService && !names.Contains(migrationService))
            Fail(profile.Migration, $"migration.service '{migrationService}' is not one of the declared services.");
        if (profile.Migration.KubernetesJobEnabledBy is { } enabledBy && profile.Migration.KubernetesJob is null)
            Fail(profile.Migration, $"migration.kubernetesJobEnabledBy '{enabledBy}' says how the chart renders a migration Job, but migration names no kubernetesJob: add it, or remove kubernetesJobEnabledBy.");
        if (profile.Migration.KubernetesExec is { } execService)
        {
            var service = profile.Services.FirstOrDefault(s => string.Equals(s.Name, execService, StringComparison.OrdinalIgnoreCase));
            if (service is null)
                Fail(profile.Migration, $"migration.kubernetesExec '{execService}' is not one of the declared services.");
            else if (string.IsNullOrWhiteSpace(service.KubernetesWorkload) && service.KubernetesSelector is null)
                Fail(profile.Migration, $"migration.kubernetesExec names service '{execService}', which has no kubernetesWorkload or kubernetesSelector to find its pods by.");
            if (profile.Migration.Command.Count == 0)
                Fail(profile.Migration, "migration.kubernetesExec needs the migration 'command' to run in the pod.");
        }
        if (profile.Rolling.MinReadySeconds is < 0 or > 600)
            Fail(profile.Rolling, $"rolling.minReadySeconds {profile.Rolling.MinReadySeconds} must be between 0 and 600 seconds.");
        foreach (var pattern in profile.Migration.FailurePatterns)
            if (!IsRegex(pattern, out var why))
                Fail(profile.Migration, $"migration.failurePatterns: '{pattern}' is not a valid regular expression ({why}).");
        foreach (var version in profile.Migration.MixedVersionSafe)
            if (!ProductVersion.TryParse(version, out _))
                Fail(profile.Migration, $"migration.mixedVersionSafe entry '{version}' is not a semantic version.");

        var stores = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var store in profile.DataStores)
        {
            if (string.IsNullOrWhiteSpace(store.Name)) Fail(store, "every data store needs a 'name'.");
            if (!stores.Add(store.Name)) Fail(store, $"data store '{store.Name}' is declared twice.");
            if (store.Kind is DataStoreKind.Postgres or DataStoreKind.Neo4j && string.IsNullOrWhiteSpace(store.Service))
                Fail(store, $"data store '{store.Name}' ({store.Kind}) needs the 'service' that runs it.");
            if (store.Service is not null && !names.Contains(store.Service))
                Fail(store, $"data store '{store.Name}' names service '{store.Service}', which is not declared.");
            if (store.Kind == DataStoreKind.Postgres && string.IsNullOrWhiteSpace(store.Database))
                Fail(store, $"data store '{store.Name}' (Postgres) needs a 'database'.");
            if (store.Edition is not null && store.Kind != DataStoreKind.Neo4j)
                Fail(store, $"data store '{store.Name}' ({store.Kind}): 'edition' applies to Neo4j data stores only.");
            if (store.Kind == DataStoreKind.Volume && string.IsNullOrWhiteSpace(store.Volume))
                Fail(store, $"data store '{store.Name}' (Volume) needs a 'volume'.");
            if (store.Port is < 1 or > 65535)
                Fail(store, $"data store '{store.Name}': port {store.Port} is not a TCP port (1-65535).");
            if (store.KubernetesWorkload is not null)
            {
                if (store.Kind != DataStoreKind.Volume)
                    Fail(store, $"data store '{store.Name}': 'kubernetesWorkload' applies to Volume data stores only.");
                if (!names.Contains(store.KubernetesWorkload))
                    Fail(store, $"data store '{store.Name}' names kubernetesWorkload '{store.KubernetesWorkload}', which is not a declared service.");
                if (string.IsNullOrWhiteSpace(store.Path) || !store.Path.StartsWith('/') || store.Path.TrimEnd('/').Length == 0)
                    Fail(store, $"data store '{store.Name}': 'kubernetesWorkload' needs the absolute 'path' in its pod (not '/'), for example /opt/app/storage.");
            }
        }

        foreach (var resource in profile.KubernetesResources)
        {
            if (resource.Kind is not ("ConfigMap" or "Secret"))
                Fail(resource, $"kubernetesResources: kind '{resource.Kind}' is not supported; give ConfigMap or Secret.");
            if (string.IsNullOrWhiteSpace(resource.Name))
                Fail(resource, "kubernetesResources: every entry needs a 'name' ({release} stands for the release's name).");
        }
        if (profile.KubernetesResources.Count > 0 && stores.Contains(ProductProfile.KubernetesResourcesComponent))
            Fail(profile, $"data store '{ProductProfile.KubernetesResourcesComponent}' has the name of the kubernetesResources backup component; rename it.");

        foreach (var rule in profile.ConfigurationRules)
        {
            if (string.IsNullOrWhiteSpace(rule.Id)) Fail(rule, "every configuration rule needs an 'id'.");
            if (rule.AppVersion is null && rule.ChartVersion is null)
                Fail(rule, $"configuration rule '{rule.Id}' needs 'appVersion' or 'chartVersion' (from which version it applies).");
            if (rule.AppVersion is not null && !ProductVersion.TryParse(rule.AppVersion, out _))
                Fail(rule, $"configuration rule '{rule.Id}': appVersion '{rule.AppVersion}' is not a semantic version.");
            if (rule.ChartVersion is not null && !ProductVersion.TryParse(rule.ChartVersion, out _))
                Fail(rule, $"configuration rule '{rule.Id}': chartVersion '{rule.ChartVersion}' is not a semantic version.");
            if (rule.RequiresVariable is null && rule.RequiresValuesKey is null)
                Fail(rule, $"configuration rule '{rule.Id}' needs 'requiresVariable' (Compose) or 'requiresValuesKey' (Helm).");
            foreach (var key in new[] { rule.RequiresValuesKey, rule.MovedFrom }.OfType<string>())
                if (key.Split('.').Any(part => part.Trim().Length == 0))
                    Fail(rule, $"configuration rule '{rule.Id}': '{key}' is not a dotted values key (such as cache.host).");
            if (rule.MovedFrom is not null && rule.RequiresValuesKey is null)
                Fail(rule, $"configuration rule '{rule.Id}': 'movedFrom' needs 'requiresValuesKey' (the key the value moves to).");
        }

        ValidateDiagnostics(profile.Diagnostics);
        foreach (var port in profile.Rehearsal.Ports.Where(p => p is < 1 or > 65535))
            Fail(profile.Rehearsal, $"rehearsal.ports: {port} is not a TCP port (1-65535).");
        if (!(profile.Rehearsal.WindowSafetyFactor >= 1) || double.IsInfinity(profile.Rehearsal.WindowSafetyFactor))
            Fail(profile.Rehearsal, $"rehearsal.windowSafetyFactor {profile.Rehearsal.WindowSafetyFactor} must be at least 1: a rehearsal on a copy does not make the real window shorter.");
    }

    /// <summary>version.helmCharts: full versions, a range only where a values key sets the image tag, no chart twice, no newer chart shipping an older app.</summary>
    private void ValidateHelmCharts(VersionLocation version)
    {
        var charts = new List<(HelmChartVersion Entry, ProductVersion Chart, ProductVersion App)>();
        foreach (var entry in version.HelmCharts)
        {
            if (!ProductVersion.TryParse(entry.Version, out var chart))
                Fail(entry, string.IsNullOrWhiteSpace(entry.Version)
                    ? "version.helmCharts: every entry needs 'version', the chart's version as in its Chart.yaml (for example 4.1.13)."
                    : $"version.helmCharts: chart version '{entry.Version}' is not a semantic version (for example 4.1.13).");
            if (!ProductVersion.TryParse(entry.AppVersion, out var app))
                Fail(entry, string.IsNullOrWhiteSpace(entry.AppVersion)
                    ? $"version.helmCharts: chart {entry.Version} needs 'appVersion', the app version it ships (its Chart.yaml appVersion)."
                    : $"version.helmCharts: chart {entry.Version}: appVersion '{entry.AppVersion}' is not a semantic version (for example 1.1.8).");
            if (entry.AppVersionRange is not null)
            {
                if (version.HelmValuesKey is null)
                    Fail(entry, $"version.helmCharts: chart {entry.Version} has an appVersionRange, but a chart installs an app version other than its appVersion " +
                                "only through version.helmValuesKey (the values key of the image tag). Set helmValuesKey, or remove appVersionRange.");
                if (!VersionRange.TryParse(entry.AppVersionRange, out _))
                    Fail(entry, $"version.helmCharts: chart {entry.Version}: appVersionRange '{entry.AppVersionRange}' is not a version range " +
                                "(for example \">=1.6.4 <=2.0.0\", 1.7.x or ^1.6.0).");
            }
            if (charts.Any(c => c.Chart.Equals(chart)))
                Fail(entry, $"version.helmCharts: chart {entry.Version} is listed twice.");
            charts.Add((entry, chart!, app!));
        }

        var ordered = charts.OrderBy(c => c.Chart).ToList();
        for (var i = 1; i < ordered.Count; i++)
            if (ordered[i].App < ordered[i - 1].App)
                Fail(ordered[i].Entry, $"version.helmCharts: chart {ordered[i].Chart} ships app {ordered[i].App}, older than app {ordered[i - 1].App} of the older chart " +
                                       $"{ordered[i - 1].Chart}. A newer chart does not ship an older app version: check the two entries.");
    }

    /// <summary>validation: what Test-PostUpgrade and Test-UpgradeReadiness run, checked here rather than failing (or never ending) there.</summary>
    private void ValidateChecks(ValidationDefinition validation, HashSet<string> services)
    {
        if (validation.CheckTimeoutSeconds < 1)
            Fail(validation, $"validation.checkTimeoutSeconds {validation.CheckTimeoutSeconds} must be 1 or more.");
        foreach (var check in validation.GraphQL)
        {
            if (string.IsNullOrWhiteSpace(check.Name)) Fail(check, "validation.graphQL: every check needs a 'name'.");
            if (string.IsNullOrWhiteSpace(check.Query)) Fail(check, $"validation.graphQL: check '{check.Name}' needs its 'query'.");
        }
        foreach (var (key, operation) in new[] { ("artifactGeneration", validation.ArtifactGeneration), ("gitSync", validation.GitSync) })
        {
            if (operation is null) continue;
            var (graphQL, http) = (!string.IsNullOrWhiteSpace(operation.Request), !string.IsNullOrWhiteSpace(operation.RequestPath));
            if (graphQL == http)
                Fail(operation, $"validation.{key} has {(graphQL ? "both" : "neither")} 'request' and 'requestPath': give one, the GraphQL request or the " +
                                "API path (for example /api/artifact/generate/{id}) that starts the operation.");
            foreach (var (field, text) in new[] { ("statusQuery", operation.StatusQuery), ("statusPath", operation.StatusPath) })
                if (string.IsNullOrWhiteSpace(text))
                    Fail(operation, $"validation.{key} needs its '{field}' (statusQuery and statusPath follow the operation until it is ready).");
            if (operation.RequestMethod is { } method && (!http || !HttpMethods.Contains(method)))
                Fail(operation, http
                    ? $"validation.{key}.requestMethod '{method}' is not one of {string.Join(", ", HttpMethods)}."
                    : $"validation.{key}.requestMethod applies to 'requestPath' only (a GraphQL 'request' is always a POST).");
            if (http && !operation.RequestPath!.StartsWith('/'))
                Fail(operation, $"validation.{key}.requestPath '{operation.RequestPath}' must be a path on the API, starting with '/'.");
            if (operation.Service is { } service && !services.Contains(service))
                Fail(operation, $"validation.{key}.service '{service}' is not one of the declared services.");
            if (operation.ListQuery is not null && string.IsNullOrWhiteSpace(operation.ListPath))
                Fail(operation, $"validation.{key}: 'listQuery' needs the 'listPath' of the items in its answer.");
            if (operation.ItemFields.Count > 0 && operation.ListQuery is null)
                Fail(operation, $"validation.{key}: 'itemFields' read the items of 'listQuery'; add listQuery and listPath, or name the one item with 'name'.");
            foreach (var (placeholder, path) in operation.ItemFields)
                if (!Placeholder().IsMatch($"{{{placeholder}}}") || string.IsNullOrWhiteSpace(path))
                    Fail(operation, $"validation.{key}.itemFields: '{placeholder}: {path}' needs a placeholder name of letters, digits and '_' and the dotted path of its value in an item (for example name: name.value).");
            CheckPlaceholders(key, operation);
        }
        foreach (var (key, patterns) in new[] { ("logErrorPatterns", validation.LogErrorPatterns), ("logIgnorePatterns", validation.LogIgnorePatterns) })
            foreach (var pattern in patterns)
                if (!IsRegex(pattern, out var why))
                    Fail(validation, $"validation.{key}: '{pattern}' is not a valid regular expression ({why}).");
        var performance = validation.Performance;
        foreach (var request in performance.Requests)
        {
            if (string.IsNullOrWhiteSpace(request.Name)) Fail(request, "validation.performance.requests: every request needs a 'name'.");
            if (string.IsNullOrWhiteSpace(request.Path) == string.IsNullOrWhiteSpace(request.Query))
                Fail(request, $"validation.performance.requests: request '{request.Name}' needs a 'path' (a GET on the API) or a 'query' (GraphQL), one of them.");
        }
        if (performance.Samples < 1)
            Fail(performance, $"validation.performance.samples {performance.Samples} must be 1 or more.");
        if (!double.IsFinite(performance.WarningRatio) || performance.WarningRatio <= 0)
            Fail(performance, $"validation.performance.warningRatio {performance.WarningRatio} must be a number above 0 (such as 1.5).");
        if (!double.IsFinite(performance.MinimumDifferenceMs) || performance.MinimumDifferenceMs < 0)
            Fail(performance, $"validation.performance.minimumDifferenceMs {performance.MinimumDifferenceMs} must be a number of milliseconds, 0 or more.");
    }

    private static bool IsRegex(string pattern, out string? why)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            why = null;
            return true;
        }
        catch (ArgumentException ex)
        {
            why = ex.Message;
            return false;
        }
    }

    private static readonly string[] HttpMethods = ["POST", "PUT", "PATCH", "DELETE", "GET"];

    [GeneratedRegex(@"\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Placeholder();

    /// <summary>
    /// Every {placeholder} the operation's texts use must be one an item fills: the keys of itemFields, or {name} with 'name'.
    /// A list without itemFields fills whatever top-level fields its items have, which only the answer tells.
    /// </summary>
    private void CheckPlaceholders(string key, AsyncOperationDefinition operation)
    {
        HashSet<string>? filled = operation.ItemFields.Count > 0 ? operation.ItemFields.Keys.ToHashSet(StringComparer.Ordinal)
            : operation.ListQuery is not null ? null
            : operation.Name is null ? [] : ["name"];
        if (filled is null) return;
        var texts = new[] { ("request", operation.Request), ("requestPath", operation.RequestPath), ("statusQuery", operation.StatusQuery) }
            .Concat(operation.ExpectedResultCommand.Select(argument => ("expectedResultCommand", (string?)argument)));
        foreach (var (field, text) in texts)
            foreach (Match match in Placeholder().Matches(text ?? ""))
                if (!filled.Contains(match.Groups[1].Value))
                    Fail(operation, $"validation.{key}.{field} uses the placeholder {match.Value}, which no item fills " +
                                    $"({(filled.Count == 0 ? "this operation fills none" : $"it fills {string.Join(", ", filled.Select(f => $"{{{f}}}"))}")}): " +
                                    "add it to itemFields, or write a GraphQL selection with spaces ('{ id }').");
    }

    /// <summary>
    /// A key with nothing after it ("validation:" with its lines commented out) reads as null: it stands for the key's
    /// default, as if it were left out. An empty list entry ("- " and nothing) has no default and is refused.
    /// </summary>
    private void FillEmptyKeys(object node, string path)
    {
        var defaults = Activator.CreateInstance(node.GetType())!;
        foreach (var property in node.GetType().GetProperties())
        {
            if (!property.CanWrite || property.PropertyType.IsValueType || property.IsDefined(typeof(YamlIgnoreAttribute), true)) continue;
            var key = path + CamelCaseNamingConvention.Instance.Apply(property.Name);
            var nullability = Nullability.Create(property);
            var value = property.GetValue(node);
            if (value is null && nullability.WriteState == NullabilityState.NotNull)
                property.SetValue(node, value = property.GetValue(defaults));
            if (value is IList list)
            {
                var entryMayBeNull = nullability.GenericTypeArguments is [{ ReadState: NullabilityState.Nullable }];
                for (var i = 0; i < list.Count; i++)
                {
                    if (list[i] is null && !entryMayBeNull)
                        Fail(node, $"'{key}' has an empty entry (entry {i + 1}: a '-' with nothing after it); remove it or fill it in.");
                    else if (IsProfileType(list[i])) FillEmptyKeys(list[i]!, $"{key}[{i}].");
                }
            }
            else if (IsProfileType(value)) FillEmptyKeys(value!, key + ".");
        }
    }

    private static bool IsProfileType(object? value) => value is not null && value.GetType().Namespace == typeof(ProductProfile).Namespace && !value.GetType().IsEnum;

    private void ValidateDiagnostics(DiagnosticsDefinition diagnostics)
    {
        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pattern in diagnostics.Patterns)
        {
            if (string.IsNullOrWhiteSpace(pattern.Id)) Fail(pattern, "every diagnostics pattern needs an 'id'.");
            if (!ids.Add(pattern.Id)) Fail(pattern, $"diagnostics pattern '{pattern.Id}' is declared twice.");
            if (string.IsNullOrWhiteSpace(pattern.Guidance)) Fail(pattern, $"diagnostics pattern '{pattern.Id}' needs 'guidance' (what to do when it matches).");
            if (pattern.AppliesTo is not null && !DiagnosticPattern.Targets.Contains(pattern.AppliesTo, StringComparer.OrdinalIgnoreCase))
                Fail(pattern, $"diagnostics pattern '{pattern.Id}': appliesTo '{pattern.AppliesTo}' must be one of {string.Join(", ", DiagnosticPattern.Targets)} (or left out for all three).");
            if (string.IsNullOrWhiteSpace(pattern.Pattern))
                Fail(pattern, $"diagnostics pattern '{pattern.Id}' needs a 'pattern' (a regular expression).");
            try
            {
                _ = new System.Text.RegularExpressions.Regex(pattern.Pattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                Fail(pattern, $"diagnostics pattern '{pattern.Id}': '{pattern.Pattern}' is not a valid regular expression ({ex.Message}).");
            }
        }
    }

    private void CheckRange(object owner, List<int> range, string key)
    {
        if (range.Count != 2 || range[0] < 0 || range[0] > range[1])
            Fail(owner, $"'{key}' must be two minute counts [min, max] with min <= max.");
    }

    private void Fail(object node, string reason)
    {
        var mark = marks.TryGetValue(node, out var box) ? box.Mark : Mark.Empty;
        var where = mark.Equals(Mark.Empty) ? source : ProfileLoader.Location(source, mark);
        throw new ProfileException("InvalidProfile", ErrorKind.InvalidData, source, $"{where}: {reason} Fix the profile and load it again.")
        {
            File = source,
            Line = mark.Equals(Mark.Empty) ? null : (int)mark.Line,
            Column = mark.Equals(Mark.Empty) ? null : (int)mark.Column,
        };
    }
}

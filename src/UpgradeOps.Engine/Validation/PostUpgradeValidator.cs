using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;
using UpgradeOps.Profiles;

using UpgradeOps.Platforms;

namespace UpgradeOps.Validation;

/// <summary>What Test-PostUpgrade asks.</summary>
public sealed class ValidationRequest
{
    public required Deployment Deployment { get; init; }
    /// <summary>The version the API must report; the deployment's configured version when null.</summary>
    public string? ExpectedVersion { get; init; }
    /// <summary>Latencies from before the upgrade, for the Performance check.</summary>
    public PerformanceBaseline? Baseline { get; init; }
    /// <summary>Only these checks (names of <see cref="PostUpgradeValidator.CheckNames"/>); empty means all.</summary>
    public IReadOnlyList<string> Checks { get; init; } = Array.Empty<string>();
    /// <summary>Logs are scanned from this moment; when null, from the start of the newest product container.</summary>
    public DateTimeOffset? Since { get; init; }
    /// <summary>Overrides the API endpoint found from the profile (e.g. through a port-forward).</summary>
    public string? ApiEndpoint { get; init; }
    /// <summary>Overrides the profile's per-check timeout.</summary>
    public TimeSpan? CheckTimeout { get; init; }

    /// <summary>
    /// Where the log scan of a validation after <paramref name="result"/> starts: a rolled-back upgrade is validated from when
    /// its rollback ended (the failed version's errors are history), anything else from the start of the upgrade.
    /// </summary>
    public static DateTimeOffset? LogsSince(UpgradeResult? result) =>
        result is null ? null : result.Status == UpgradeStatus.RolledBack ? result.Started + result.Duration : result.Started;

    /// <summary>The version the API must report after <paramref name="result"/>: its target when it succeeded, else where it started.</summary>
    public static string? ExpectedAfter(UpgradeResult? result) =>
        result is null ? null : result.Status == UpgradeStatus.Succeeded ? result.To : result.From;
}

/// <summary>
/// Proves an upgrade: the API reports the expected version, every service runs healthy with its replicas, the
/// product's GraphQL smoke queries answer, an artifact regenerates, repositories sync to the remote's commit, the
/// logs since the upgrade hold no error lines, and latencies stay near the baseline. Checks run in parallel, each
/// with its own timeout, and one failing never hides another.
/// </summary>
public static class PostUpgradeValidator
{
    public static readonly IReadOnlyList<string> CheckNames =
        new[] { "ApiVersion", "ServiceHealth", "GraphQL", "ArtifactGeneration", "GitSync", "Logs", "Performance" };

    public static async Task<ValidationReport> ValidateAsync(ValidationRequest request, EngineContext context)
    {
        var ct = context.CancellationToken;
        var log = context.CreateLogger(nameof(PostUpgradeValidator));
        var watch = Stopwatch.StartNew();
        var unknown = request.Checks.Where(c => !CheckNames.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count > 0)
            throw new UpgradeOpsException("UnknownCheck", ErrorKind.InvalidArgument, string.Join(", ", unknown),
                $"Unknown check(s) {string.Join(", ", unknown)}. The checks are: {string.Join(", ", CheckNames)}.");

        // Described afresh: the object in the pipeline may date from before the upgrade.
        using var source = await DeploymentPlatforms.Open(request.Deployment).OpenValidationTargetAsync(context).ConfigureAwait(false);
        var deployment = source.Deployment;
        var (api, token) = await WithTokenAsync(source.Api(request.ApiEndpoint), source, log, ct).ConfigureAwait(false);
        // The token is masked like the deployment's own secrets, should an answer ever quote it.
        var tokenMask = token is null ? null : new SecretRedactor([new("API_TOKEN", token)]);
        string Redact(string text) => tokenMask is null ? source.Redactor.Redact(text) : tokenMask.Redact(source.Redactor.Redact(text));
        var expected = request.ExpectedVersion ?? deployment.ConfiguredVersion ?? deployment.Version;
        var report = new ValidationReport { DeploymentName = deployment.Name, ExpectedVersion = expected, CheckedAt = DateTimeOffset.UtcNow };
        var timeout = request.CheckTimeout ?? TimeSpan.FromSeconds(source.Profile.Validation.CheckTimeoutSeconds);
        var validation = source.Profile.Validation;

        var checks = new List<(string Name, Func<CancellationToken, Task<CheckResult>> Run)>
        {
            ("ApiVersion", t => ApiVersionAsync(api, expected, t)),
            ("ServiceHealth", _ => Task.FromResult(ServiceHealth(deployment, source))),
            ("GraphQL", t => GraphQLAsync(api, validation, t)),
            ("ArtifactGeneration", t => AsyncOperationAsync("ArtifactGeneration", api, source, validation.ArtifactGeneration, t)),
            ("GitSync", t => AsyncOperationAsync("GitSync", api, source, validation.GitSync, t)),
            ("Logs", t => LogsAsync(source, validation, request.Since, t)),
            ("Performance", async t =>
            {
                var (result, measured) = await PerformanceAsync(api, source, request.Baseline, t).ConfigureAwait(false);
                report.Performance = measured;
                return result;
            }),
        };
        var selected = checks.Where(c => request.Checks.Count == 0 || request.Checks.Contains(c.Name, StringComparer.OrdinalIgnoreCase)).ToList();
        // A check left out with -Check is in the report as Skipped, saying so: a short report must not read as a complete one.
        var notSelected = checks.Where(c => !selected.Contains(c))
            .Select(c => CheckTimer.Start(c.Name).Skip($"Not run: -Check asked for {string.Join(", ", selected.Select(s => s.Name))} only."));

        using var activity = context.StartActivity($"Validating {deployment.Name}");
        var done = 0;
        var results = await Task.WhenAll(selected.Select(async check =>
        {
            var result = await RunCheckAsync(check.Name, check.Run, timeout, log, Redact, ct).ConfigureAwait(false);
            activity.Report($"{check.Name}: {result.Status}", 100 * Interlocked.Increment(ref done) / selected.Count);
            return result;
        })).ConfigureAwait(false);
        var byName = results.Concat(notSelected).ToDictionary(c => c.Name);
        report.Checks.AddRange(checks.Select(c => byName[c.Name]));
        report.Duration = watch.Elapsed;
        activity.Complete();
        return report;
    }

    /// <summary>Times the profile's requests now: the baseline a later Test-PostUpgrade compares with.</summary>
    public static async Task<PerformanceBaseline> CaptureBaselineAsync(Deployment deployment, string? apiEndpoint, EngineContext context)
    {
        using var source = await DeploymentPlatforms.Open(deployment).OpenValidationTargetAsync(context).ConfigureAwait(false);
        var api = source.Api(apiEndpoint);
        using var activity = context.StartActivity($"Measuring the API latency of {deployment.Name}");
        return await MeasureAsync(api, source, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One check, its texts masked before anything logs or returns them: a GraphQL error may quote its input, an HTTP
    /// error or an exception the API's answer, and either can hold a secret of the deployment.
    /// </summary>
    private static async Task<CheckResult> RunCheckAsync(string name, Func<CancellationToken, Task<CheckResult>> run, TimeSpan timeout, ILogger log,
        Func<string, string> redact, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var check = CheckTimer.Start(name);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        CheckResult result;
        try
        {
            // Off the caller's thread at once, so a check that blocks before its first await cannot hold up the others.
            result = await Task.Run(() => run(limit.Token), limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            result = check.Fail("CheckTimedOut", $"did not finish within {timeout.TotalSeconds:N0} s.",
                "Look at the service's logs (Get-UpgradeDiagnostic); raise the profile's validation.checkTimeoutSeconds if the product is only slow.");
        }
        catch (UpgradeOpsException ex)
        {
            result = check.Fail(ex.ErrorId, ex.Message);
        }
        catch (Exception ex) when (ex is HttpRequestException or Docker.DotNet.DockerApiException or System.Text.Json.JsonException)
        {
            result = check.Fail("CheckError", $"{ex.GetType().Name}: {ex.Message}", "Check that the API endpoint answers (Get-UpgradeDeployment shows it).");
        }
        result.Duration = watch.Elapsed;
        result.Detail = result.Detail is null ? null : redact(result.Detail);
        result.Remedy = result.Remedy is null ? null : redact(result.Remedy);
        log.LogDebug("{Check}: {Status} in {Ms:N0} ms — {Detail}", name, result.Status, watch.Elapsed.TotalMilliseconds, result.Detail);
        return result;
    }

    /// <summary>
    /// The API with the profile's token (api.tokenHeader) when the API service's container holds one (api.tokenVariable): the
    /// product's own operations need an account. Without it, the checks ask as anonymous and say what the API answers.
    /// </summary>
    internal static async Task<(ProductApi Api, string? Token)> WithTokenAsync(ProductApi api, IValidationTarget source, ILogger log, CancellationToken ct)
    {
        if (source.Profile.Api is not { TokenHeader: { } header, TokenVariable: { } variable, Service: { } service }) return (api, null);
        try
        {
            var run = await source.ExecAsync(service, ["printenv", variable], ct).ConfigureAwait(false);
            var token = run.StandardOutputText.Trim();
            if (run.ExitCode == 0 && token.Length > 0) return (api.WithToken(header, token), token);
            log.LogDebug("{Variable} is not set in {Service}: the API is asked without a token.", variable, service);
        }
        catch (Exception ex) when (ex is UpgradeOpsException or HttpRequestException or Docker.DotNet.DockerApiException)
        {
            log.LogDebug("The token could not be read from {Service} ({Reason}): the API is asked without one.", service, ex.Message);
        }
        return (api, null);
    }

    private static string Normalize(string? version) => (version ?? "").Trim().TrimStart('v', 'V');

    private static async Task<CheckResult> ApiVersionAsync(ProductApi api, string? expected, CancellationToken ct)
    {
        var check = CheckTimer.Start("ApiVersion");
        var seen = new List<string>();
        if (api.Definition.Info is { } infoPath)
        {
            var info = await api.GetAsync(infoPath, ct).ConfigureAwait(false);
            seen.Add($"{infoPath} says {ProductApi.Text(info.Json, "version") ?? $"nothing ({string.Join(", ", info.Errors)})"}");
            if (Normalize(ProductApi.Text(info.Json, "version")) != Normalize(expected))
                return check.Fail("ApiVersionMismatch", $"{string.Join("; ", seen)}; expected {expected}.",
                    "The servers still run another image: look at Get-UpgradeHistory and Get-UpgradeDiagnostic; an interrupted upgrade is finished with Invoke-Upgrade -Resume (on a Helm release with -Chart).");
        }
        if (api.Definition.VersionQuery is { } query)
        {
            var answer = await api.GraphQLAsync(query, ct).ConfigureAwait(false);
            var version = ProductApi.Text(answer.Json, api.Definition.VersionQueryPath);
            seen.Add($"GraphQL says {version ?? $"nothing ({string.Join(", ", answer.Errors)})"}");
            if (Normalize(version) != Normalize(expected))
                return check.Fail("ApiVersionMismatch", $"{string.Join("; ", seen)}; expected {expected}.",
                    "The servers still run another image: look at Get-UpgradeHistory and Get-UpgradeDiagnostic.");
        }
        return seen.Count == 0
            ? check.Skip("The profile declares neither api.info nor api.versionQuery.")
            : check.Pass($"{string.Join("; ", seen)} (expected {expected})");
    }

    private static CheckResult ServiceHealth(Deployment fresh, IValidationTarget target)
    {
        var check = CheckTimer.Start("ServiceHealth");
        var problems = new List<string>();
        foreach (var service in fresh.Services.Where(s => s.ExpectedReplicas > 0 || s.Containers.Count > 0))
        {
            var running = service.Containers.Count(c => c.IsHealthy);
            if (running >= service.ExpectedReplicas && service.Containers.All(c => c.IsHealthy)) continue;
            var bad = service.Containers.Where(c => !c.IsHealthy)
                .Select(c => $"{c.Name} {c.State}{(c.Health is { } h && h != "healthy" ? $" ({h})" : "")}{(c.State == "exited" ? $" exit code {c.ExitCode}" : "")}");
            problems.Add($"{service.Name}: {running} of {service.ExpectedReplicas} healthy{(bad.Any() ? " — " + string.Join(", ", bad) : "")}");
        }
        var containers = fresh.Services.Sum(s => s.Containers.Count);
        return problems.Count == 0
            ? check.Pass($"{fresh.Services.Count} services, {containers} {target.InstanceNoun} running and healthy")
            : check.Fail("ServiceUnhealthy", string.Join("; ", problems), target.StartRemedy);
    }

    private static async Task<CheckResult> GraphQLAsync(ProductApi api, ValidationDefinition validation, CancellationToken ct)
    {
        var check = CheckTimer.Start("GraphQL");
        if (validation.GraphQL.Count == 0) return check.Skip("The profile declares no GraphQL smoke queries (validation.graphQL).");
        var answers = await Task.WhenAll(validation.GraphQL.Select(async q => (Query: q, Answer: await api.GraphQLAsync(q.Query, ct).ConfigureAwait(false))))
            .ConfigureAwait(false);
        var failures = answers.Where(a => a.Answer.Errors.Count > 0 || ProductApi.Select(a.Answer.Json, a.Query.DataPath ?? "data") is null)
            .Select(a => $"{a.Query.Name}: {(a.Answer.Errors.Count > 0 ? string.Join("; ", a.Answer.Errors) : $"no data at {a.Query.DataPath ?? "data"}")}")
            .ToList();
        return failures.Count == 0
            ? check.Pass($"{answers.Length} queries answered with data ({string.Join(", ", answers.Select(a => $"{a.Query.Name} {a.Answer.Elapsed.TotalMilliseconds:N0} ms"))})")
            : check.Fail("GraphQLQueryFailed", string.Join("; ", failures),
                "A failing query usually means a schema migration did not finish: look at the migration output (Get-UpgradeHistory) and the server logs.");
    }

    /// <summary>Starts the operation for each listed item and polls until it is ready, failed, or the check times out.</summary>
    internal static async Task<CheckResult> AsyncOperationAsync(string name, ProductApi api, IValidationTarget source, AsyncOperationDefinition? operation,
        CancellationToken ct)
    {
        var check = CheckTimer.Start(name);
        if (operation is null) return check.Skip($"The profile declares no {name} operation (validation.{char.ToLowerInvariant(name[0])}{name[1..]}).");

        var items = new List<Dictionary<string, string?>>();
        if (operation.ListQuery is { } listQuery)
        {
            var list = await api.GraphQLAsync(listQuery, ct).ConfigureAwait(false);
            if (list.Errors.Count > 0)
                return check.Fail($"{name}Failed", $"listing failed: {string.Join("; ", list.Errors)}");
            if (ProductApi.Select(list.Json, operation.ListPath) is JsonArray array)
                items.AddRange(array.OfType<JsonObject>().Select(item => ItemValues(item, operation)));
            if (items.Count == 0) return check.Skip("The deployment has nothing to run it on (the list query returned no items).");
        }
        else items.Add(operation.Name is null ? new Dictionary<string, string?>() : new Dictionary<string, string?> { ["name"] = operation.Name });

        var outcomes = await Task.WhenAll(items.Select(item => RunOperationAsync(api, source, operation, item, ct))).ConfigureAwait(false);
        var failed = outcomes.Where(o => !o.Ok).ToList();
        return failed.Count == 0
            ? check.Pass(string.Join("; ", outcomes.Select(o => o.Detail)))
            : check.Fail($"{name}Failed", string.Join("; ", failed.Select(o => o.Detail)),
                name == "GitSync"
                    ? "Check that the repository's remote is reachable from the worker containers and that the credentials still work."
                    : "Look at the workers' logs (Get-UpgradeDiagnostic): the generator fails after the upgrade.");
    }

    /// <summary>
    /// The placeholder values of one listed item: the profile's itemFields (placeholder: dotted path, null where the item
    /// has nothing), or without them every top-level scalar field of the item under its own name.
    /// </summary>
    internal static Dictionary<string, string?> ItemValues(JsonObject item, AsyncOperationDefinition operation) =>
        operation.ItemFields.Count == 0
            ? item.Where(p => p.Value is JsonValue).ToDictionary(p => p.Key, p => (string?)p.Value!.ToString())
            : operation.ItemFields.ToDictionary(field => field.Key, field => ProductApi.Text(item, field.Value));

    /// <summary>Replaces each {placeholder} of the item in <paramref name="text"/> with its value as <paramref name="escape"/> writes it.</summary>
    internal static string Fill(string text, IReadOnlyDictionary<string, string> item, Func<string, string> escape) =>
        item.Aggregate(text, (current, pair) => current.Replace("{" + pair.Key + "}", escape(pair.Value), StringComparison.Ordinal));

    /// <summary>A value as the inside of a GraphQL (JSON-style) string literal, where the profile's placeholders stand in quotes.</summary>
    internal static string GraphQLString(string value)
    {
        var text = new System.Text.StringBuilder(value.Length);
        foreach (var ch in value)
            text.Append(ch switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                < ' ' => $"\\u{(int)ch:x4}",
                _ => ch.ToString(),
            });
        return text.ToString();
    }

    private static async Task<(bool Ok, string Detail)> RunOperationAsync(ProductApi api, IValidationTarget source, AsyncOperationDefinition operation,
        Dictionary<string, string?> listed, CancellationToken ct)
    {
        var label = listed.TryGetValue("name", out var itemName) && itemName is not null ? itemName : "the operation";
        if (listed.FirstOrDefault(pair => pair.Value is null) is { Key: { } missing })
            return (false, $"{label}: the listed item has nothing at '{operation.ItemFields[missing]}' (itemFields.{missing})");
        var item = listed.ToDictionary(pair => pair.Key, pair => pair.Value!);

        string? expected = null;
        if (operation.ExpectedResultCommand.Count > 0 && operation.Service is { } service)
        {
            var run = await source.ExecAsync(service, operation.ExpectedResultCommand.Select(arg => Fill(arg, item, value => value)).ToList(), ct).ConfigureAwait(false);
            if (run.ExitCode != 0)
                return (false, $"{label}: the remote did not answer ({FirstLine(run.StandardError)})");
            expected = run.StandardOutputText.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        }

        var started = operation.RequestPath is { } requestPath
            ? await api.SendAsync(new HttpMethod(operation.RequestMethod ?? "POST"), Fill(requestPath, item, Uri.EscapeDataString), ct).ConfigureAwait(false)
            : await api.GraphQLAsync(Fill(operation.Request ?? "", item, GraphQLString), ct).ConfigureAwait(false);
        if (started.Errors.Count > 0) return (false, $"{label}: the request failed ({string.Join("; ", started.Errors)})");
        var statusQuery = Fill(operation.StatusQuery, item, GraphQLString);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var status = await api.GraphQLAsync(statusQuery, ct).ConfigureAwait(false);
            var state = ProductApi.Text(status.Json, operation.StatusPath);
            if (state == operation.ReadyStatus)
            {
                var result = ProductApi.Text(status.Json, operation.ResultPath);
                if (operation.ResultPath is not null && string.IsNullOrEmpty(result))
                    return (false, $"{label}: {state} but without a result at {operation.ResultPath}");
                if (expected is not null && result != expected)
                    return (false, $"{label}: {state} at {Short(result)}, but the remote is at {Short(expected)}");
                return (true, $"{label}: {state} in {watch.Elapsed.TotalSeconds:N1} s{(result is null ? "" : $" ({Short(result)})")}");
            }
            if (state is not null && state == operation.FailedStatus)
                return (false, $"{label}: {state}{(ProductApi.Text(status.Json, operation.ErrorPath) is { Length: > 0 } error ? $" — {error}" : "")}");
            await Task.Delay(250, ct).ConfigureAwait(false);
        }
    }

    private static string Short(string? value) => value is { Length: > 12 } ? value[..12] : value ?? "";

    private static string FirstLine(string text) => text.Trim().Split('\n')[0];

    private static async Task<CheckResult> LogsAsync(IValidationTarget source, ValidationDefinition validation, DateTimeOffset? since, CancellationToken ct)
    {
        var check = CheckTimer.Start("Logs");
        var scan = new LogScan(validation);
        var redactor = source.Redactor;
        var (from, logs) = await source.LogsSinceAsync(since, ct).ConfigureAwait(false);

        var found = new List<(string Container, int Count, List<string> Samples)>();
        var scanned = 0;
        foreach (var (container, text) in logs)
        {
            var matches = scan.Scan(text).Errors;
            scanned += text.Count(ch => ch == '\n');
            if (matches.Count > 0)
                found.Add((container, matches.Count, matches.Take(3).Select(l => redactor.Redact(l.Trim())).ToList()));
        }
        if (found.Count == 0)
            return check.Pass($"{scanned:N0} lines of {logs.Count} {source.InstanceNoun} since {from:u}: no error lines");
        return check.Fail("ErrorsInLogs",
            string.Join("; ", found.Select(f => $"{f.Container}: {f.Count} error line(s), first: {string.Join(" | ", f.Samples)}")) + $" (since {from:u})",
            "Read the full lines with Get-UpgradeDiagnostic; if they are known and harmless, add them to the profile's validation.logIgnorePatterns.");
    }

    private static async Task<(CheckResult Result, PerformanceBaseline? Measured)> PerformanceAsync(ProductApi api, IValidationTarget source,
        PerformanceBaseline? baseline, CancellationToken ct)
    {
        var check = CheckTimer.Start("Performance");
        var definition = source.Profile.Validation.Performance;
        if (definition.Requests.Count == 0) return (check.Skip("The profile declares no requests to time (validation.performance.requests)."), null);
        var measured = await MeasureAsync(api, source, ct).ConfigureAwait(false);
        var now = string.Join(", ", measured.Requests.Select(r => $"{r.Name} p50 {r.P50Milliseconds:N1} ms, p95 {r.P95Milliseconds:N1} ms"));
        var failing = measured.Requests.Where(r => r.Failures > 0).ToList();
        if (failing.Count > 0)
            return (check.Fail("RequestsFailed", $"{string.Join(", ", failing.Select(r => $"{r.Name}: {r.Failures} of {r.Samples} failed"))}; {now}",
                "Look at the server logs (Get-UpgradeDiagnostic)."), measured);
        if (baseline is null)
            return (check.Pass($"{now} (no baseline to compare with: give -Baseline, or the UpgradeResult of Invoke-Upgrade)"), measured);

        var slower = new List<string>();
        foreach (var request in measured.Requests)
        {
            var before = baseline.Requests.FirstOrDefault(r => r.Name == request.Name);
            if (before is null) continue;
            if (request.P95Milliseconds > before.P95Milliseconds * definition.WarningRatio &&
                request.P95Milliseconds - before.P95Milliseconds > definition.MinimumDifferenceMs)
                slower.Add($"{request.Name} p95 {request.P95Milliseconds:N1} ms against {before.P95Milliseconds:N1} ms before ({request.P95Milliseconds / Math.Max(before.P95Milliseconds, 0.001):N1}x)");
        }
        return slower.Count == 0
            ? (check.Pass($"{now}; within {definition.WarningRatio:N1}x of the baseline taken {baseline.CapturedAt:u}"), measured)
            : (check.Warn(string.Join("; ", slower) + $" (threshold {definition.WarningRatio:N1}x)",
                "Compare again after the caches warm up; if it stays slow, look at the release notes for known performance changes and at the database."), measured);
    }

    private static async Task<PerformanceBaseline> MeasureAsync(ProductApi api, IValidationTarget source, CancellationToken ct)
    {
        var definition = source.Profile.Validation.Performance;
        var baseline = new PerformanceBaseline
        {
            DeploymentName = source.Deployment.Name, Version = source.Deployment.Version, CapturedAt = DateTimeOffset.UtcNow,
        };
        foreach (var request in definition.Requests)
        {
            var times = new List<double>();
            var failures = 0;
            // One warm-up request, not counted: the first one pays for connection set-up.
            for (var i = 0; i <= definition.Samples; i++)
            {
                ApiAnswer answer;
                try
                {
                    answer = request.Query is { } query ? await api.GraphQLAsync(query, ct).ConfigureAwait(false)
                        : await api.GetAsync(request.Path ?? "/", ct).ConfigureAwait(false);
                }
                catch (HttpRequestException)
                {
                    if (i > 0) failures++;
                    continue;
                }
                if (i == 0) continue;
                if (answer.Errors.Count > 0) failures++;
                times.Add(answer.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            baseline.Requests.Add(new RequestLatency
            {
                Name = request.Name, Samples = definition.Samples, Failures = failures,
                P50Milliseconds = Percentile(times, 0.50), P95Milliseconds = Percentile(times, 0.95),
            });
        }
        return baseline;
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    internal static double Percentile(IReadOnlyList<double> sorted, double fraction) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];
}

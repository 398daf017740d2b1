using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using UpgradeOps.Hosting;
using UpgradeOps.Platforms;
using UpgradeOps.Profiles;
using UpgradeOps.Validation;

namespace UpgradeOps.Engine.Tests.Validation;

/// <summary>
/// The ArtifactGeneration / GitSync operation logic against a scripted API: how an operation is started (GraphQL or an HTTP
/// request), how listed items fill placeholders (itemFields paths), what is escaped where, and how polling ends.
/// </summary>
public class AsyncOperationTests
{
    private const string ArtifactList = """{"data":{"CoreArtifact":{"edges":[{"node":{"id":"a 1","name":{"value":"startup-config"},"definition":{"node":{"id":"def 1/x"}}}}]}}}""";

    private static AsyncOperationDefinition InfrahubArtifacts() => new()
    {
        ListQuery = "query { CoreArtifact(limit: 1) { edges { node { id name { value } definition { node { id } } } } } }",
        ListPath = "data.CoreArtifact.edges",
        ItemFields = new() { ["id"] = "node.id", ["name"] = "node.name.value", ["definition"] = "node.definition.node.id" },
        RequestPath = "/api/artifact/generate/{definition}",
        StatusQuery = """query { CoreArtifact(ids: ["{id}"]) { edges { node { status { value } checksum { value } } } } }""",
        StatusPath = "data.CoreArtifact.edges.0.node.status.value",
        ReadyStatus = "Ready",
        FailedStatus = "Error",
        ResultPath = "data.CoreArtifact.edges.0.node.checksum.value",
    };

    private static string Artifact(string status, string? checksum = null) =>
        new JsonObject
        {
            ["data"] = new JsonObject
            {
                ["CoreArtifact"] = new JsonObject
                {
                    ["edges"] = new JsonArray(new JsonObject
                    {
                        ["node"] = new JsonObject { ["status"] = new JsonObject { ["value"] = status }, ["checksum"] = new JsonObject { ["value"] = checksum } },
                    }),
                },
            },
        }.ToJsonString();

    [Fact]
    public async Task An_operation_started_by_an_http_request_fills_its_path_from_item_fields_escaped_and_polls_until_ready()
    {
        var polls = 0;
        using var api = new ScriptedApi((method, path, body) => (method, path) switch
        {
            ("POST", "/graphql") when body.Contains("limit: 1") => (200, ArtifactList),
            ("POST", "/api/artifact/generate/def%201%2Fx") => (200, "null"),
            ("POST", "/graphql") => (200, Interlocked.Increment(ref polls) < 3 ? Artifact("Processing") : Artifact("Ready", "9f86d081884c7d65")),
            _ => (404, """{"data":null,"errors":[{"message":"Not Found"}]}"""),
        });
        var result = await PostUpgradeValidator.AsyncOperationAsync("ArtifactGeneration", api.Api, new FakeTarget(), InfrahubArtifacts(), CancellationToken.None);

        Assert.Equal(CheckStatus.Passed, result.Status);
        Assert.Contains("startup-config: Ready", result.Detail);
        Assert.Contains("9f86d081884c", result.Detail);
        // The POST carries no body; the poll names the listed artifact, its id a GraphQL string.
        Assert.Contains(api.Requests, r => r is { Method: "POST", Path: "/api/artifact/generate/def%201%2Fx", Body: "" });
        Assert.Contains(api.Requests, r => r.Body.Contains("""CoreArtifact(ids: ["a 1"])"""));
    }

    [Fact]
    public async Task The_failed_status_fails_the_check_and_an_http_error_says_the_products_message()
    {
        using var failing = new ScriptedApi((method, path, body) => path == "/graphql"
            ? (200, body.Contains("limit: 1") ? ArtifactList : Artifact("Error"))
            : (200, "null"));
        var failed = await PostUpgradeValidator.AsyncOperationAsync("ArtifactGeneration", failing.Api, new FakeTarget(), InfrahubArtifacts(), CancellationToken.None);
        Assert.Equal((CheckStatus.Failed, "ArtifactGenerationFailed"), (failed.Status, failed.ErrorId));
        Assert.Contains("startup-config: Error", failed.Detail);

        using var refused = new ScriptedApi((method, path, body) => path == "/graphql"
            ? (200, ArtifactList)
            : (401, """{"data":null,"errors":[{"message":"Authentication is required","extensions":{"code":401}}]}"""));
        var unauthorized = await PostUpgradeValidator.AsyncOperationAsync("ArtifactGeneration", refused.Api, new FakeTarget(), InfrahubArtifacts(), CancellationToken.None);
        Assert.Equal(CheckStatus.Failed, unauthorized.Status);
        Assert.Contains("the request failed (Authentication is required)", unauthorized.Detail);
        Assert.DoesNotContain(refused.Requests, r => r.Body.Contains("ids:"));
    }

    [Fact]
    public async Task A_sync_is_compared_with_the_remote_the_worker_sees_through_the_location_given_raw_to_the_command()
    {
        var operation = new AsyncOperationDefinition
        {
            ListQuery = "query { CoreRepository { edges { node { id name { value } location { value } default_branch { value } } } } }",
            ListPath = "data.CoreRepository.edges",
            ItemFields = new() { ["id"] = "node.id", ["name"] = "node.name.value", ["location"] = "node.location.value", ["branch"] = "node.default_branch.value" },
            Request = """mutation { InfrahubRepositoryProcess(data: {id: "{id}"}) { ok } }""",
            StatusQuery = """query { CoreRepository(ids: ["{id}"]) { edges { node { sync_status { value } commit { value } } } } }""",
            StatusPath = "data.CoreRepository.edges.0.node.sync_status.value",
            ReadyStatus = "in-sync",
            FailedStatus = "error-import",
            ResultPath = "data.CoreRepository.edges.0.node.commit.value",
            ExpectedResultCommand = ["git", "ls-remote", "{location}", "refs/heads/{branch}"],
            Service = "task-worker",
        };
        const string list = """{"data":{"CoreRepository":{"edges":[{"node":{"id":"r1","name":{"value":"infra"},"location":{"value":"https://git.example/a b.git"},"default_branch":{"value":"main"}}}]}}}""";
        string Repository(string commit) => """{"data":{"CoreRepository":{"edges":[{"node":{"sync_status":{"value":"in-sync"},"commit":{"value":"COMMIT"}}}]}}}""".Replace("COMMIT", commit);
        var worker = new FakeTarget(new ExecResult(0, "", "0123456789abcdef0123\trefs/heads/main\n"));

        using var same = new ScriptedApi((_, _, body) => (200, body.Contains("edges { node { id name") ? list
            : body.Contains("InfrahubRepositoryProcess") ? """{"data":{"InfrahubRepositoryProcess":{"ok":true}}}""" : Repository("0123456789abcdef0123")));
        var passed = await PostUpgradeValidator.AsyncOperationAsync("GitSync", same.Api, worker, operation, CancellationToken.None);
        Assert.Equal(CheckStatus.Passed, passed.Status);
        Assert.Equal(["git", "ls-remote", "https://git.example/a b.git", "refs/heads/main"], worker.Commands.Single());
        Assert.Equal("task-worker", worker.Services.Single());
        Assert.Contains(same.Requests, r => r.Body.Contains("""InfrahubRepositoryProcess(data: {id: "r1"})"""));

        using var behind = new ScriptedApi((_, _, body) => (200, body.Contains("edges { node { id name") ? list
            : body.Contains("InfrahubRepositoryProcess") ? """{"data":{"InfrahubRepositoryProcess":{"ok":true}}}""" : Repository("ffffffffffff0000")));
        var stale = await PostUpgradeValidator.AsyncOperationAsync("GitSync", behind.Api, new FakeTarget(worker.Answer), operation, CancellationToken.None);
        Assert.Equal((CheckStatus.Failed, "GitSyncFailed"), (stale.Status, stale.ErrorId));
        Assert.Contains("infra: in-sync at ffffffffffff, but the remote is at 0123456789ab", stale.Detail);
    }

    [Fact]
    public async Task The_builtin_infrahub_operations_send_infrahubs_requests_and_read_its_answers()
    {
        // The requests and answers of /work/wt/infrahub-validation-contract.md, in Infrahub's shapes (opsmill/infrahub 27f4f86).
        var validation = ProfileLoader.Load("infrahub").Validation;
        const string artifacts = """{"data":{"CoreArtifact":{"edges":[{"node":{"id":"18f0-a","name":{"value":"startup-config"},"definition":{"node":{"id":"18f0-d"}}}}]}}}""";
        const string repositories = """{"data":{"CoreRepository":{"edges":[{"node":{"id":"18f0-r","name":{"value":"infra"},"location":{"value":"https://git.example/infra.git"},"default_branch":{"value":"main"}}}]}}}""";
        using var api = new ScriptedApi((method, path, body) => (method, path, body) switch
        {
            (_, "/api/artifact/generate/18f0-d", _) => (200, "null"),
            (_, _, "query { CoreArtifact(limit: 1) { edges { node { id name { value } definition { node { id } } } } } }") => (200, artifacts),
            (_, _, """query { CoreArtifact(ids: ["18f0-a"]) { edges { node { status { value } checksum { value } } } } }""") => (200, Artifact("Ready", "0f343b0931126a20f133d67c2b018a3b")),
            (_, _, "query { CoreRepository { edges { node { id name { value } location { value } default_branch { value } } } } }") => (200, repositories),
            (_, _, """mutation { InfrahubRepositoryProcess(data: {id: "18f0-r"}) { ok } }""") => (200, """{"data":{"InfrahubRepositoryProcess":{"ok":true}}}"""),
            (_, _, """query { CoreRepository(ids: ["18f0-r"]) { edges { node { sync_status { value } commit { value } } } } }""") =>
                (200, """{"data":{"CoreRepository":{"edges":[{"node":{"sync_status":{"value":"in-sync"},"commit":{"value":"4b825dc642cb6eb9a060e54bf8d69288fbee4904"}}}]}}}"""),
            _ => (400, """{"data":null,"errors":[{"message":"not in the contract"}]}"""),
        });
        var worker = new FakeTarget(new ExecResult(0, "", "4b825dc642cb6eb9a060e54bf8d69288fbee4904\trefs/heads/main\n"));

        var artifact = await PostUpgradeValidator.AsyncOperationAsync("ArtifactGeneration", api.Api, worker, validation.ArtifactGeneration, CancellationToken.None);
        var sync = await PostUpgradeValidator.AsyncOperationAsync("GitSync", api.Api, worker, validation.GitSync, CancellationToken.None);

        Assert.Equal((CheckStatus.Passed, CheckStatus.Passed), (artifact.Status, sync.Status));
        Assert.Contains("startup-config: Ready", artifact.Detail);
        Assert.Contains("infra: in-sync", sync.Detail);
        Assert.Equal(["git", "ls-remote", "https://git.example/infra.git", "refs/heads/main"], worker.Commands.Single());
        Assert.Equal("task-worker", worker.Services.Single());
        Assert.Contains(api.Requests, r => r is { Method: "POST", Path: "/api/artifact/generate/18f0-d", Body: "" });
    }

    [Fact]
    public async Task The_token_the_api_container_holds_goes_with_every_request_and_none_when_it_holds_none()
    {
        using var api = new ScriptedApi((_, _, _) => (200, """{"data":{"InfrahubInfo":{"version":"1.1.8"}}}"""));
        var server = new FakeTarget(new ExecResult(0, "", "06438eb2-8019-4776-878c-0941b1f1d1ec\n"));
        var (withToken, token) = await PostUpgradeValidator.WithTokenAsync(api.Api, server, new CapturedLog(), CancellationToken.None);
        Assert.Equal("06438eb2-8019-4776-878c-0941b1f1d1ec", token);
        await withToken.GraphQLAsync("query { InfrahubInfo { version } }", CancellationToken.None);
        await withToken.SendAsync(HttpMethod.Post, "/api/artifact/generate/d", CancellationToken.None);
        Assert.Equal(["printenv", "INFRAHUB_INITIAL_ADMIN_TOKEN"], server.Commands.Single());
        Assert.Equal("infrahub-server", server.Services.Single());
        Assert.All(api.Requests, r => Assert.Equal("06438eb2-8019-4776-878c-0941b1f1d1ec", r.Key));

        using var anonymous = new ScriptedApi((_, _, _) => (200, """{"data":{"InfrahubInfo":{"version":"1.1.8"}}}"""));
        var (unset, none) = await PostUpgradeValidator.WithTokenAsync(anonymous.Api, new FakeTarget(new ExecResult(1, "", "")), new CapturedLog(), CancellationToken.None);
        Assert.Null(none);
        await unset.GraphQLAsync("query { InfrahubInfo { version } }", CancellationToken.None);
        Assert.Null(anonymous.Requests.Single().Key);
    }

    [Fact]
    public void Item_fields_read_nested_paths_and_without_them_an_item_gives_its_top_level_values()
    {
        var item = JsonNode.Parse("""{"node":{"id":"x","name":{"value":"n"}},"top":"t","count":2}""")!.AsObject();
        var mapped = PostUpgradeValidator.ItemValues(item, new AsyncOperationDefinition { ItemFields = new() { ["id"] = "node.id", ["name"] = "node.name.value", ["gone"] = "node.missing" } });
        Assert.Equal(new Dictionary<string, string?> { ["id"] = "x", ["name"] = "n", ["gone"] = null }, mapped);
        Assert.Equal(new Dictionary<string, string?> { ["top"] = "t", ["count"] = "2" }, PostUpgradeValidator.ItemValues(item, new AsyncOperationDefinition()));
    }

    [Fact]
    public async Task A_listed_item_without_a_field_fails_before_anything_is_sent()
    {
        var operation = InfrahubArtifacts();
        operation.ItemFields["definition"] = "node.nothing.here";
        using var api = new ScriptedApi((_, _, _) => (200, ArtifactList));
        var result = await PostUpgradeValidator.AsyncOperationAsync("ArtifactGeneration", api.Api, new FakeTarget(), operation, CancellationToken.None);
        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.Contains("startup-config: the listed item has nothing at 'node.nothing.here' (itemFields.definition)", result.Detail);
        Assert.Single(api.Requests);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a\"b\\c", "a\\\"b\\\\c")]
    [InlineData("line\nbreak", "line\\u000abreak")]
    public void A_value_in_a_graphql_string_is_escaped(string value, string expected) =>
        Assert.Equal(expected, PostUpgradeValidator.GraphQLString(value));

    /// <summary>A deployment whose containers answer every command with one result.</summary>
    private sealed class FakeTarget(ExecResult? answer = null) : IValidationTarget
    {
        public ExecResult Answer { get; } = answer ?? new ExecResult(0, "", "");
        public ConcurrentQueue<IReadOnlyList<string>> Commands { get; } = new();
        public ConcurrentQueue<string> Services { get; } = new();
        public Deployment Deployment { get; } = new() { Name = "d", Platform = DeploymentPlatform.Compose, Profile = "infrahub" };
        public ProductProfile Profile { get; } = ProfileLoader.Load("infrahub");
        public SecretRedactor Redactor { get; } = new([]);
        public string InstanceNoun => "containers";
        public string StartRemedy => "Start it.";

        public Task<ExecResult> ExecAsync(string service, IReadOnlyList<string> command, CancellationToken ct)
        {
            Services.Enqueue(service);
            Commands.Enqueue(command);
            return Task.FromResult(Answer);
        }

        public ProductApi Api(string? apiEndpoint) => throw new NotSupportedException();
        public Task<(DateTimeOffset From, IReadOnlyList<(string Instance, string Text)> Logs)> LogsSinceAsync(DateTimeOffset? since, CancellationToken ct) =>
            throw new NotSupportedException();
        public void Dispose() { }
    }
}

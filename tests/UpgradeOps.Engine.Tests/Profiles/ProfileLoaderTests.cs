using UpgradeOps.Profiles;

namespace UpgradeOps.Engine.Tests.Profiles;

public class ProfileLoaderTests
{
    [Fact]
    public void Builtin_infrahub_profile_loads_with_the_guide_facts()
    {
        var profile = ProfileLoader.Load("Infrahub");
        Assert.Equal("infrahub", profile.Name);
        Assert.Equal("builtin:infrahub", profile.Source);
        Assert.Equal(ServiceRole.Api, profile.Services.Single(s => s.Name == "infrahub-server").Role);
        Assert.Equal(2, profile.Services.Single(s => s.Name == "task-worker").Replicas);
        Assert.Equal("VERSION", profile.Version.EnvironmentVariable);
        Assert.Equal(1, profile.VersionPolicy.MaxMinorStep);
        Assert.Equal(["infrahub", "upgrade"], profile.Migration.Command);
        Assert.Equal(["infrahub", "upgrade", "--check"], profile.Migration.CheckCommand);
        Assert.Equal("/api/info", profile.Api.Info);
        Assert.Equal("query { InfrahubInfo { version } }", profile.Api.VersionQuery);
        Assert.Contains(profile.DataStores, d => d.Kind == DataStoreKind.Postgres && d.Database == "prefect");
        Assert.Contains("infrahub", ProfileLoader.BuiltInNames);
    }

    [Fact]
    public void Builtin_infrahub_profile_reads_a_failed_migration_from_its_output_and_asks_the_checks_infrahub_answers()
    {
        var profile = ProfileLoader.Load("infrahub");
        // 'infrahub upgrade' exits 0 after a failed migration (opsmill/infrahub backend/infrahub/cli/upgrade.py).
        Assert.Equal("Upgrade cancelled due to migration failure. FAILED", UpgradeOps.Upgrades.MigrationRun.FailureLine(profile.Migration,
            "Step 1/7: Database migrations\r\nMigration: m012 FAILED\r\nUpgrade cancelled due to migration failure. FAILED\r\n"));
        Assert.Null(UpgradeOps.Upgrades.MigrationRun.FailureLine(profile.Migration, "Step 1/7: Database migrations\nUpgrade complete\n"));
        Assert.Equal(["Repositories", "Artifacts"], profile.Validation.GraphQL.Select(q => q.Name));
        Assert.Equal("query { InfrahubTask(state: [PENDING, RUNNING]) { count } }", profile.Validation.RunningTasksQuery);
        Assert.Equal(["data.InfrahubTask.count"], profile.Validation.RunningTasksPaths);
        Assert.Contains(profile.Diagnostics.Patterns, p => p.Id == "migration-cancelled" && p.AppliesTo == "migration");
    }

    [Fact]
    public void A_failure_pattern_too_slow_to_decide_stops_the_upgrade_with_its_own_ErrorId()
    {
        var migration = new MigrationDefinition { FailurePatterns = ["^(a+)+$"] };
        var error = Assert.Throws<UpgradeOpsException>(() => UpgradeOps.Upgrades.MigrationRun.FailureLine(migration, new string('a', 40) + "!"));
        Assert.Equal("FailurePatternTimedOut", error.ErrorId);
        Assert.Equal("^(a+)+$", error.Target);
        Assert.Contains("simplify the pattern", error.Message);
    }

    [Fact]
    public void Builtin_infrahub_profile_finds_all_seven_components_by_the_charts_labels_and_the_storage_in_the_server()
    {
        var profile = ProfileLoader.Load("infrahub");
        var selectors = profile.Services.Where(s => s.KubernetesSelector is not null)
            .ToDictionary(s => s.Name, s => Assert.Single(s.KubernetesSelector!.MatchLabels));
        Assert.Equal(7, selectors.Count);
        Assert.Equal(new KeyValuePair<string, string>("infrahub/service", "server"), selectors["infrahub-server"]);
        Assert.Equal(new KeyValuePair<string, string>("infrahub/service", "task-manager-db"), selectors["task-manager-db"]);
        Assert.All(selectors.Values, l => Assert.Equal("infrahub/service", l.Key));
        var storage = profile.DataStores.Single(d => d.Name == "storage");
        Assert.Equal(("infrahub-server", "/opt/infrahub/storage"), (storage.KubernetesWorkload, storage.Path));
    }

    [Theory]
    // Compose: the official image's POSTGRES_DB (Infrahub's compose file: prefect).
    [InlineData("POSTGRES_DB", "prefect", "prefect")]
    // Helm: prefect-server's Bitnami PostgreSQL, POSTGRES_DATABASE from postgresql.auth.database (server).
    [InlineData("POSTGRES_DATABASE", "server", "server")]
    // Neither set (or empty): the profile's database.
    [InlineData("OTHER", "x", "prefect")]
    [InlineData("POSTGRES_DATABASE", " ", "prefect")]
    public void Builtin_infrahub_task_manager_database_is_named_by_the_containers_environment_on_either_platform(string variable, string value, string expected)
    {
        var store = ProfileLoader.Load("infrahub").DataStores.Single(d => d.Name == "task-manager-db");
        var environment = new Dictionary<string, string> { [variable] = value };
        Assert.Equal(expected, store.DatabaseIn(environment.GetValueOrDefault));
        Assert.Equal("'prefect' (or the one POSTGRES_DB or POSTGRES_DATABASE names)", store.DatabaseShown);
    }

    [Fact]
    public void Without_databaseVariables_the_database_is_the_profiles()
    {
        var store = new DataStoreDefinition { Name = "db", Kind = DataStoreKind.Postgres, Database = "shop" };
        Assert.Equal("shop", store.DatabaseIn(_ => "other"));
        Assert.Equal("'shop'", store.DatabaseShown);
    }

    [Theory]
    [InlineData("    kubernetesSelector:\n      matchLabels: {}\n", "needs at least one label")]
    [InlineData("    kubernetesSelector:\n      matchLabels:\n        app:\n", "without a name or value")]
    [InlineData("    kubernetesSelector:\n      matchExpressions: []\n", "matchExpressions")]
    public void A_kubernetesSelector_that_cannot_select_is_refused_with_its_line(string selector, string message)
    {
        var yaml = "name: x\nservices:\n  - name: web\n" + selector;
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "p.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Contains(message, error.Message);
        Assert.Contains("p.yml:", error.Message);
    }

    [Fact]
    public void A_kubernetesSelector_is_enough_for_the_migrations_pod_exec()
    {
        var profile = ProfileLoader.Parse(
            "name: x\nservices:\n  - name: web\n    kubernetesSelector:\n      matchLabels: { app.kubernetes.io/component: web }\n" +
            "migration:\n  command: [migrate]\n  kubernetesExec: web\n", "p.yml");
        Assert.Equal("app.kubernetes.io/component=web", profile.Services[0].KubernetesSelector!.ToString());
    }

    [Fact]
    public void Loads_a_profile_from_a_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"profile-{Guid.NewGuid():N}.yml");
        File.WriteAllText(path, "name: mine\nservices:\n  - name: web\n    role: Api\n");
        try
        {
            var profile = ProfileLoader.Load(path);
            Assert.Equal("mine", profile.Name);
            Assert.Equal(path, profile.Source);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Unknown_name_or_missing_file_is_ProfileNotFound()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Load("no-such-profile"));
        Assert.Equal("ProfileNotFound", error.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, error.Kind);
        Assert.Contains("infrahub", error.Message);
    }

    [Fact]
    public void Yaml_syntax_errors_give_file_line_and_column()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: [unclosed\n", "bad.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Equal("bad.yml", error.File);
        Assert.NotNull(error.Line);
        Assert.StartsWith("bad.yml:", error.Message);
    }

    [Fact]
    public void Unknown_keys_are_reported_where_they_stand()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: web\n    rool: Api\n", "typo.yml"));
        Assert.Equal(4, error.Line);
        Assert.Equal(5, error.Column);
        Assert.Contains("rool", error.Message);
    }

    [Fact]
    public void Bad_enum_values_are_reported()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: web\n    role: Webserver\n", "role.yml"));
        Assert.Equal(4, error.Line);
    }

    [Fact]
    public void Semantic_errors_point_at_the_offending_mapping()
    {
        const string yaml = "name: x\nservices:\n  - name: web\n    role: Api\n  - name: web\n    role: Worker\n";
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "dup.yml"));
        Assert.Contains("declared twice", error.Message);
        Assert.Equal(5, error.Line);
    }

    [Theory]
    [InlineData("name: x\nservices: []\n", "at least one service")]
    [InlineData("services:\n  - name: web\n", "'name' is required")]
    [InlineData("name: x\nservices:\n  - name: web\ncatalog: [1.7]\n", "not a semantic version")]
    [InlineData("name: x\nservices:\n  - name: web\nestimates:\n  patch: [10, 5]\n", "min <= max")]
    [InlineData("name: x\nservices:\n  - name: web\ndataStores:\n  - name: db\n    kind: Postgres\n    service: web\n", "needs a 'database'")]
    [InlineData("name: x\nservices:\n  - name: web\ndataStores:\n  - name: db\n    kind: Postgres\n    service: nope\n    database: d\n", "not declared")]
    [InlineData("name: x\nservices:\n  - name: web\nconfigurationRules:\n  - id: r\n    requiresVariable: X\n", "appVersion")]
    [InlineData("name: x\nservices:\n  - name: web\nconfigurationRules:\n  - id: r\n    appVersion: 1.0.0\n    requiresValuesKey: cache..host\n", "dotted values key")]
    [InlineData("name: x\nservices:\n  - name: web\nconfigurationRules:\n  - id: r\n    appVersion: 1.0.0\n    requiresVariable: X\n    movedFrom: a.b\n", "movedFrom")]
    [InlineData("schemaVersion: 2\nname: x\nservices:\n  - name: web\n", "schemaVersion 2")]
    [InlineData("name: x\nservices:\n  - name: web\nmigration:\n  failurePatterns: ['(unclosed']\n", "migration.failurePatterns: '(unclosed' is not a valid regular expression")]
    public void Validation_says_what_is_wrong(string yaml, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "p.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Contains(expected, error.Message);
    }

    private const string Operation = "name: x\nservices:\n  - name: web\nvalidation:\n  gitSync:\n    statusQuery: q\n    statusPath: p\n";

    [Theory]
    [InlineData(Operation, "has neither 'request' and 'requestPath'")]
    [InlineData(Operation + "    request: m\n    requestPath: /api/x\n", "has both 'request' and 'requestPath'")]
    [InlineData(Operation + "    request: m\n    requestMethod: POST\n", "requestMethod applies to 'requestPath' only")]
    [InlineData(Operation + "    requestPath: /api/x\n    requestMethod: FETCH\n", "requestMethod 'FETCH' is not one of POST, PUT, PATCH, DELETE, GET")]
    [InlineData(Operation + "    requestPath: api/x\n", "must be a path on the API, starting with '/'")]
    [InlineData(Operation + "    request: m\n    itemFields: { id: id }\n", "'itemFields' read the items of 'listQuery'")]
    [InlineData(Operation + "    request: m\n    listQuery: l\n    listPath: data.l\n    itemFields: { 'a-b': id }\n", "needs a placeholder name of letters")]
    [InlineData(Operation + "    requestPath: /api/sync/{id}\n    listQuery: l\n    listPath: data.l\n    itemFields: { name: name.value }\n",
        "validation.gitSync.requestPath uses the placeholder {id}, which no item fills (it fills {name})")]
    [InlineData(Operation + "    request: 'mutation { Sync(name: \"{name}\") }'\n", "uses the placeholder {name}, which no item fills (this operation fills none)")]
    [InlineData(Operation + "    request: m\n    name: one\n    expectedResultCommand: [git, ls-remote, '{location}']\n", "expectedResultCommand uses the placeholder {location}")]
    public void An_async_operation_is_started_one_way_and_uses_only_the_placeholders_its_items_fill(string yaml, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "p.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Contains(expected, error.Message);
        // Said where the operation stands.
        Assert.Equal(6, error.Line);
        Assert.StartsWith("p.yml:6", error.Message);
    }

    [Theory]
    [InlineData("api:\n  service: web\n  tokenHeader: X-KEY\n", "api.tokenHeader and api.tokenVariable go together")]
    [InlineData("api:\n  tokenHeader: X-KEY\n  tokenVariable: APP_TOKEN\n", "api.tokenVariable is read in the API service's container: add api.service")]
    [InlineData("api:\n  service: web\n  tokenHeader: 'X KEY'\n  tokenVariable: APP_TOKEN\n", "api.tokenHeader 'X KEY' is not an HTTP header name")]
    public void An_api_token_needs_its_header_its_variable_and_the_service_that_holds_it(string api, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: web\n" + api, "p.yml"));
        Assert.Contains(expected, error.Message);
        Assert.Equal(5, error.Line);
    }

    [Fact]
    public void An_operation_started_by_an_api_path_with_item_fields_loads()
    {
        var profile = ProfileLoader.Parse(Operation + "    requestPath: /api/sync/{id}\n    listQuery: l\n    listPath: data.l\n    itemFields: { id: node.id }\n", "p.yml");
        Assert.Equal("/api/sync/{id}", profile.Validation.GitSync!.RequestPath);
        Assert.Null(profile.Validation.GitSync.RequestMethod);
        Assert.Equal("node.id", profile.Validation.GitSync.ItemFields["id"]);
    }

    [Fact]
    public void Empty_document_is_refused()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("", "empty.yml"));
        Assert.Contains("empty", error.Message);
    }

    private const string Minimal = "name: x\nservices:\n  - name: web\n    role: Api\n";

    [Theory]
    [InlineData(Minimal + "api:\n  service: gateway\n", "api.service 'gateway'")]
    [InlineData(Minimal + "api:\n  port: 70000\n", "api.port 70000")]
    [InlineData(Minimal + "validation:\n  gitSync:\n    request: m\n    statusQuery: q\n    statusPath: s\n    service: git\n", "validation.gitSync.service 'git'")]
    [InlineData(Minimal + "validation:\n  artifactGeneration:\n    statusQuery: q\n    statusPath: s\n", "'request'")]
    [InlineData(Minimal + "validation:\n  graphQL:\n    - name: g\n", "needs its 'query'")]
    [InlineData(Minimal + "validation:\n  performance:\n    requests:\n      - name: r\n        path: /a\n        query: q\n", "one of them")]
    [InlineData(Minimal + "validation:\n  performance:\n    samples: 0\n", "samples 0")]
    [InlineData(Minimal + "validation:\n  logErrorPatterns: ['(']\n", "logErrorPatterns: '('")]
    [InlineData(Minimal + "validation:\n  checkTimeoutSeconds: 0\n", "checkTimeoutSeconds 0")]
    [InlineData(Minimal + "dataStores:\n  - name: db\n    kind: Postgres\n    service: web\n    database: d\n    port: 0\n", "port 0")]
    [InlineData("name: x\nservices:\n  - name: web\n    replicas: -1\n", "replicas -1")]
    [InlineData(Minimal + "estimates:\n  minutesPerGigabyte: .nan\n", "minutesPerGigabyte NaN")]
    [InlineData(Minimal + "rehearsal:\n  windowSafetyFactor: .inf\n", "windowSafetyFactor")]
    public void References_and_values_no_command_could_use_are_refused(string yaml, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "p.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Contains(expected, error.Message);
        Assert.EndsWith("Fix the profile and load it again.", error.Message);
    }

    [Theory]
    [InlineData("Just a sentence.\n", 1, "a mapping of keys (schemaVersion, name")]
    [InlineData("- a\n- b\n", 1, "is expected here, not a list")]
    [InlineData("name: x\nservices:\n  web: {role: Api}\n", 3, "a list (one '- ' line per entry, or [a, b]) is expected here, not a mapping")]
    [InlineData("name: [a]\nservices:\n  - name: web\n", 1, "a single value (text) is expected here, not a list")]
    [InlineData(Minimal + "versionPolicy:\n  maxMinorStep: two\n", 6, "'two' is not a whole number")]
    [InlineData(Minimal + "versionPolicy:\n  maxMinorStep: 99999999999\n", 6, "'99999999999' is not a whole number (from -2147483648 to 2147483647)")]
    [InlineData(Minimal + "versionPolicy:\n  maxMinorStep:\n", 6, "nothing is given here; give a whole number")]
    [InlineData("name: x\nservices:\n  - name: web\n    productImage: maybe\n", 4, "'maybe' is not true or false")]
    [InlineData("name: x\nservices:\n  - name: web\n    role: 3\n", 4, "'3' is not one of Api, Worker")]
    [InlineData(Minimal + "colour: blue\n", 5, "'colour' is not a profile key here; the keys here are schemaVersion, name,")]
    [InlineData(Minimal + "source: elsewhere\n", 5, "'source' is not a profile key")]
    [InlineData(Minimal + "---\n" + Minimal, 5, "a second YAML document starts here")]
    public void Yaml_of_the_wrong_shape_or_type_is_said_in_the_profiles_terms(string yaml, int line, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "p.yml"));
        Assert.Equal("InvalidProfile", error.ErrorId);
        Assert.Equal(line, error.Line);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain("UpgradeOps.", error.Message);
        Assert.DoesNotContain("System.", error.Message);
    }

    [Fact]
    public void A_key_with_nothing_after_it_stands_for_its_default()
    {
        var profile = ProfileLoader.Parse(Minimal + "version:\nestimates:\n  patch:\nimpacts:\n", "p.yml");
        Assert.Equal([5, 10], profile.Estimates.Patch);
        Assert.True(profile.Version.HelmAppVersion);
        Assert.Empty(profile.Impacts);
    }

    [Theory]
    [InlineData("name: x\nservices:\n  -\n", "'services' has an empty entry (entry 1")]
    [InlineData(Minimal + "catalog: [1.7.5, ~]\n", "'catalog' has an empty entry (entry 2")]
    [InlineData("name: x\nservices:\n", "'services' must list at least one service")]
    public void An_empty_list_entry_or_no_services_is_refused(string yaml, string expected)
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse(yaml, "p.yml"));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Control_characters_from_the_profile_are_shown_escaped()
    {
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Parse("name: x\nservices:\n  - name: \"w\\x01eb\"\n  - name: \"w\\x01eb\"\n", "p.yml"));
        Assert.Contains("'w\\x01eb' is declared twice", error.Message);
        Assert.DoesNotContain('\x01', error.Message);
    }

    [Fact]
    public void A_file_larger_than_any_profile_is_refused_before_it_is_read()
    {
        var path = Path.Combine(Path.GetTempPath(), $"profile-{Guid.NewGuid():N}.yml");
        using (var file = File.Create(path)) file.SetLength(ProfileLoader.MaxBytes + 1);
        try
        {
            var error = Assert.Throws<ProfileException>(() => ProfileLoader.Load(path));
            Assert.Equal("ProfileTooLarge", error.ErrorId);
            Assert.Equal(ErrorKind.InvalidData, error.Kind);
            Assert.Equal(path, error.Target);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_file_that_never_ends_is_refused_after_reading_the_limit()
    {
        if (OperatingSystem.IsWindows()) return;
        var error = Assert.Throws<ProfileException>(() => ProfileLoader.Load("/dev/zero"));
        Assert.Equal("ProfileTooLarge", error.ErrorId);
        Assert.Contains("more than 1 MB", error.Message);
    }

    [Fact]
    public void A_folder_a_link_loop_and_a_link_to_nothing_are_said_as_such()
    {
        var folder = Directory.CreateTempSubdirectory("profiles-").FullName;
        try
        {
            var asFolder = Assert.Throws<ProfileException>(() => ProfileLoader.Load(folder));
            Assert.Equal("ProfileNotFound", asFolder.ErrorId);
            Assert.Contains("is a folder", asFolder.Message);

            var dangling = Path.Combine(folder, "dangling.yml");
            File.CreateSymbolicLink(dangling, Path.Combine(folder, "gone.yml"));
            Assert.Equal("ProfileNotFound", Assert.Throws<ProfileException>(() => ProfileLoader.Load(dangling)).ErrorId);

            var loop = Path.Combine(folder, "loop.yml");
            File.CreateSymbolicLink(loop, loop);
            var looped = Assert.Throws<ProfileException>(() => ProfileLoader.Load(loop));
            Assert.Equal("ProfileUnreadable", looped.ErrorId);
            Assert.Equal(ErrorKind.InvalidData, looped.Kind);
            Assert.Contains("link loop", looped.Message);

            var nul = Assert.Throws<ProfileException>(() => ProfileLoader.Load(Path.Combine(folder, "a\0b.yml")));
            Assert.Equal(ErrorKind.InvalidArgument, nul.Kind);
            Assert.Contains("a\\0b.yml", nul.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_profile_with_a_byte_order_mark_and_CRLF_lines_loads()
    {
        var path = Path.Combine(Path.GetTempPath(), $"profile ünï {Guid.NewGuid():N}.yml");
        File.WriteAllText(path, Minimal.Replace("\n", "\r\n"), new System.Text.UTF8Encoding(true));
        try
        {
            Assert.Equal("x", ProfileLoader.Load(path).Name);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

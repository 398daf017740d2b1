using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using UpgradeOps.Backups;
using UpgradeOps.Compose;
using UpgradeOps.Hosting;

namespace UpgradeOps.Engine.Tests.Backups;

/// <summary>
/// A manifest is only as trustworthy as what it can make the code do: every file it names must lie inside the backup folder,
/// every field the code reads must be there, and an encrypted backup's manifest must carry the MAC its passphrase proves
/// (the integrity hash is a plain SHA-256 anyone can recompute, so these tests recompute it as an attacker would).
/// </summary>
public class BackupManifestTrustTests : IDisposable
{
    private static readonly byte[] Passphrase = Encoding.UTF8.GetBytes("correct horse battery staple");
    private const string Compose = "services:\n  app: {image: \"app:1.7.5\"}\n";
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"manifest-trust-{Guid.NewGuid():N}");
    private readonly string _folder;
    private readonly string _secret;

    public BackupManifestTrustTests()
    {
        _folder = Path.Combine(_root, "backup");
        Directory.CreateDirectory(Path.Combine(_folder, "config"));
        Directory.CreateDirectory(Path.Combine(_root, "outside"));
        _secret = Path.Combine(_root, "outside", "secret.txt");
        File.WriteAllText(_secret, "a secret outside the backup\n");
        File.WriteAllText(Path.Combine(_folder, "database.dump"), "PGDMP");
        File.WriteAllText(Path.Combine(_folder, "config", "docker-compose.yml"), Compose);
    }

    public void Dispose() => Directory.Delete(_root, true);

    private string ManifestPath => Path.Combine(_folder, BackupManifest.FileName);

    private static BackupManifest NewManifest(string dumpFile = "database.dump", bool encrypted = false)
    {
        var manifest = new BackupManifest
        {
            Backup = new DeploymentBackup
            {
                Id = "prod-20261126-120000-1.7.5", CreatedAt = DateTimeOffset.UtcNow, DeploymentName = "prod", Version = "1.7.5", Encrypted = encrypted,
                Components =
                {
                    new BackupComponent { Name = "database", Kind = BackupComponentKind.PostgresDump, File = dumpFile, SizeBytes = 5, Sha256 = Sha256("PGDMP") },
                    new BackupComponent { Name = "config", Kind = BackupComponentKind.ConfigFile, File = "config/docker-compose.yml", SizeBytes = Compose.Length, Sha256 = Sha256(Compose), Source = "/srv/prod/docker-compose.yml" },
                },
                ToolVersions = { ["UpgradeOps"] = "0.9.0" },
            },
        };
        if (encrypted)
        {
            var salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            manifest.Encryption = new BackupEncryptionInfo { KeyCheckSalt = salt, KeyCheck = BackupManifestKey.KeyCheck(Passphrase, salt) };
        }
        return manifest;
    }

    private static string Sha256(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();

    private void Write(BackupManifest manifest, byte[]? passphrase = null) => File.WriteAllText(ManifestPath, manifest.ToJson(passphrase));

    /// <summary>Edits the manifest and recomputes its integrity hash the way ToJson does: anyone can.</summary>
    private void EditAndReseal(Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(File.ReadAllText(ManifestPath))!.AsObject();
        edit(root);
        root.Remove("integrity");
        var options = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(root.ToJsonString(options)))).ToLowerInvariant();
        root["integrity"] = hash;
        File.WriteAllText(ManifestPath, root.ToJsonString(options));
    }

    private BackupFormatException ReadFails() => Assert.Throws<BackupFormatException>(() => BackupManifest.Read(_folder));

    [Theory]
    [InlineData("../outside/secret.txt")]
    [InlineData("config/../../outside/secret.txt")]
    [InlineData("..")]
    [InlineData("..\\outside\\secret.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("C:/Windows/win.ini")]
    [InlineData("")]
    [InlineData("config//docker-compose.yml")]
    [InlineData("./database.dump")]
    [InlineData("data\nbase.dump")]
    public void A_file_name_that_is_not_a_plain_name_inside_the_backup_is_refused_even_with_a_valid_integrity_hash(string file)
    {
        Write(NewManifest(file));
        var error = ReadFails();
        Assert.Equal("BackupPathOutsideBackup", error.ErrorId);
        Assert.Equal(ErrorKind.SecurityError, error.Kind);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("take a new one", error.Message);
    }

    [Fact]
    public void An_absolute_name_of_a_file_outside_is_refused()
    {
        Write(NewManifest(_secret));
        Assert.Equal("BackupPathOutsideBackup", ReadFails().ErrorId);
    }

    [Theory]
    [InlineData("database.dump")]
    [InlineData("database.dump.enc")]
    [InlineData("config/.env")]
    [InlineData("config/values.json.enc")]
    [InlineData("task-manager-db.dump")]
    public void The_names_a_backup_writes_are_read(string file)
    {
        Write(NewManifest(file));
        Assert.Equal(file, BackupManifest.Read(_folder).Backup.Components[0].File);
    }

    [Fact]
    public void A_component_file_that_is_a_link_to_a_file_outside_is_refused()
    {
        File.Delete(Path.Combine(_folder, "database.dump"));
        File.CreateSymbolicLink(Path.Combine(_folder, "database.dump"), _secret);
        Write(NewManifest());
        var error = ReadFails();
        Assert.Equal("BackupPathOutsideBackup", error.ErrorId);
        Assert.Contains("symbolic link", error.Message);
    }

    [Fact]
    public void A_folder_on_the_way_that_is_a_link_outside_is_refused()
    {
        Directory.Move(Path.Combine(_folder, "config"), Path.Combine(_root, "outside", "config"));
        Directory.CreateSymbolicLink(Path.Combine(_folder, "config"), Path.Combine(_root, "outside", "config"));
        Write(NewManifest());
        Assert.Equal("BackupPathOutsideBackup", ReadFails().ErrorId);
    }

    [Fact]
    public void A_manifest_that_is_a_link_is_refused_before_it_is_read()
    {
        Write(NewManifest());
        File.Move(ManifestPath, Path.Combine(_root, "outside", "manifest.json"));
        File.CreateSymbolicLink(ManifestPath, Path.Combine(_root, "outside", "manifest.json"));
        Assert.Equal("BackupPathOutsideBackup", ReadFails().ErrorId);
    }

    [Fact]
    public async Task Opening_a_component_refuses_a_link_made_after_the_manifest_was_read()
    {
        Write(NewManifest());
        var manifest = BackupManifest.Read(_folder);
        File.Delete(Path.Combine(_folder, "database.dump"));
        File.CreateSymbolicLink(Path.Combine(_folder, "database.dump"), _secret);

        var error = Assert.Throws<BackupFormatException>(() => BackupVerifier.OpenContent(_folder, manifest.Backup.Components[0], null));
        Assert.Equal("BackupPathOutsideBackup", error.ErrorId);
        // The verifier reports it as a failed check of that component, and never hashes the file outside.
        var verification = await BackupVerifier.VerifyAsync(new BackupVerificationRequest { BackupPath = _folder }, EngineContext.Silent());
        Assert.Equal("BackupPathOutsideBackup", verification.FailureErrorId);
        Assert.DoesNotContain(verification.Checks, c => c.Status == CheckStatus.Passed && c.Name.Contains("database"));
    }

    [Theory]
    [InlineData("backup")]
    [InlineData("backup.id")]
    [InlineData("backup.deploymentName")]
    [InlineData("backup.components")]
    [InlineData("backup.components[0]")]
    [InlineData("backup.components[0].name")]
    [InlineData("backup.components[0].file")]
    [InlineData("backup.components[0].sha256")]
    [InlineData("backup.imageDigests")]
    [InlineData("backup.toolVersions")]
    [InlineData("backup.createdAt")]
    [InlineData("backup.components[0].kind")]
    [InlineData("schemaVersion")]
    public void A_null_field_with_a_valid_integrity_hash_is_invalid_and_named(string field)
    {
        Write(NewManifest());
        EditAndReseal(root => SetNull(root, field));
        var error = ReadFails();
        Assert.Equal("BackupManifestInvalid", error.ErrorId);
        Assert.Contains(field, error.Message);
        Assert.Contains("Take a new backup", error.Message);
    }

    [Theory]
    [InlineData("encryption")]
    [InlineData("encryption.keyCheckSalt")]
    [InlineData("encryption.keyCheck")]
    public void An_encrypted_backup_without_its_key_check_is_invalid(string field)
    {
        Write(NewManifest(encrypted: true), Passphrase);
        EditAndReseal(root => SetNull(root, field));
        var error = ReadFails();
        Assert.Equal("BackupManifestInvalid", error.ErrorId);
        Assert.Contains(field, error.Message);
    }

    [Fact]
    public void A_key_check_salt_that_is_not_base64_is_invalid()
    {
        Write(NewManifest(encrypted: true), Passphrase);
        EditAndReseal(root => root["encryption"]!["keyCheckSalt"] = "not base64!");
        Assert.Contains("encryption.keyCheckSalt", ReadFails().Message);
    }

    [Fact]
    public void A_key_given_twice_is_invalid_not_a_crash()
    {
        Write(NewManifest());
        File.WriteAllText(ManifestPath, File.ReadAllText(ManifestPath).Replace("\"deploymentName\": \"prod\",", "\"deploymentName\": \"prod\", \"deploymentName\": \"other\","));
        Assert.Equal("BackupManifestInvalid", ReadFails().ErrorId);
    }

    [Fact]
    public void A_future_schema_says_which_UpgradeOps_wrote_it()
    {
        Write(NewManifest());
        EditAndReseal(root =>
        {
            root["schemaVersion"] = 2;
            root["backup"]!["toolVersions"]!["UpgradeOps"] = "9.1.0";
        });
        var error = ReadFails();
        Assert.Equal("BackupManifestInvalid", error.ErrorId);
        Assert.Contains("schema version 2, written by UpgradeOps 9.1.0", error.Message);
        Assert.Contains("Use UpgradeOps 9.1.0 or later", error.Message);
    }

    [Fact]
    public void The_MAC_proves_an_encrypted_manifest_with_its_passphrase()
    {
        Write(NewManifest(encrypted: true), Passphrase);
        Assert.Contains("\"manifestMac\"", File.ReadAllText(ManifestPath));
        var manifest = BackupManifest.Read(_folder);
        Assert.Equal(ManifestAuthenticity.Authentic, manifest.Authenticate(Passphrase));
        Assert.Equal(ManifestAuthenticity.WrongKey, manifest.Authenticate("another passphrase"u8.ToArray()));
    }

    [Fact]
    public void Reformatting_an_encrypted_manifest_keeps_its_MAC_valid()
    {
        Write(NewManifest(encrypted: true), Passphrase);
        File.WriteAllText(ManifestPath, JsonNode.Parse(File.ReadAllText(ManifestPath))!.ToJsonString());
        Assert.Equal(ManifestAuthenticity.Authentic, BackupManifest.Read(_folder).Authenticate(Passphrase));
    }

    [Theory]
    [InlineData("version")]
    [InlineData("sha256")]
    [InlineData("keyCheck")]
    public void An_edit_with_a_recomputed_integrity_hash_is_caught_by_the_MAC(string what)
    {
        Write(NewManifest(encrypted: true), Passphrase);
        EditAndReseal(root =>
        {
            switch (what)
            {
                case "version": root["backup"]!["version"] = "1.7.6"; break;
                case "sha256": root["backup"]!["components"]![0]!["sha256"] = new string('0', 64); break;
                // The key check too: an attacker cannot make another passphrase pass for the backup's own.
                case "keyCheck": root["encryption"]!["keyCheckSalt"] = Convert.ToBase64String(new byte[16]); break;
            }
        });
        var authenticity = BackupManifest.Read(_folder).Authenticate(Passphrase);
        Assert.NotEqual(ManifestAuthenticity.Authentic, authenticity);
        Assert.NotEqual(ManifestAuthenticity.Unsigned, authenticity);
    }

    [Fact]
    public void A_manifest_written_before_MACs_is_unsigned_not_refused()
    {
        Write(NewManifest(encrypted: true));
        Assert.DoesNotContain("manifestMac", File.ReadAllText(ManifestPath));
        Assert.Equal(ManifestAuthenticity.Unsigned, BackupManifest.Read(_folder).Authenticate(Passphrase));
    }

    [Fact]
    public void A_plain_backup_has_nothing_the_key_proves()
    {
        Write(NewManifest());
        Assert.Equal(ManifestAuthenticity.NotEncrypted, BackupManifest.Read(_folder).Authenticate(Passphrase));
    }

    [Fact]
    public void The_MAC_is_keyed_apart_from_the_key_check_and_the_passphrase()
    {
        var salt = Convert.ToBase64String(new byte[16]);
        var key = BackupManifestKey.Derive(Passphrase, salt);
        var mac = BackupManifestKey.Mac(key, "content");
        Assert.Equal(64, mac.Length);
        Assert.NotEqual(Convert.ToHexString(HMACSHA256.HashData(key, "content"u8)).ToLowerInvariant(), mac);
        Assert.NotEqual(Convert.ToHexString(HMACSHA256.HashData(Passphrase, "content"u8)).ToLowerInvariant(), mac);
    }

    [Fact]
    public async Task Verification_with_the_key_refuses_a_forged_manifest_and_without_it_warns()
    {
        Write(NewManifest(encrypted: true), Passphrase);
        EditAndReseal(root => root["backup"]!["version"] = "1.7.6");

        var withKey = await BackupVerifier.VerifyAsync(new BackupVerificationRequest { BackupPath = _folder, Passphrase = Passphrase }, EngineContext.Silent());
        Assert.False(withKey.Passed);
        Assert.Equal("BackupManifestTampered", withKey.FailureErrorId);
        var refusal = Assert.Throws<UpgradeOpsException>(() => BackupVerifier.RefuseUntrusted(withKey, _folder, "Nothing was restored."));
        Assert.Equal(ErrorKind.SecurityError, refusal.Kind);

        var withoutKey = await BackupVerifier.VerifyAsync(new BackupVerificationRequest { BackupPath = _folder }, EngineContext.Silent());
        Assert.Equal(CheckStatus.Warning, withoutKey.Checks.Single(c => c.Name == "ManifestAuthenticity").Status);
    }

    [Fact]
    public void Opening_with_the_key_refuses_a_forged_manifest_a_wrong_key_and_a_key_for_a_plain_backup()
    {
        Write(NewManifest(encrypted: true), Passphrase);
        Assert.Equal("prod", BackupCatalog.Open(_folder, Passphrase).DeploymentName);
        Assert.Equal("BackupWrongKey", Assert.Throws<UpgradeOpsException>(() => BackupCatalog.Open(_folder, "wrong"u8.ToArray())).ErrorId);
        EditAndReseal(root => root["backup"]!["version"] = "1.7.6");
        var forged = Assert.Throws<UpgradeOpsException>(() => BackupCatalog.Open(_folder, Passphrase));
        Assert.Equal(("BackupManifestTampered", ErrorKind.SecurityError), (forged.ErrorId, forged.Kind));
        Write(NewManifest());
        Assert.Equal("BackupNotEncrypted", Assert.Throws<UpgradeOpsException>(() => BackupCatalog.Open(_folder, Passphrase)).ErrorId);
    }

    [Fact]
    public async Task A_backup_folder_that_does_not_exist_is_BackupPathNotFound()
    {
        var missing = Path.Combine(_root, "no-such-backup");
        var error = await Assert.ThrowsAsync<UpgradeOpsException>(() => BackupVerifier.VerifyAsync(new BackupVerificationRequest { BackupPath = missing }, EngineContext.Silent()));
        Assert.Equal(("BackupPathNotFound", ErrorKind.ObjectNotFound, (object?)missing), (error.ErrorId, error.Kind, error.Target));
        Assert.Equal("BackupPathNotFound", Assert.Throws<UpgradeOpsException>(() => BackupCatalog.Open(missing)).ErrorId);
    }

    [Theory]
    [InlineData("config/.env", "/srv/prod/.env", ".env")]
    [InlineData("config/.env.enc", "/anywhere/.env", ".env")]
    [InlineData("config/docker-compose.yml", "/srv/prod/docker-compose.yml", "docker-compose.yml")]
    [InlineData("config/docker-compose.yml.enc", "/etc/docker-compose.yml", "docker-compose.yml")]
    public void A_configuration_file_goes_back_only_to_the_deployments_own_file(string file, string source, string expected)
    {
        var compose = ComposeFile.Load(Path.Combine(_folder, "config", "docker-compose.yml"));
        var target = ComposeRestore.ConfigFileTarget(compose, "prod", new BackupComponent
        {
            Name = "config", Kind = BackupComponentKind.ConfigFile, File = file, Sha256 = "", Source = source,
        });
        Assert.Equal(Path.Combine(_folder, "config", expected), target);
    }

    [Theory]
    [InlineData("config/passwd", "/etc/passwd")]
    [InlineData("config/.env", "/root/.ssh/authorized_keys")]
    [InlineData("config/authorized_keys", "/root/.ssh/authorized_keys")]
    public void A_configuration_file_the_deployment_does_not_have_is_refused(string file, string source)
    {
        var compose = ComposeFile.Load(Path.Combine(_folder, "config", "docker-compose.yml"));
        var error = Assert.Throws<UpgradeOpsException>(() => ComposeRestore.ConfigFileTarget(compose, "prod", new BackupComponent
        {
            Name = "config", Kind = BackupComponentKind.ConfigFile, File = file, Sha256 = "", Source = source,
        }));
        Assert.Equal("BackupConfigFileUnknown", error.ErrorId);
    }

    private static void SetNull(JsonObject root, string field)
    {
        JsonNode parent = root;
        var parts = field.Replace("[", ".[").Split('.');
        for (var i = 0; i < parts.Length - 1; i++) parent = Step(parent, parts[i])!;
        var last = parts[^1];
        if (last.StartsWith('[')) parent.AsArray()[int.Parse(last[1..^1])] = null;
        else parent.AsObject()[last] = null;

        static JsonNode? Step(JsonNode node, string part) => part.StartsWith('[') ? node.AsArray()[int.Parse(part[1..^1])] : node[part];
    }
}

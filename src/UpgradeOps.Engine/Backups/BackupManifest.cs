using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using UpgradeOps.Compose;

using UpgradeOps.Hosting;

namespace UpgradeOps.Backups;

/// <summary>
/// How a backup's files were encrypted; no key material beyond a salted key check and the manifest's MAC. A new one says
/// what this UpgradeOps writes (OpenPGP); a manifest read keeps what it recorded (older backups: AES-256-GCM,
/// PBKDF2-SHA256). Informational: the reader tells the formats apart by each file's first bytes.
/// </summary>
public sealed class BackupEncryptionInfo
{
    public string Algorithm { get; set; } = BackupEncryption.Algorithm;
    public string KeyDerivation { get; set; } = BackupEncryption.KeyDerivation;
    public int ChunkSize { get; set; } = BackupEncryption.ChunkSize;
    public required string KeyCheckSalt { get; set; }
    public required string KeyCheck { get; set; }
    /// <summary>
    /// HMAC-SHA256 of the manifest (without this value and the integrity hash), keyed from the passphrase
    /// (<see cref="BackupManifestKey"/>); null in manifests written before it existed.
    /// </summary>
    public string? ManifestMac { get; set; }
}

/// <summary>What the key says about a manifest.</summary>
public enum ManifestAuthenticity
{
    /// <summary>The backup is not encrypted: no key proves its manifest.</summary>
    NotEncrypted,
    WrongKey,
    /// <summary>The key is right and the manifest has no MAC (written before manifests carried one).</summary>
    Unsigned,
    Authentic,
    /// <summary>The key is right and the MAC does not match: the manifest was changed after the backup was made.</summary>
    Forged,
}

/// <summary>
/// manifest.json: schema-versioned description of a backup. It carries a SHA-256 of its own content (Integrity), so an
/// accidentally changed manifest is told apart from damaged data files, and, when the backup is encrypted, an HMAC keyed
/// by the passphrase (Encryption.ManifestMac), so an edited one is caught too. Read refuses a manifest the code could not
/// use safely: a field it reads that is missing, a file name outside the backup folder.
/// </summary>
public sealed class BackupManifest
{
    public const int CurrentSchemaVersion = 1;
    public const string FileName = "manifest.json";

    public int SchemaVersion { get; set; } = CurrentSchemaVersion;
    public required DeploymentBackup Backup { get; set; }
    public BackupEncryptionInfo? Encryption { get; set; }
    public string? Integrity { get; set; }

    /// <summary>The content the MAC covers, as read (the manifest without its integrity hash and MAC).</summary>
    private string? _macContent;

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>This UpgradeOps, as manifests record it.</summary>
    internal static string UpgradeOpsVersion { get; } =
        typeof(BackupManifest).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>
    /// The manifest as written: its integrity hash and, for an encrypted backup whose <paramref name="passphrase"/> is
    /// given, its MAC.
    /// </summary>
    public string ToJson(byte[]? passphrase = null)
    {
        Integrity = null;
        if (Encryption is not null)
        {
            Encryption.ManifestMac = null;
            if (passphrase is not null)
            {
                var key = BackupManifestKey.Derive(passphrase, Encryption.KeyCheckSalt);
                try
                {
                    Encryption.ManifestMac = BackupManifestKey.Mac(key, Canonical(JsonSerializer.Serialize(this, Options)));
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(key);
                }
            }
        }
        Integrity = ContentHash(JsonSerializer.Serialize(this, Options));
        return JsonSerializer.Serialize(this, Options);
    }

    /// <summary>What <paramref name="passphrase"/> proves about this manifest (read by <see cref="Read"/>).</summary>
    public ManifestAuthenticity Authenticate(byte[] passphrase)
    {
        if (!Backup.Encrypted || Encryption is null) return ManifestAuthenticity.NotEncrypted;
        var content = _macContent ?? throw new InvalidOperationException("Only a manifest read from its backup can be authenticated.");
        var key = BackupManifestKey.Derive(passphrase, Encryption.KeyCheckSalt);
        try
        {
            if (!BackupManifestKey.SameValue(BackupManifestKey.KeyCheck(key), Encryption.KeyCheck)) return ManifestAuthenticity.WrongKey;
            if (Encryption.ManifestMac is null) return ManifestAuthenticity.Unsigned;
            return BackupManifestKey.SameValue(BackupManifestKey.Mac(key, content), Encryption.ManifestMac)
                ? ManifestAuthenticity.Authentic
                : ManifestAuthenticity.Forged;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>
    /// Reads and checks a manifest: schema version, integrity hash, every field the code reads present, every file it names
    /// inside the backup folder. Problems throw <see cref="BackupFormatException"/> with their ErrorId and kind.
    /// </summary>
    public static BackupManifest Read(string backupFolder)
    {
        var path = BackupFiles.ContainedPath(backupFolder, FileName, "The manifest");
        var shown = LocalFile.Shown(path);
        if (!File.Exists(path))
            throw new BackupFormatException("BackupManifestMissing", Directory.Exists(path)
                ? $"{shown} is a folder, not a manifest: this folder is not a complete backup. Give the folder of a complete backup (Get-DeploymentBackup lists them), or take a new one."
                : $"{shown} does not exist: this folder is not a complete backup (a backup that failed leaves no manifest). " +
                  "Give the folder of a complete backup (Get-DeploymentBackup lists them), or take a new one.");

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (UnauthorizedAccessException)
        {
            throw new BackupFormatException("BackupManifestUnreadable",
                $"{shown} cannot be read: permission denied. Run as a user who can read the backup folder.", ErrorKind.PermissionDenied);
        }
        catch (IOException ex)
        {
            throw new BackupFormatException("BackupManifestUnreadable", $"{shown} cannot be read ({LocalFile.Shown(ex.Message)}). Check the file and its disk, then run it again.");
        }

        JsonObject root;
        int schema;
        try
        {
            root = JsonNode.Parse(text) as JsonObject ?? throw Invalid(path, "is not a manifest: a JSON object with schemaVersion and backup was expected");
            ReadAll(root);
            schema = root["schemaVersion"] is JsonValue version && version.TryGetValue<int>(out var number) ? number
                : throw Invalid(path, "has no schemaVersion (a whole number)");
        }
        // A key given twice is an ArgumentException (ReadAll reads every object now, not later where it is used).
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
        {
            throw Invalid(path, $"is not valid manifest JSON ({LocalFile.Shown(ex.Message)})");
        }
        if (schema != CurrentSchemaVersion) throw OtherSchema(path, schema, root);

        // The integrity hash covers the manifest as written, minus the hash itself.
        var recorded = root["integrity"] is JsonValue hash && hash.TryGetValue<string>(out var hex) ? hex : null;
        root.Remove("integrity");
        if (recorded is null || recorded != ContentHash(root.ToJsonString(Options)))
            throw new BackupFormatException("BackupManifestTampered",
                $"{shown} was changed after the backup was made (its integrity hash does not match). Do not trust this backup; take a new one or use another.");

        BackupManifest? manifest;
        try
        {
            manifest = root.Deserialize<BackupManifest>(Options);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            var field = ex is JsonException { Path: { Length: > 2 } jsonPath } ? $" at {LocalFile.Shown(jsonPath[2..])}" : "";
            throw Invalid(path, $"has a value UpgradeOps cannot read{field} ({LocalFile.Shown(ex.Message)})");
        }
        if (manifest is null) throw Invalid(path, "is not a manifest: a JSON object with schemaVersion and backup was expected");
        if (MissingField(manifest) is { } missing)
            throw Invalid(path, $"has no {missing} (it is null, empty or not what a manifest holds there): the manifest was damaged or edited");

        var backup = manifest.Backup;
        foreach (var component in backup.Components)
            BackupFiles.ContainedPath(backupFolder, component.File, $"The file of component '{LocalFile.Shown(component.Name)}'");

        (root["encryption"] as JsonObject)?.Remove("manifestMac");
        manifest._macContent = Canonical(root.ToJsonString(Options));
        manifest.Integrity = recorded;
        backup.Path = backupFolder;
        return manifest;
    }

    /// <summary>The first field the code reads that a manifest lacks, as its JSON path; null when none is missing.</summary>
    private static string? MissingField(BackupManifest manifest)
    {
        var backup = manifest.Backup;
        if (backup is null) return "backup";
        if (string.IsNullOrEmpty(backup.Id)) return "backup.id";
        if (string.IsNullOrEmpty(backup.DeploymentName)) return "backup.deploymentName";
        if (backup.Components is null) return "backup.components";
        for (var i = 0; i < backup.Components.Count; i++)
        {
            var component = backup.Components[i];
            if (component is null) return $"backup.components[{i}]";
            if (string.IsNullOrEmpty(component.Name)) return $"backup.components[{i}].name";
            if (component.File is null) return $"backup.components[{i}].file";
            if (string.IsNullOrEmpty(component.Sha256)) return $"backup.components[{i}].sha256";
            if (component.SizeBytes < 0) return $"backup.components[{i}].sizeBytes";
        }
        if (backup.ImageDigests is null) return "backup.imageDigests";
        if (backup.ToolVersions is null) return "backup.toolVersions";
        if (backup.Encrypted)
        {
            if (manifest.Encryption is null) return "encryption";
            if (string.IsNullOrEmpty(manifest.Encryption.KeyCheckSalt) || !IsBase64(manifest.Encryption.KeyCheckSalt)) return "encryption.keyCheckSalt";
            if (string.IsNullOrEmpty(manifest.Encryption.KeyCheck)) return "encryption.keyCheck";
        }
        return null;
    }

    /// <summary>Reads every object of the JSON, which is when System.Text.Json finds a key given twice.</summary>
    private static void ReadAll(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var property in obj) ReadAll(property.Value);
                break;
            case JsonArray array:
                foreach (var item in array) ReadAll(item);
                break;
        }
    }

    private static bool IsBase64(string text) => Convert.TryFromBase64String(text, new byte[text.Length], out _);

    private static BackupFormatException OtherSchema(string path, int schema, JsonObject root)
    {
        // Who wrote it, when the manifest says so where this schema keeps it.
        string? writer = null;
        try
        {
            writer = (root["backup"] as JsonObject)?["toolVersions"] is JsonObject tools && tools["UpgradeOps"] is JsonValue value && value.TryGetValue<string>(out var v) ? v : null;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
        }
        var by = writer is null ? "" : $", written by UpgradeOps {LocalFile.Shown(writer)}";
        return Invalid(path, schema > CurrentSchemaVersion
            ? $"has schema version {schema}{by}; this UpgradeOps ({UpgradeOpsVersion}) reads schema version {CurrentSchemaVersion} only. " +
              $"Use UpgradeOps {(writer is null ? $"of a version that reads schema {schema}" : LocalFile.Shown(writer) + " or later")} to read this backup"
            : $"has schema version {schema}{by}, which no UpgradeOps wrote (this one, {UpgradeOpsVersion}, reads schema version {CurrentSchemaVersion}). Use the UpgradeOps version that made the backup");
    }

    private static BackupFormatException Invalid(string path, string problem) =>
        new("BackupManifestInvalid", $"{LocalFile.Shown(path)} {problem}. Take a new backup with New-DeploymentBackup, or use another.");

    /// <summary>A manifest's JSON as its hashes cover it: parsed and written again indented, so layout alone changes nothing.</summary>
    private static string Canonical(string json) => JsonNode.Parse(json)!.ToJsonString(Options);

    private static string ContentHash(string json) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(json)))).ToLowerInvariant();
}

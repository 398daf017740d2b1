using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace UpgradeOps.Backups;

/// <summary>How a backup's files were encrypted; no key material beyond a salted key check.</summary>
public sealed class BackupEncryptionInfo
{
    public string Algorithm { get; set; } = "AES-256-GCM";
    public string KeyDerivation { get; set; } = "PBKDF2-SHA256";
    public int ChunkSize { get; set; } = BackupEncryption.ChunkSize;
    public required string KeyCheckSalt { get; set; }
    public required string KeyCheck { get; set; }
}

/// <summary>
/// manifest.json: schema-versioned description of a backup. It carries a SHA-256 of its own content
/// (Integrity) so an edited manifest is told apart from damaged data files.
/// </summary>
public sealed class BackupManifest
{
    public const int CurrentSchemaVersion = 1;
    public const string FileName = "manifest.json";

    public int SchemaVersion { get; set; } = CurrentSchemaVersion;
    public required DeploymentBackup Backup { get; set; }
    public BackupEncryptionInfo? Encryption { get; set; }
    public string? Integrity { get; set; }

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson()
    {
        Integrity = null;
        Integrity = ContentHash(JsonSerializer.Serialize(this, Options));
        return JsonSerializer.Serialize(this, Options);
    }

    /// <summary>Reads and checks a manifest; problems throw <see cref="BackupFormatException"/> with their ErrorId.</summary>
    public static BackupManifest Read(string backupFolder)
    {
        var path = System.IO.Path.Combine(backupFolder, FileName);
        if (!File.Exists(path))
            throw new BackupFormatException("BackupManifestMissing", $"{path} does not exist: this folder is not a complete backup (a backup that failed leaves no manifest).");

        var text = File.ReadAllText(path);
        BackupManifest? manifest;
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text);
            manifest = node.Deserialize<BackupManifest>(Options);
        }
        catch (JsonException ex)
        {
            throw new BackupFormatException("BackupManifestInvalid", $"{path} is not valid manifest JSON: {ex.Message}");
        }

        if (manifest?.Backup is null || manifest.Backup.Components is null)
            throw new BackupFormatException("BackupManifestInvalid", $"{path} lacks the backup description or its components.");
        if (manifest.SchemaVersion != CurrentSchemaVersion)
            throw new BackupFormatException("BackupManifestInvalid",
                $"{path} has schema version {manifest.SchemaVersion}; this UpgradeOps reads version {CurrentSchemaVersion}. Use the UpgradeOps version that made the backup.");

        // The integrity hash covers the manifest as written, minus the hash itself.
        var recorded = manifest.Integrity;
        node!.AsObject().Remove("integrity");
        if (recorded is null || recorded != ContentHash(node.ToJsonString(Options)))
            throw new BackupFormatException("BackupManifestTampered",
                $"{path} was changed after the backup was made (its integrity hash does not match). Do not trust this backup; take a new one or use another.");

        manifest.Backup.Path = backupFolder;
        return manifest;
    }

    private static string ContentHash(string json) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonNode.Parse(json)!.ToJsonString(Options)))).ToLowerInvariant();
}

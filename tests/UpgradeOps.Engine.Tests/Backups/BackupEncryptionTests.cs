using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using UpgradeOps.Backups;

namespace UpgradeOps.Engine.Tests.Backups;

public class BackupEncryptionTests
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("correct horse battery staple");

    private static byte[] Encrypt(byte[] plain, byte[]? key = null)
    {
        var output = new MemoryStream();
        using (var encrypting = BackupEncryption.Encrypt(output, key ?? Key))
        {
            // Odd write sizes cross chunk boundaries.
            for (var i = 0; i < plain.Length; i += 70_001) encrypting.Write(plain, i, Math.Min(70_001, plain.Length - i));
        }
        return output.ToArray();
    }

    private static byte[] Decrypt(byte[] cipher, byte[]? key = null)
    {
        using var decrypting = BackupEncryption.Decrypt(new MemoryStream(cipher), key ?? Key);
        var plain = new MemoryStream();
        decrypting.CopyTo(plain);
        return plain.ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1 << 20)]
    [InlineData((1 << 20) + 1)]
    [InlineData(3 * (1 << 20) + 12345)]
    public void Round_trips_any_size(int size)
    {
        var plain = RandomNumberGenerator.GetBytes(size);
        var cipher = Encrypt(plain);
        Assert.Equal(plain, Decrypt(cipher));
        if (size > 64) Assert.DoesNotContain(Convert.ToHexString(plain[..32]), Convert.ToHexString(cipher));
    }

    [Fact]
    public void The_same_data_encrypts_differently_each_time() =>
        Assert.NotEqual(Encrypt(new byte[100]), Encrypt(new byte[100]));

    [Fact]
    public void A_wrong_key_fails_authentication()
    {
        var error = Assert.Throws<BackupFormatException>(() => Decrypt(Encrypt(new byte[5000]), "wrong"u8.ToArray()));
        Assert.Equal("BackupDecryptionFailed", error.ErrorId);
    }

    [Fact]
    public void A_flipped_bit_fails_authentication()
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(200_000));
        cipher[cipher.Length / 2] ^= 0x01;
        Assert.Equal("BackupDecryptionFailed", Assert.Throws<BackupFormatException>(() => Decrypt(cipher)).ErrorId);
    }

    [Fact]
    public void A_file_cut_at_a_chunk_boundary_is_detected()
    {
        var plain = RandomNumberGenerator.GetBytes(3 * (1 << 20));
        var cipher = Encrypt(plain);
        // Keep the header and the first two whole chunks: each chunk is length + data + tag.
        var kept = BackupEncryption.HeaderSize + 2 * (4 + (1 << 20) + 16);
        Assert.Equal("BackupTruncated", Assert.Throws<BackupFormatException>(() => Decrypt(cipher[..kept])).ErrorId);
    }

    [Fact]
    public void A_file_cut_inside_a_chunk_is_truncated()
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(100_000));
        Assert.Equal("BackupTruncated", Assert.Throws<BackupFormatException>(() => Decrypt(cipher[..^100])).ErrorId);
    }

    [Fact]
    public void A_plain_file_is_not_an_encrypted_backup()
    {
        Assert.Equal("BackupNotEncrypted", Assert.Throws<BackupFormatException>(() => Decrypt(new byte[64])).ErrorId);
    }

    [Fact]
    public void A_file_of_several_chunks_decrypts_through_the_restore_hashing_stream()
    {
        // A restore reads through a HashingStream, whose Position and Length are both the bytes read so far.
        var plain = RandomNumberGenerator.GetBytes(2 * (1 << 20) + 5);
        using var hashing = new HashingStream(new MemoryStream(Encrypt(plain)));
        using var decrypting = BackupEncryption.Decrypt(hashing, Key);
        var read = new MemoryStream();
        decrypting.CopyTo(read);
        Assert.Equal(plain, read.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(99_999)]
    [InlineData(10_000_001)]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    public void A_file_asking_for_an_unsafe_or_absurd_key_derivation_is_refused_before_deriving(int iterations)
    {
        var cipher = Encrypt(new byte[100]);
        BinaryPrimitives.WriteInt32LittleEndian(cipher.AsSpan(24), iterations);
        var error = Assert.Throws<BackupFormatException>(() => Decrypt(cipher));
        Assert.Equal("BackupEncryptionParametersRefused", error.ErrorId);
        Assert.Contains(iterations.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Fact]
    public void Key_check_tells_the_right_key_without_revealing_it()
    {
        var salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var check = BackupManifestKey.KeyCheck(Key, salt);
        Assert.Equal(check, BackupManifestKey.KeyCheck(Key, salt));
        Assert.NotEqual(check, BackupManifestKey.KeyCheck("other"u8, salt));
        Assert.DoesNotContain("horse", check);
    }
}

public class BackupManifestTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"manifest-{Guid.NewGuid():N}");

    public BackupManifestTests() => Directory.CreateDirectory(_folder);
    public void Dispose() => Directory.Delete(_folder, true);

    private string ManifestPath => Path.Combine(_folder, BackupManifest.FileName);

    private void Write() => File.WriteAllText(ManifestPath, new BackupManifest
    {
        Backup = new DeploymentBackup
        {
            Id = "sandbox-20261126-120000-1.7.5", Path = _folder, CreatedAt = DateTimeOffset.UtcNow, DeploymentName = "sandbox", Version = "1.7.5",
            Components = { new BackupComponent { Name = "database", Kind = BackupComponentKind.PostgresDump, File = "database.dump", SizeBytes = 10, Sha256 = "ab", RowCounts = new() { ["public.items"] = 5 } } },
        },
    }.ToJson());

    [Fact]
    public void Round_trips_and_takes_the_folder_it_was_read_from()
    {
        Write();
        var backup = BackupManifest.Read(_folder).Backup;
        Assert.Equal("sandbox-20261126-120000-1.7.5", backup.Id);
        Assert.Equal(_folder, backup.Path);
        Assert.Equal(5, backup.Components[0].RowCounts!["public.items"]);
        Assert.Equal(BackupComponentKind.PostgresDump, backup.Components[0].Kind);
        Assert.DoesNotContain("\"path\"", File.ReadAllText(ManifestPath));
    }

    [Fact]
    public void An_edited_manifest_is_tampered()
    {
        Write();
        File.WriteAllText(ManifestPath, File.ReadAllText(ManifestPath).Replace("\"sizeBytes\": 10", "\"sizeBytes\": 11"));
        Assert.Equal("BackupManifestTampered", Assert.Throws<BackupFormatException>(() => BackupManifest.Read(_folder)).ErrorId);
    }

    [Fact]
    public void Reformatting_alone_is_not_tampering()
    {
        Write();
        var compact = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(ManifestPath))!.ToJsonString();
        File.WriteAllText(ManifestPath, compact);
        Assert.Equal("sandbox", BackupManifest.Read(_folder).Backup.DeploymentName);
    }

    [Fact]
    public void Missing_invalid_and_future_manifests_have_their_own_ErrorIds()
    {
        Assert.Equal("BackupManifestMissing", Assert.Throws<BackupFormatException>(() => BackupManifest.Read(_folder)).ErrorId);
        File.WriteAllText(ManifestPath, "{ not json");
        Assert.Equal("BackupManifestInvalid", Assert.Throws<BackupFormatException>(() => BackupManifest.Read(_folder)).ErrorId);
        Write();
        File.WriteAllText(ManifestPath, File.ReadAllText(ManifestPath).Replace("\"schemaVersion\": 1", "\"schemaVersion\": 9"));
        Assert.Equal("BackupManifestInvalid", Assert.Throws<BackupFormatException>(() => BackupManifest.Read(_folder)).ErrorId);
    }
}

using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Security;
using UpgradeOps.Backups;

namespace UpgradeOps.Engine.Tests.Backups;

public class BackupEncryptionTests
{
    internal static readonly byte[] Key = Encoding.UTF8.GetBytes("correct horse battery staple");
    private const int Chunk = 1 << 20;

    internal static byte[] Encrypt(byte[] plain, byte[]? key = null)
    {
        var output = new MemoryStream();
        using (var encrypting = BackupEncryption.Encrypt(output, key ?? Key))
        {
            // Odd write sizes cross chunk boundaries.
            for (var i = 0; i < plain.Length; i += 70_001) encrypting.Write(plain, i, Math.Min(70_001, plain.Length - i));
        }
        return output.ToArray();
    }

    internal static byte[] Decrypt(byte[] cipher, byte[]? key = null) => Decrypt(new MemoryStream(cipher), key);

    private static byte[] Decrypt(Stream input, byte[]? key = null)
    {
        using var decrypting = BackupEncryption.Decrypt(input, key ?? Key);
        var plain = new MemoryStream();
        decrypting.CopyTo(plain);
        return plain.ToArray();
    }

    private static string ErrorId(Action action) => Assert.Throws<BackupFormatException>(action).ErrorId;

    /// <summary>The length of the file's first packet, the session key packet (old or new format header, one length byte, as written).</summary>
    private static int KeyPacketLength(byte[] file)
    {
        Assert.Contains(file[0], new byte[] { 0x8C, 0xC3 });
        return 2 + file[1];
    }

    /// <summary>The file with its session key packet replaced by <paramref name="packet"/>.</summary>
    private static byte[] WithKeyPacket(byte[] file, SymmetricKeyEncSessionPacket packet)
    {
        var crafted = new MemoryStream();
        using (var packets = new BcpgOutputStream(crafted, newFormatOnly: true)) packet.Encode(packets);
        return [.. crafted.ToArray(), .. file[KeyPacketLength(file)..]];
    }

    /// <summary>A file BouncyCastle encrypts with other choices than UpgradeOps makes.</summary>
    private static byte[] EncryptWith(SymmetricKeyAlgorithmTag cipher, bool integrityProtected, params HashAlgorithmTag[] passphraseDigests)
    {
        var generator = new PgpEncryptedDataGenerator(cipher, integrityProtected, new SecureRandom());
        foreach (var digest in passphraseDigests) generator.AddMethodRaw(Key, digest, 0xFF);
        var output = new MemoryStream();
        using (var encrypted = generator.Open(output, new byte[1 << 16]))
        using (var literal = new PgpLiteralDataGenerator().Open(encrypted, PgpLiteralData.Binary, "", 5, DateTime.UtcNow))
            literal.Write("hello"u8);
        return output.ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Chunk)]
    [InlineData(Chunk + 1)]
    [InlineData(3 * Chunk + 12345)]
    public void Round_trips_any_size(int size)
    {
        var plain = RandomNumberGenerator.GetBytes(size);
        var cipher = Encrypt(plain);
        Assert.Equal(plain, Decrypt(cipher));
        if (size > 64) Assert.DoesNotContain(Convert.ToHexString(plain[..32]), Convert.ToHexString(cipher));
    }

    [Fact]
    public void Writes_OpenPGP_a_passphrase_AES256_integrity_protected_with_an_iterated_salted_SHA256_S2K()
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk));
        var packets = new BcpgInputStream(new MemoryStream(cipher));
        var key = Assert.IsType<SymmetricKeyEncSessionPacket>(packets.ReadPacket());
        Assert.Equal(SymmetricKeyEncSessionPacket.Version4, key.Version);
        Assert.Equal(SymmetricKeyAlgorithmTag.Aes256, key.EncAlgorithm);
        Assert.Equal(S2k.SaltedAndIterated, key.S2k.Type);
        Assert.Equal(HashAlgorithmTag.Sha256, key.S2k.HashAlgorithm);
        Assert.Equal(65_011_712, key.S2k.IterationCount);
        Assert.Empty(key.GetSecKeyData() ?? []);
        var data = Assert.IsType<SymmetricEncIntegrityPacket>(packets.ReadPacket());
        Assert.Equal(SymmetricEncIntegrityPacket.Version1, data.Version);
        // A partial body length of 2^20: the file streams in 1 MB pieces, never held whole.
        Assert.Equal(0xE0 + 20, cipher[KeyPacketLength(cipher) + 1]);
    }

    [Fact]
    public void Disposing_the_encrypting_stream_leaves_the_output_open()
    {
        // The backup writer reads the hash of the stream under the encryption after disposing the encryption.
        var file = new MemoryStream();
        var hashing = new HashingStream(file);
        using (var encrypting = BackupEncryption.Encrypt(hashing, Key)) encrypting.Write(new byte[10]);
        hashing.Write(Array.Empty<byte>());
        Assert.Equal(64, hashing.HashHex().Length);
        Assert.Equal(file.Length, hashing.BytesWritten);
        Assert.True(file.CanWrite);
    }

    [Fact]
    public void Disposing_the_decrypting_stream_leaves_the_input_open()
    {
        var input = new MemoryStream(Encrypt(new byte[10]));
        BackupEncryption.Decrypt(input, Key).Dispose();
        Assert.True(input.CanRead);
    }

    [Fact]
    public void The_same_data_encrypts_differently_each_time() =>
        Assert.NotEqual(Encrypt(new byte[100]), Encrypt(new byte[100]));

    [Fact]
    public void A_wrong_key_fails_to_decrypt() =>
        Assert.Equal("BackupDecryptionFailed", ErrorId(() => Decrypt(Encrypt(new byte[5000]), "wrong"u8.ToArray())));

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.99)]
    public void A_flipped_bit_fails_the_integrity_check(double where)
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(200_000));
        cipher[(int)(cipher.Length * where)] ^= 0x01;
        Assert.Equal("BackupDecryptionFailed", ErrorId(() => Decrypt(cipher)));
    }

    [Fact]
    public void A_flipped_bit_in_a_large_file_fails_the_integrity_check_at_its_end()
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk));
        cipher[Chunk / 2] ^= 0x80;
        Assert.Equal("BackupDecryptionFailed", ErrorId(() => Decrypt(cipher)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(40)]
    public void A_file_cut_in_its_first_bytes_is_truncated(int kept) =>
        Assert.Equal("BackupTruncated", ErrorId(() => Decrypt(Encrypt(new byte[100])[..kept])));

    [Fact]
    public void A_file_cut_at_a_partial_body_boundary_is_truncated()
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk));
        // The session key packet, the data packet's tag and first length, then exactly one 1 MB piece.
        var kept = KeyPacketLength(cipher) + 2 + Chunk;
        Assert.Equal("BackupTruncated", ErrorId(() => Decrypt(cipher[..kept])));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(22)]
    [InlineData(100)]
    [InlineData(150_000)]
    public void A_file_cut_short_is_truncated(int cut)
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(200_000));
        Assert.Equal("BackupTruncated", ErrorId(() => Decrypt(cipher[..^cut])));
    }

    [Fact]
    public void A_plain_file_is_not_an_encrypted_backup()
    {
        Assert.Equal("BackupNotEncrypted", ErrorId(() => Decrypt(new byte[64])));
        Assert.Equal("BackupNotEncrypted", ErrorId(() => Decrypt(Encoding.ASCII.GetBytes("PGDMP" + new string('-', 3000)))));
    }

    [Fact]
    public void A_large_file_decrypts_through_the_restore_hashing_stream()
    {
        var plain = RandomNumberGenerator.GetBytes(2 * Chunk + 5);
        var cipher = Encrypt(plain);
        using var hashing = new HashingStream(new MemoryStream(cipher));
        Assert.Equal(plain, Decrypt(hashing));
        hashing.ReadToEnd();
        Assert.Equal(Convert.ToHexString(SHA256.HashData(cipher)).ToLowerInvariant(), hashing.HashHex());
    }

    // ---- what a file may ask of its reader ----

    public static TheoryData<string, int, int?> RefusedKeyDerivations => new()
    {
        // what, S2K type, count byte
        { "simple (unsalted, one hash)", S2k.Simple, null },
        { "salted, not iterated", S2k.Salted, null },
        { "iterated, 65,536 bytes (gpg 1.4's count)", S2k.SaltedAndIterated, 0x60 },
        { "iterated, 1,015,808 bytes", S2k.SaltedAndIterated, 0x9F },
    };

    [Theory]
    [MemberData(nameof(RefusedKeyDerivations))]
    public void A_weak_key_derivation_is_refused(string what, int type, int? count)
    {
        var salt = RandomNumberGenerator.GetBytes(8);
        var s2k = type switch
        {
            S2k.Simple => new S2k(HashAlgorithmTag.Sha256),
            S2k.Salted => new S2k(HashAlgorithmTag.Sha256, salt),
            _ => new S2k(HashAlgorithmTag.Sha256, salt, count!.Value),
        };
        var file = WithKeyPacket(Encrypt(new byte[100]), SymmetricKeyEncSessionPacket.CreateV4Packet(SymmetricKeyAlgorithmTag.Aes256, s2k, null));
        var error = Assert.Throws<BackupFormatException>(() => Decrypt(file));
        Assert.True(error.ErrorId == "BackupEncryptionParametersRefused", what);
        Assert.Contains("unsafe or absurd key derivation", error.Message);
    }

    [Theory]
    [InlineData(HashAlgorithmTag.Sha1)]
    [InlineData(HashAlgorithmTag.MD5)]
    [InlineData(HashAlgorithmTag.RipeMD160)]
    [InlineData(HashAlgorithmTag.Sha224)]
    public void A_key_derivation_with_another_digest_is_refused(HashAlgorithmTag digest)
    {
        var s2k = new S2k(digest, RandomNumberGenerator.GetBytes(8), 0xFF);
        var file = WithKeyPacket(Encrypt(new byte[100]), SymmetricKeyEncSessionPacket.CreateV4Packet(SymmetricKeyAlgorithmTag.Aes256, s2k, null));
        var error = Assert.Throws<BackupFormatException>(() => Decrypt(file));
        Assert.Equal("BackupEncryptionParametersRefused", error.ErrorId);
        Assert.Contains(digest.ToString(), error.Message);
    }

    [Fact]
    public void A_SHA512_key_derivation_is_read()
    {
        var file = EncryptWith(SymmetricKeyAlgorithmTag.Aes256, integrityProtected: true, HashAlgorithmTag.Sha512);
        Assert.Equal("hello"u8.ToArray(), Decrypt(file));
    }

    [Theory]
    [InlineData(SymmetricKeyAlgorithmTag.Aes128)]
    [InlineData(SymmetricKeyAlgorithmTag.Aes192)]
    [InlineData(SymmetricKeyAlgorithmTag.Cast5)]
    [InlineData(SymmetricKeyAlgorithmTag.TripleDes)]
    [InlineData(SymmetricKeyAlgorithmTag.Twofish)]
    public void Another_cipher_is_refused(SymmetricKeyAlgorithmTag cipher)
    {
        var error = Assert.Throws<BackupFormatException>(() => Decrypt(EncryptWith(cipher, integrityProtected: true, HashAlgorithmTag.Sha256)));
        Assert.Equal("BackupEncryptionParametersRefused", error.ErrorId);
        Assert.Contains(cipher.ToString(), error.Message);
    }

    [Fact]
    public void Data_without_integrity_protection_is_refused()
    {
        var error = Assert.Throws<BackupFormatException>(() => Decrypt(EncryptWith(SymmetricKeyAlgorithmTag.Aes256, integrityProtected: false, HashAlgorithmTag.Sha256)));
        Assert.Equal("BackupEncryptionParametersRefused", error.ErrorId);
        Assert.Contains("no integrity protection", error.Message);
    }

    [Fact]
    public void A_file_for_several_passphrases_is_refused() =>
        Assert.Equal("BackupEncryptionParametersRefused",
            ErrorId(() => Decrypt(EncryptWith(SymmetricKeyAlgorithmTag.Aes256, integrityProtected: true, HashAlgorithmTag.Sha256, HashAlgorithmTag.Sha256))));

    [Fact]
    public void An_integrity_protected_packet_of_another_version_is_refused()
    {
        var cipher = Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk));
        var version = KeyPacketLength(cipher) + 2;
        Assert.Equal(SymmetricEncIntegrityPacket.Version1, cipher[version]);
        cipher[version] = SymmetricEncIntegrityPacket.Version2;
        Assert.Equal("BackupEncryptionParametersRefused", ErrorId(() => Decrypt(cipher)));
    }

    // ---- files in the first format, "UOPSAES1", written before OpenPGP ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Chunk)]
    [InlineData(3 * Chunk + 12345)]
    public void An_old_format_file_still_decrypts(int size)
    {
        var plain = RandomNumberGenerator.GetBytes(size);
        Assert.Equal(plain, Decrypt(OldFormatEncryption.Encrypt(plain, Key)));
    }

    [Fact]
    public void A_large_old_format_file_decrypts_through_the_restore_hashing_stream()
    {
        // A restore reads through a HashingStream, whose Position and Length are both the bytes read so far.
        var plain = RandomNumberGenerator.GetBytes(2 * Chunk + 5);
        using var hashing = new HashingStream(new MemoryStream(OldFormatEncryption.Encrypt(plain, Key)));
        Assert.Equal(plain, Decrypt(hashing));
    }

    [Fact]
    public void An_old_format_file_with_a_wrong_key_or_a_flipped_bit_fails_authentication()
    {
        var cipher = OldFormatEncryption.Encrypt(RandomNumberGenerator.GetBytes(200_000), Key);
        Assert.Equal("BackupDecryptionFailed", ErrorId(() => Decrypt(cipher, "wrong"u8.ToArray())));
        cipher[cipher.Length / 2] ^= 0x01;
        Assert.Equal("BackupDecryptionFailed", ErrorId(() => Decrypt(cipher)));
    }

    [Fact]
    public void An_old_format_file_cut_at_a_chunk_boundary_is_truncated()
    {
        var cipher = OldFormatEncryption.Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk), Key);
        // Keep the header and the first two whole chunks: each chunk is length + data + tag.
        var kept = OldFormatEncryption.HeaderSize + 2 * (4 + Chunk + 16);
        Assert.Equal("BackupTruncated", ErrorId(() => Decrypt(cipher[..kept])));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(100_010)]
    public void An_old_format_file_cut_inside_is_truncated(int cut) =>
        Assert.Equal("BackupTruncated", ErrorId(() => Decrypt(OldFormatEncryption.Encrypt(RandomNumberGenerator.GetBytes(100_000), Key)[..^cut])));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(99_999)]
    [InlineData(10_000_001)]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    public void An_old_format_file_asking_for_an_unsafe_or_absurd_key_derivation_is_refused_before_deriving(int iterations)
    {
        var cipher = OldFormatEncryption.Encrypt(new byte[100], Key, iterations: 100_000);
        BinaryPrimitives.WriteInt32LittleEndian(cipher.AsSpan(24), iterations);
        var error = Assert.Throws<BackupFormatException>(() => Decrypt(cipher));
        Assert.Equal("BackupEncryptionParametersRefused", error.ErrorId);
        Assert.Contains(iterations.ToString("N0", CultureInfo.InvariantCulture), error.Message);
        Assert.Contains("unsafe or absurd key derivation", error.Message);
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

    [Fact]
    public void A_new_manifest_names_the_format_its_files_are_in()
    {
        var info = new BackupEncryptionInfo { KeyCheckSalt = "c2FsdA==", KeyCheck = "x" };
        Assert.Equal("OpenPGP-AES256", info.Algorithm);
        Assert.Equal("S2K-SHA256-iterated", info.KeyDerivation);
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

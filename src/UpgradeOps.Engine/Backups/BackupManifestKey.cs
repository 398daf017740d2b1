using System.Security.Cryptography;
using System.Text;

namespace UpgradeOps.Backups;

/// <summary>
/// What a passphrase proves about a backup's manifest, apart from how the files themselves are encrypted (their format
/// derives keys of its own, per file): PBKDF2-SHA256 of the passphrase with the manifest's keyCheckSalt gives one key. Its
/// SHA-256 is the key check (the passphrase is the right one, without revealing it); HKDF-SHA256 of it, under a label of
/// its own, keys the HMAC-SHA256 of the manifest's content (the manifest is as the backup wrote it: its integrity hash
/// proves nothing against someone who edits it, since anyone can recompute a SHA-256). Neither the passphrase nor a key
/// is ever used raw or written.
/// </summary>
public static class BackupManifestKey
{
    private const int Iterations = 310_000;
    private static readonly byte[] MacLabel = "UpgradeOps backup manifest MAC v1"u8.ToArray();

    /// <summary>A value that proves a passphrase is the one a backup was made with, without revealing it.</summary>
    public static string KeyCheck(ReadOnlySpan<byte> passphrase, string saltBase64)
    {
        var key = Derive(passphrase, saltBase64);
        try
        {
            return KeyCheck(key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>The manifest key of a passphrase; the caller zeroes it.</summary>
    internal static byte[] Derive(ReadOnlySpan<byte> passphrase, string saltBase64) =>
        Rfc2898DeriveBytes.Pbkdf2(passphrase, Convert.FromBase64String(saltBase64), Iterations, HashAlgorithmName.SHA256, 32);

    internal static string KeyCheck(byte[] key) => Convert.ToBase64String(SHA256.HashData(key));

    /// <summary>The HMAC-SHA256 (hex) of a manifest's content, keyed by HKDF of the manifest key.</summary>
    internal static string Mac(byte[] key, string content)
    {
        var macKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, key, 32, salt: null, info: MacLabel);
        try
        {
            return Convert.ToHexString(HMACSHA256.HashData(macKey, Encoding.UTF8.GetBytes(content))).ToLowerInvariant();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(macKey);
        }
    }

    /// <summary>Compares two recorded values in constant time, so a forger learns nothing from how long a refusal takes.</summary>
    internal static bool SameValue(string expected, string? actual) =>
        actual is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(actual));
}

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using UpgradeOps.Backups;
using UpgradeOps.Engine.Tests.Backups;

// Encrypts and decrypts the same stream of SizeMB megabytes, Runs times, in both formats; prints the medians.
// Arguments: [SizeMB=256] [Runs=3]. The data is random (nothing compresses) and the ciphertext is kept in memory, so the
// figures are the encryption's own, without a disk.
var sizeMb = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 256;
var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var passphrase = "correct horse battery staple"u8.ToArray();
var block = RandomNumberGenerator.GetBytes(1 << 20);
var formats = new (string Name, Func<Stream, Stream> Encrypt)[]
{
    ("OpenPGP AES-256 + MDC, S2K SHA-256 x 65,011,712 (BouncyCastle)", output => BackupEncryption.Encrypt(output, passphrase)),
    ("first format: chunked AES-256-GCM, PBKDF2-SHA256 x 310,000 (.NET)", output => OldFormatEncryption.Encrypt(output, passphrase)),
};

Console.WriteLine($"{sizeMb} MB, {runs} runs, .NET {Environment.Version}, {Environment.ProcessorCount} cores");
foreach (var (name, encrypt) in formats)
{
    var encryptSeconds = new List<double>();
    var decryptSeconds = new List<double>();
    var keySeconds = new List<double>();
    long cipherBytes = 0;
    for (var run = 0; run < runs; run++)
    {
        // Key derivation alone: an empty file, encrypted and decrypted.
        var clock = Stopwatch.StartNew();
        var empty = new MemoryStream();
        using (encrypt(empty)) { }
        empty.Position = 0;
        using (var reading = BackupEncryption.Decrypt(empty, passphrase)) reading.CopyTo(Stream.Null);
        keySeconds.Add(clock.Elapsed.TotalSeconds / 2);

        var cipher = new MemoryStream(capacity: (sizeMb + 8) << 20);
        clock.Restart();
        using (var writing = encrypt(cipher))
            for (var i = 0; i < sizeMb; i++) writing.Write(block);
        encryptSeconds.Add(clock.Elapsed.TotalSeconds);
        cipherBytes = cipher.Length;

        cipher.Position = 0;
        var buffer = new byte[1 << 16];
        long plainBytes = 0;
        clock.Restart();
        using (var reading = BackupEncryption.Decrypt(cipher, passphrase))
            for (int read; (read = reading.Read(buffer)) > 0;) plainBytes += read;
        decryptSeconds.Add(clock.Elapsed.TotalSeconds);
        if (plainBytes != (long)sizeMb << 20) throw new InvalidOperationException($"{name}: decrypted {plainBytes} bytes, {(long)sizeMb << 20} were written.");
    }
    double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
    Console.WriteLine(name);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  encrypt {sizeMb / Median(encryptSeconds),7:N0} MB/s ({Median(encryptSeconds):N2} s)   decrypt {sizeMb / Median(decryptSeconds),7:N0} MB/s ({Median(decryptSeconds):N2} s)   " +
        $"key derivation {Median(keySeconds) * 1000:N0} ms per file   overhead {cipherBytes - ((long)sizeMb << 20):N0} bytes"));
}

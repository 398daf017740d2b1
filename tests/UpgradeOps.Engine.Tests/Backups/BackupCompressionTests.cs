using System.Security.Cryptography;
using UpgradeOps.Backups;
using Xunit;

namespace UpgradeOps.Engine.Tests.Backups;

public class BackupCompressionTests
{
    private static BackupComponent Component(string? compression) => new()
    {
        Name = "database", Kind = BackupComponentKind.PostgresDump, File = "database.dump.zst", Sha256 = "", Compression = compression,
    };

    private static byte[] Compressed(byte[] content)
    {
        var file = new MemoryStream();
        using (var zstd = BackupCompression.Compress(file)) zstd.Write(content);
        return file.ToArray();
    }

    [Fact]
    public void Gives_back_exactly_what_was_compressed_and_leaves_the_target_open()
    {
        // A dump is mostly repeated text: it must shrink, and come back byte for byte.
        var content = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 20000).Select(i => $"{i}\tartifact-{i % 97}\tchecksum\n")));
        var file = new MemoryStream();
        using (var zstd = BackupCompression.Compress(file)) zstd.Write(content);
        Assert.True(file.CanWrite, "the component file under the compressor stays open for the writer's hash");
        Assert.True(file.Length < content.Length / 3, $"{file.Length} of {content.Length} bytes");

        using var read = BackupCompression.Decompressed(new MemoryStream(file.ToArray()), Component(BackupCompression.Zstd));
        var back = new MemoryStream();
        read.CopyTo(back);
        Assert.Equal(content, back.ToArray());
    }

    [Fact]
    public void Reads_a_component_of_an_earlier_backup_as_it_was_written()
    {
        var content = new MemoryStream(new byte[] { 1, 2, 3 });
        Assert.Same(content, BackupCompression.Decompressed(content, Component(null)));
    }

    [Fact]
    public async Task A_damaged_zstd_file_is_BackupDataCorrupt_not_a_decoder_exception()
    {
        var compressed = Compressed(RandomNumberGenerator.GetBytes(200_000));
        compressed[compressed.Length / 2] ^= 0xFF;
        compressed[compressed.Length / 2 + 1] ^= 0xFF;
        await using var read = BackupCompression.Decompressed(new MemoryStream(compressed), Component(BackupCompression.Zstd));
        var error = await Assert.ThrowsAsync<BackupFormatException>(() => read.CopyToAsync(Stream.Null));
        Assert.Equal("BackupDataCorrupt", error.ErrorId);
        Assert.Contains("database.dump.zst", error.Message);
        Assert.Contains("Restore another backup", error.Message);
    }

    [Fact]
    public void A_zstd_file_cut_short_is_BackupDataCorrupt()
    {
        var compressed = Compressed(RandomNumberGenerator.GetBytes(200_000));
        using var read = BackupCompression.Decompressed(new MemoryStream(compressed[..(compressed.Length / 2)]), Component(BackupCompression.Zstd));
        var error = Assert.Throws<BackupFormatException>(() => read.CopyTo(Stream.Null));
        Assert.Equal("BackupDataCorrupt", error.ErrorId);
    }

    [Fact]
    public void A_compression_this_version_does_not_know_is_refused_with_what_to_do()
    {
        var error = Assert.Throws<BackupFormatException>(() => BackupCompression.Decompressed(new MemoryStream(), Component("brotli")));
        Assert.Equal("BackupCompressionUnknown", error.ErrorId);
        Assert.Contains("brotli", error.Message);
    }
}

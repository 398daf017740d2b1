using ZstdSharp;

namespace UpgradeOps.Backups;

/// <summary>
/// The compression a component's file carries beyond its tool's own format. PostgreSQL dumps are taken uncompressed
/// (pg_dump -Fc -Z0) and compressed here with zstd as they stream: pg_dump -Fc spends its time in zlib at level 6 on the
/// database's side, while zstd runs on this side, in parallel with the dump, several times faster at a similar ratio.
/// A file is still the tool's own format under one standard layer: `zstd -d &lt; database.dump.zst | pg_restore` reads it.
/// </summary>
public static class BackupCompression
{
    /// <summary>The manifest's name for a zstd frame around the tool's output (a component without one was written as the tool wrote it).</summary>
    public const string Zstd = "zstd";

    /// <summary>The file name's mark of a zstd component, so that the file says what reads it.</summary>
    public const string ZstdExtension = ".zst";

    // Level 1: on a 2-core machine the dump itself needs one core; a higher level made the compressor, not pg_dump, the
    // bound (bench/backup.ps1 reports the size ratio beside the time).
    private const int ZstdLevel = 1;

    /// <summary>A stream that compresses into <paramref name="target"/> (left open) what the component's tool writes.</summary>
    public static Stream Compress(Stream target)
    {
        var stream = new CompressionStream(target, ZstdLevel, leaveOpen: true);
        // zstd stores incompressible data as it is: without the frame's checksum a damaged byte there would decompress unnoticed.
        stream.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
        return stream;
    }

    /// <summary>
    /// The tool's own bytes of a component: <paramref name="content"/> itself when it carries no compression of ours, else a
    /// decompressing stream over it that disposes it with itself unless <paramref name="leaveOpen"/>. Damaged zstd data
    /// is a <see cref="BackupFormatException"/> (BackupDataCorrupt), never a raw decoder exception.
    /// </summary>
    public static Stream Decompressed(Stream content, BackupComponent component, bool leaveOpen = false) => component.Compression switch
    {
        null => content,
        Zstd => new CheckedDecompressionStream(content, component, leaveOpen),
        var other => throw new BackupFormatException("BackupCompressionUnknown",
            $"{component.File} is compressed with '{other}', which this version of UpgradeOps does not read. Use the version that wrote the backup (its manifest's tool versions say which).")
    };

    private sealed class CheckedDecompressionStream(Stream content, BackupComponent component, bool leaveOpen)
        : DecompressionStream(content, leaveOpen: leaveOpen)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            try { return base.Read(buffer, offset, count); }
            catch (Exception ex) when (ex is ZstdException or EndOfStreamException) { throw Corrupt(ex); }
        }

        public override int Read(Span<byte> buffer)
        {
            try { return base.Read(buffer); }
            catch (Exception ex) when (ex is ZstdException or EndOfStreamException) { throw Corrupt(ex); }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try { return await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false); }
            catch (Exception ex) when (ex is ZstdException or EndOfStreamException) { throw Corrupt(ex); }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private BackupFormatException Corrupt(Exception ex) =>
            new("BackupDataCorrupt", $"{component.File} does not decompress ({ex.Message}): the file is damaged or was cut short. Restore another backup.");
    }
}

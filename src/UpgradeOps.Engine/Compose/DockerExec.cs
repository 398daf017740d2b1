using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using UpgradeOps.Hosting;

namespace UpgradeOps.Compose;

/// <summary>
/// Runs a command inside a running container through the Engine's exec API — no docker CLI, no local
/// binaries — streaming standard output to a caller's stream (a backup file) and, optionally, a caller's
/// stream to standard input (a restore).
/// </summary>
public static class DockerExec
{
    private const int StderrLimit = 64 * 1024;

    /// <param name="standardOutput">Where stdout goes; null keeps up to 1 MiB of it as text in the result.</param>
    /// <param name="environment">KEY=VALUE pairs for the command only (e.g. PGPASSWORD); never logged.</param>
    public static async Task<ExecResult> RunAsync(DockerClient client, string containerId, IReadOnlyList<string> command,
        CancellationToken cancellationToken, Stream? standardOutput = null, Stream? standardInput = null,
        IReadOnlyList<string>? environment = null, string? user = null)
    {
        var created = await client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
        {
            Cmd = command.ToList(),
            AttachStdout = true,
            AttachStderr = true,
            AttachStdin = standardInput is not null,
            // Null fields are not sent: no extra environment, the container's own user.
            Env = environment?.ToList()!,
            User = user!,
        }, cancellationToken).ConfigureAwait(false);

        var stderr = new DecodedText(StderrLimit);
        var captured = standardOutput is null ? new MemoryStream() : null;
        var output = standardOutput ?? captured!;
        if (client.Options.Endpoint.Scheme == "unix")
            await Task.Factory.StartNew(() => UnixSocketExec.Attach(client.Options.Endpoint.LocalPath, created.ID, output, captured is not null, standardInput, stderr, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        else
            await AttachThroughClientAsync(client, created.ID, output, captured is not null, standardInput, stderr, cancellationToken).ConfigureAwait(false);

        // The exit code is known once the Engine has reaped the process, a moment after the stream ends.
        ContainerExecInspectResponse inspect;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            inspect = await client.Exec.InspectContainerExecAsync(created.ID, cancellationToken).ConfigureAwait(false);
            if (!inspect.Running) break;
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        } while (DateTime.UtcNow < deadline);

        return new ExecResult(inspect.ExitCode ?? -1, stderr.ToString(), captured is null ? "" : Encoding.UTF8.GetString(captured.ToArray()));
    }

    private static async Task AttachThroughClientAsync(DockerClient client, string execId, Stream target, bool capped, Stream? standardInput,
        DecodedText stderr, CancellationToken cancellationToken)
    {
        using var stream = await client.Exec.StartContainerExecAsync(execId, new ContainerExecStartParameters(), cancellationToken)
            .ConfigureAwait(false);
        var feeding = standardInput is null ? Task.CompletedTask : FeedAsync(stream, standardInput, cancellationToken);
        var buffer = new byte[1 << 20];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
            if (read.EOF) break;
            if (read.Target == MultiplexedStream.TargetStream.StandardError)
                stderr.Append(buffer.AsSpan(0, read.Count));
            else if (!capped || target.Length < Backups.IContainerExec.CapturedLimit)
                await target.WriteAsync(buffer.AsMemory(0, read.Count), cancellationToken).ConfigureAwait(false);
        }
        // The command's output ended: it is done with its input too. A write still blocked on a full pipe would wait for
        // the Engine's own timeout, so the connection is closed under it.
        if (!feeding.IsCompleted) stream.Dispose();
        await feeding.ConfigureAwait(false);
    }

    private static async Task FeedAsync(MultiplexedStream stream, Stream input, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        int read;
        try
        {
            while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                await stream.WriteAsync(buffer, 0, read, cancellationToken).ConfigureAwait(false);
            stream.CloseWrite();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The command stopped reading (pg_restore --list reads only the table of contents); its exit code tells whether
            // that was an error. Half-close anyway so the Engine ends the output stream at once.
            try { stream.CloseWrite(); } catch (Exception inner) when (inner is IOException or ObjectDisposedException) { }
        }
    }
}

using System.Runtime.ExceptionServices;

namespace UpgradeOps.Hosting;

/// <summary>
/// Independent parts of one operation run at the same time and stop together: the first part to fail cancels the others,
/// every part has ended before the call returns (none is left writing behind its caller's cleanup), and the error thrown
/// is that first failure, not the cancellations it caused.
/// </summary>
internal static class SideBySide
{
    public static async Task RunAsync(CancellationToken ct, params Func<CancellationToken, Task>[] parts)
    {
        using var together = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Exception? first = null;
        async Task RunPartAsync(Func<CancellationToken, Task> part)
        {
            try
            {
                await part(together.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref first, ex, null);
                together.Cancel();
            }
        }
        await Task.WhenAll(parts.Select(RunPartAsync)).ConfigureAwait(false);
        if (first is not null) ExceptionDispatchInfo.Throw(first);
    }
}

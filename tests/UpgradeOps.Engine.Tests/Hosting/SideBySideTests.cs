using UpgradeOps.Hosting;

namespace UpgradeOps.Tests.Hosting;

/// <summary>
/// A restore stages its volumes while its dumps restore: both sides run at once, a failure on one stops the other, the
/// caller's cleanup runs only once both have ended, and the error is the real one.
/// </summary>
public class SideBySideTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Runs_the_parts_at_the_same_time()
    {
        // Each part waits for the other to have started: run one after the other, they would never end.
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await SideBySide.RunAsync(CancellationToken.None,
            async ct => { first.SetResult(); await second.Task.WaitAsync(Patience, ct); },
            async ct => { second.SetResult(); await first.Task.WaitAsync(Patience, ct); });
    }

    [Fact]
    public async Task The_first_failure_cancels_the_other_part_and_is_the_error_thrown()
    {
        var otherCancelled = false;
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => SideBySide.RunAsync(CancellationToken.None,
            async ct =>
            {
                try
                {
                    await Task.Delay(Patience, ct);
                }
                catch (OperationCanceledException)
                {
                    otherCancelled = true;
                    throw;
                }
            },
            async _ =>
            {
                await Task.Yield();
                throw new InvalidOperationException("the disk is full");
            }));
        Assert.Equal("the disk is full", ex.Message);
        Assert.True(otherCancelled);
    }

    [Fact]
    public async Task Returns_only_once_every_part_has_ended_also_a_part_slow_to_stop()
    {
        var slowEnded = false;
        await Assert.ThrowsAsync<InvalidOperationException>(() => SideBySide.RunAsync(CancellationToken.None,
            async _ =>
            {
                // A part that finishes what it writes before it looks at the token.
                await Task.Delay(300, CancellationToken.None);
                slowEnded = true;
            },
            _ => throw new InvalidOperationException("a damaged archive")));
        Assert.True(slowEnded);
    }

    [Fact]
    public async Task The_callers_cancellation_stops_every_part()
    {
        using var caller = new CancellationTokenSource();
        var running = SideBySide.RunAsync(caller.Token,
            ct => Task.Delay(Timeout.Infinite, ct),
            ct => Task.Delay(Timeout.Infinite, ct));
        caller.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running.WaitAsync(Patience));
    }

    [Fact]
    public async Task Parts_that_all_succeed_return_without_error()
    {
        var ran = 0;
        await SideBySide.RunAsync(CancellationToken.None,
            _ => { Interlocked.Increment(ref ran); return Task.CompletedTask; },
            async _ => { await Task.Yield(); Interlocked.Increment(ref ran); });
        Assert.Equal(2, ran);
    }
}

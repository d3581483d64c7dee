using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// The host's guest paused around every Enable's move through its <see cref="IGuestPause"/>, as
/// crosvm's VMM suspends its vCPUs for <c>swap enable</c>: a guest write that lands between a
/// page's copy to staging and the hole punched behind it would be lost.
/// </summary>
public sealed class GuestPauseTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task A_guest_writing_all_the_time_loses_no_write_when_the_runtime_pauses_it_for_each_enable()
    {
        using var guest = new GuestFixture(2048);
        guest.Fill(seed: 51);
        using var writer = new GuestWriter(guest, seed: 51);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: "pause-writer", pause: writer);

        for (var cycle = 0; cycle < 3; cycle++)
        {
            var writes = writer.Writes;
            Assert.Equal(CommandOutcome.Accepted, (await swap.EnableAsync()).Outcome);
            await writer.WaitForWritesAfter(writes);
            await swap.SwapOutAsync();
            await swap.WaitForStateAsync(SwapState.Active, Deadline);

            // Enable again from Active: the guest is paused for that move too.
            Assert.Equal(CommandOutcome.Accepted, (await swap.EnableAsync()).Outcome);
            await writer.WaitForWritesAfter(writer.Writes);
            await swap.DisableAsync();
            await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        }

        writer.Stop();
        Assert.Equal(6, writer.Pauses);
        Assert.Equal(6, writer.Resumes);
        Assert.True(writer.Writes > 100, $"the guest wrote only {writer.Writes} pages");
        Assert.False(writer.WroteWhilePaused, "the guest wrote while the runtime had it paused");
        Assert.Empty(guest.Mismatches());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_guest_that_cannot_be_paused_refuses_the_enable_with_nothing_moved_and_is_resumed(bool throwsAtOnce)
    {
        using var guest = new GuestFixture(64);
        guest.Fill(seed: 52);
        var pause = new FailingPause(throwsAtOnce);
        var swap = SwapController.Start(Sys, guest.Memory, Options(), name: $"pause-fails-{throwsAtOnce}", pause: pause);

        var refused = await Assert.ThrowsAsync<SwapCommandException>(() => swap.EnableAsync());

        Assert.Contains("could not be paused", refused.Message, StringComparison.Ordinal);
        Assert.Contains("vCPU 3 is stuck", refused.Message, StringComparison.Ordinal);
        var status = await swap.StatusAsync();
        Assert.Equal(SwapState.Ready, status.State);
        Assert.Equal(0, status.Metrics.StagingPages);
        Assert.Equal(1, pause.Resumes);

        // Commands meanwhile are answered as in Ready, and the next Enable pauses again.
        Assert.Equal(CommandOutcome.Ignored, (await swap.SwapOutAsync()).Outcome);
        pause.Fails = false;
        Assert.Equal(CommandOutcome.Accepted, (await swap.EnableAsync()).Outcome);
        Assert.Equal(2, pause.Resumes);
        await swap.DisableAsync();
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }

    // A guest thread rewriting random pages with fresh bytes as fast as it can, which stops
    // between two writes when paused.
    private sealed class GuestWriter : IGuestPause, IDisposable
    {
        private readonly GuestFixture _guest;
        private readonly Thread _thread;
        private readonly Random _random;
        private readonly ManualResetEventSlim _running = new(true);
        private readonly SemaphoreSlim _parked = new(0);
        private volatile bool _pauseAsked;
        private volatile bool _paused;
        private volatile bool _stop;
        private long _writes;

        internal GuestWriter(GuestFixture guest, int seed)
        {
            _guest = guest;
            _random = new Random(seed);
            _thread = new Thread(Loop) { IsBackground = true, Name = "guest writer" };
            _thread.Start();
        }

        internal long Writes => Interlocked.Read(ref _writes);

        internal int Pauses { get; private set; }

        internal int Resumes { get; private set; }

        internal bool WroteWhilePaused { get; private set; }

        public async Task PauseAsync(CancellationToken cancellationToken)
        {
            Pauses++;
            _running.Reset();
            _pauseAsked = true;
            await _parked.WaitAsync(cancellationToken);
            _paused = true;
        }

        public void Resume()
        {
            Resumes++;
            _paused = false;
            _pauseAsked = false;
            _running.Set();
        }

        internal async Task WaitForWritesAfter(long writes)
        {
            var deadline = DateTime.UtcNow + Deadline;
            while (Writes < writes + 50 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5);
            }
        }

        internal void Stop()
        {
            _stop = true;
            _running.Set();
            _thread.Join();
        }

        public void Dispose()
        {
            if (_thread.IsAlive)
            {
                Stop();
            }

            _running.Dispose();
            _parked.Dispose();
        }

        private void Loop()
        {
            var page = new byte[PageSize.Bytes];
            while (!_stop)
            {
                if (_pauseAsked)
                {
                    _parked.Release();
                    _running.Wait();
                    continue;
                }

                _random.NextBytes(page);
                WroteWhilePaused |= _paused;
                _guest.WritePage(_random.NextInt64(_guest.Memory.PageCount), (byte[])page.Clone());
                Interlocked.Increment(ref _writes);
            }
        }
    }

    private sealed class FailingPause(bool throwsAtOnce) : IGuestPause
    {
        internal bool Fails { get; set; } = true;

        internal int Resumes { get; private set; }

        public async Task PauseAsync(CancellationToken cancellationToken)
        {
            if (Fails && throwsAtOnce)
            {
                throw new InvalidOperationException("vCPU 3 is stuck");
            }

            await Task.Yield();
            if (Fails)
            {
                throw new InvalidOperationException("vCPU 3 is stuck");
            }
        }

        public void Resume() => Resumes++;
    }
}

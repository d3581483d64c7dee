using VmmSwap.Core.Pages;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// A job whose chunk in flight fails while the job is being aborted has failed, not aborted: the
/// failure reaches the host (Failed, VmmSwapFailed with its cause) before the command that aborted
/// it goes on, and every page stays intact.
/// </summary>
public sealed class AbortFailureTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task A_swap_out_that_fails_while_Disable_aborts_it_is_reported_as_failed_and_Disable_still_brings_every_page_back()
    {
        // Smaller than one swap-out chunk: the first write hits ENOSPC.
        using var swapDir = TestMount.Create("tmpfs", "size=64k");
        using var guest = new GuestFixture(128, 64);
        guest.Fill(seed: 91);
        var options = Options() with { SwapDirectory = swapDir.Directory, SwapChunkBytes = (ulong)PageSize.PagesToBytes(64) };
        var swap = StartPaused(guest.Memory, options, name: "fails-while-aborting");
        var failures = CreateTestProbe();
        Sys.EventStream.Subscribe(failures.Ref, typeof(VmmSwapFailed));
        try
        {
            await swap.EnableAsync().WaitAsync(Deadline);
            await swap.SwapOutAsync().WaitAsync(Deadline);

            // Released first, so the job's first chunk is in flight when the abort reaches it.
            ResumeJobs(swap);
            var disable = await swap.DisableAsync().WaitAsync(Deadline);

            var failed = failures.ExpectMsg<VmmSwapFailed>(Deadline);
            Assert.Equal(SwapFailureKind.DiskFull, failed.Failure.Kind);
            Assert.Equal(CommandOutcome.Accepted, disable.Outcome);
            ResumeJobs(swap);
            Assert.Equal(SwapState.Ready, (await swap.WaitForStateAsync(SwapState.Ready, Deadline)).State);
            Assert.Empty(guest.Mismatches());
        }
        finally
        {
            // The swap file lives on the mount: the runtime goes before the mount does.
            ResumeJobs(swap);
            await swap.ExitAsync().WaitAsync(Deadline);
        }
    }
}

using VmmSwap.Actors.Hosting;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.StateMachine;

/// <summary>
/// A swap file whose writes fail at writeback (the disk is full underneath, found only by
/// fdatasync): staging must not be freed before the file is known durable.
/// </summary>
public sealed class FlushFailureTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Theory]
    [InlineData(4096)] // 16 MiB: the final flush of the swap-out fails
    [InlineData(20480)] // 80 MiB: the sync before the first 64 MiB of written staging is freed fails
    public async Task A_swap_out_whose_sync_fails_goes_failed_with_staging_intact_and_disable_brings_every_page_back(long pages)
    {
        using var disk = new FullDisk();
        using var guest = new GuestFixture(pages);
        guest.Fill(seed: 111);
        var failures = CreateTestProbe();
        Sys.EventStream.Subscribe(failures.Ref, typeof(VmmSwapFailed));
        var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = disk.Directory }, name: $"flush-fails-{pages}");
        await swap.EnableAsync().WaitAsync(Deadline);

        await swap.SwapOutAsync().WaitAsync(Deadline);
        var failed = await swap.WaitForStateAsync(SwapState.Active, Deadline);

        // Found by fdatasync, or by a write once the file system gave up (read-only after its journal failed).
        Assert.Equal(SwapState.Failed, failed.State);
        Assert.StartsWith("SwapOut failed", failed.Error, StringComparison.Ordinal);
        var published = await failures.ExpectMsgAsync<VmmSwapFailed>(Deadline);
        Assert.Contains(published.Failure.Kind, new[] { SwapFailureKind.DiskFull, SwapFailureKind.IoError });

        // Every page the file may not hold is staged again, with its bytes.
        var status = await swap.StatusAsync();
        Assert.Equal(guest.WrittenPages, status.Metrics.StagingPages + status.Metrics.SwapPages);
        Assert.Empty(guest.Mismatches());
        await swap.DisableAsync().WaitAsync(Deadline);
        await swap.WaitForStateAsync(SwapState.Ready, Deadline);
        Assert.Empty(guest.Mismatches());
    }
}

using VmmSwap.Actors.Hosting;
using VmmSwap.Core.Pages;
using VmmSwap.Testing;
using Xunit.Abstractions;

namespace VmmSwap.Actors.Tests.Metrics;

/// <summary>The host gets the swap file's RAM back after every swap-out, not only the first.</summary>
public sealed class HostMemoryReleaseTests(ITestOutputHelper output) : SwapTestKit(output)
{
    [Fact]
    public async Task After_swap_out_on_cycles_two_and_three_the_swap_file_holds_no_page_cache()
    {
        var swapDir = Directory.CreateTempSubdirectory("vmm-swap-release-").FullName;
        try
        {
            using var guest = new GuestFixture(2048);
            guest.Fill(seed: 101, stride: 1);
            var swap = SwapController.Start(Sys, guest.Memory, Options() with { SwapDirectory = swapDir }, name: "release-cycles");
            var fileBytes = PageSize.PagesToBytes(guest.Memory.PageCount);

            var cached = new List<long>();
            for (var cycle = 1; cycle <= 3; cycle++)
            {
                await swap.EnableAsync().WaitAsync(Deadline);
                await swap.TrimAsync().WaitAsync(Deadline);
                await swap.WaitForStateAsync(SwapState.Pending, Deadline);
                await swap.SwapOutAsync().WaitAsync(Deadline);
                await swap.WaitForStateAsync(SwapState.Active, Deadline);
                cached.Add(SwapFileOnDisk.CachedBytes(swapDir));

                // The guest reads every page back from the file (faults through its mapping); the
                // next cycle's trim compares them with their bytes on disk (reads through it too).
                Assert.Empty(guest.Mismatches());
            }

            // Cycle 1 never read through the mapping; 2 and 3 did, in faults and trim comparisons.
            foreach (var bytes in cached)
            {
                Assert.True(bytes <= (long)fileBytes / 100, $"swap file page cache after each swap-out: {string.Join(", ", cached)} bytes of {fileBytes}");
            }

            await swap.DisableAsync().WaitAsync(Deadline);
            await swap.WaitForStateAsync(SwapState.Ready, Deadline);
            Assert.Empty(guest.Mismatches());
        }
        finally
        {
            Directory.Delete(swapDir, recursive: true);
        }
    }
}

using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Handler;

/// <summary>
/// Durability holes around written-but-unsynced swap-out runs, on a swap file whose writes fail
/// at writeback (<see cref="FullDisk"/>), with a real userfaultfd serving the guest's faults.
/// </summary>
public sealed class ReviewFindingsTests
{
    private const long Pages = 4096;
    private const ulong Chunk = 2 * 1024 * 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    // A page faulted back from a run written but never synced keeps its "on disk" mark when the
    // sync fails and the run is staged again; the next cycle's trim then takes the page cache's
    // copy of those unwritten bytes for a clean copy on disk and frees staging. The next sync
    // succeeds (the writeback error was reported once already), the cache is dropped, and the
    // page reads back from a disk that never held it.
    [Fact]
    public void A_page_faulted_back_from_a_run_whose_sync_failed_is_not_trimmed_as_clean()
    {
        using var disk = new FullDisk();
        using var guest = GuestMemory.Create(PageSize.PagesToBytes(Pages));
        for (long p = 0; p < Pages; p++)
        {
            guest.Write(guest.PageAddress(p), Content(p));
        }

        var gate = new object();
        long clean = 0;
        var synced = false;
        using var uffd = Userfaultfd.Create();
        using var handler = PageHandler.Create(guest.Regions, disk.Directory);
        var region = guest.Regions[0];
        uffd.Register(region.HostAddress, region.Size);
        using (new FaultServer(uffd, (u, e) => Serve(handler, u, e), gate))
        {
            // Cycle 1: stage, write every page, then the guest reads every page back (from the
            // file's page cache) before the swap-out's final sync, which fails.
            lock (gate)
            {
                Stage(handler, region);
                while (handler.SwapOutChunk(Chunk) > 0)
                {
                }
            }

            Assert.Empty(Mismatches(guest));
            lock (gate)
            {
                var flush = handler.PlanSwapOutFlush();
                Assert.ThrowsAny<NativeCallException>(flush.Execute);
                handler.RestoreNotDurable(flush.Durable);

                // Cycle 2: the guest's pages (unchanged) are staged again, trimmed, swapped out.
                Stage(handler, region);
                var trim = handler.StartTrim();
                while (trim.TrimChunk(handler, 1024) is not null)
                {
                }

                while (handler.SwapOutChunk(Chunk) > 0)
                {
                }

                clean = trim.CleanPages;

                // A host retries a failed swap-out; each retry's flush syncs, and once a sync
                // succeeds, drops the page cache.
                for (var attempt = 0; attempt < 10; attempt++)
                {
                    var retry = handler.PlanSwapOutFlush();
                    try
                    {
                        retry.Execute();
                        synced = true;
                        break;
                    }
                    catch (NativeCallException)
                    {
                        // As the runtime does: what the failed sync would have freed is staged again.
                        handler.RestoreNotDurable(retry.Durable);
                    }
                }

                using var swapIn = handler.StartSwapIn();
                while (swapIn.SwapIn(uffd, Chunk) > 0)
                {
                }
            }

            uffd.Unregister(region.HostAddress, region.Size);
        }

        var lost = Mismatches(guest);
        Assert.True(lost.Count == 0, $"{lost.Count} of {Pages} pages came back with other bytes (first: page {(lost.Count > 0 ? lost[0] : -1)}); trim took {clean} pages for clean; a later sync {(synced ? "succeeded" : "never succeeded")}");
    }

    private static void Stage(PageHandler handler, GuestRegion region)
    {
        foreach (var batch in handler.MoveToStaging(region.HostAddress).Batches)
        {
            batch.Execute();
        }
    }

    private static void Serve(PageHandler handler, Userfaultfd uffd, UffdEvent e)
    {
        switch (e.Kind)
        {
            case UffdEventKind.PageFault:
                handler.HandlePageFault(uffd, e.Address);
                break;
            case UffdEventKind.Remove:
                handler.HandlePageRemove(e.Address, e.End);
                break;
            default:
                throw new InvalidOperationException($"unexpected event {e}");
        }
    }

    private static List<long> Mismatches(GuestMemory guest)
    {
        var lost = new List<long>();
        var read = new byte[PageSize.Bytes];
        var done = Blocking.RunOnThread(
            () =>
            {
                for (long p = 0; p < Pages; p++)
                {
                    guest.Read(guest.PageAddress(p), read);
                    if (!read.AsSpan().SequenceEqual(Content(p)))
                    {
                        lost.Add(p);
                    }
                }
            },
            Deadline);
        return done ? lost : throw new TimeoutException("a guest read was not served");
    }

    private static byte[] Content(long page)
    {
        var bytes = new byte[PageSize.Bytes];
        new Random((int)page + 7).NextBytes(bytes);
        return bytes;
    }
}

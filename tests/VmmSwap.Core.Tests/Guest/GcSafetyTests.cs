using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Guest;

/// <summary>
/// docs/ARCHITECTURE.md, "GC safety": guests faulting through GuestMemory while GCs run must never hang the process.
/// The same loop with a managed pointer read instead of <see cref="GuestMemory.Read"/> hangs in a
/// Release build (checked by hand when this test was written), so this test can fail.
/// </summary>
public sealed unsafe class GcSafetyTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void Guest_threads_fault_through_guest_memory_while_gcs_run_and_the_handler_allocates()
    {
        const int Pages = 512;
        const int Threads = 4;
        const int Rounds = 6;
        using var guest = GuestMemory.Create((ulong)(Pages / 2 * Page), (ulong)(Pages / 2 * Page));
        using var uffd = Userfaultfd.Create();
        foreach (var region in guest.Regions)
        {
            uffd.Register(region.HostAddress, region.Size);
        }

        using var server = new FaultServer(uffd, (u, e) =>
        {
            // Allocate on every fault so the handler itself keeps the GC busy.
            var content = new byte[Page];
            var pageAddress = PageSize.PageBase(e.Address);
            BitConverter.TryWriteBytes(content, pageAddress);
            fixed (byte* p = content)
            {
                u.Copy((nint)pageAddress, (nint)p, (ulong)Page, wake: true);
            }
        });

        using var stop = new CancellationTokenSource();
        var collections = 0;
        var gcThread = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true);
                Interlocked.Increment(ref collections);

                // Back-to-back blocking GCs starve every other thread; a breath keeps the storm fair.
                Thread.Sleep(1);
            }
        })
        { IsBackground = true };
        gcThread.Start();

        var mismatches = 0;
        var finished = Blocking.RunOnThread(
            () =>
            {
                for (var round = 0; round < Rounds; round++)
                {
                    var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
                    {
                        Span<byte> word = stackalloc byte[8];
                        for (long i = t; i < Pages; i += Threads)
                        {
                            var address = guest.PageAddress(i);
                            guest.Read(address, word);
                            if (BitConverter.ToUInt64(word) != (ulong)address)
                            {
                                Interlocked.Increment(ref mismatches);
                            }
                        }
                    })).ToList();
                    workers.ForEach(w => w.Start());
                    workers.ForEach(w => w.Join());

                    // Empty every page again so the next round faults on all of them.
                    foreach (var region in guest.Regions)
                    {
                        FileOps.PunchHole(region.MemFd, region.MemFdOffset, (long)region.Size);
                    }
                }
            },
            TimeSpan.FromSeconds(60));
        stop.Cancel();
        gcThread.Join();

        Assert.True(finished, "guest threads hung while GCs ran: managed code waited in a page fault (docs/ARCHITECTURE.md, GC safety)");
        Assert.Equal(0, mismatches);
        Assert.Equal(Pages * Rounds, server.Handled);
        Assert.True(collections > Rounds, $"only {collections} GCs ran during the test");
    }
}

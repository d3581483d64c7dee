using System.Diagnostics;
using VmmSwap.Core.Guest;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Processes;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// The second process's side (<c>vmm-swap soak-child</c>): takes copies of the parent's guest
/// memfds with pidfd_getfd, maps them at the parent's addresses (MAP_FIXED_NOREPLACE, refused if
/// anything is there), creates and handshakes its own userfaultfd and prints its number. On "go"
/// it reads the read-only pages through its own mapping until stdin ends, checking each.
/// </summary>
/// <remarks>
/// It is not paused during Enable as the guest threads are: it only reads, and a read racing the
/// move to staging sees the page either still there or faults it back, which the runtime must
/// serve either way. It must not touch guest memory before "go": until the runtime has accepted
/// its userfaultfd, a touch of a page moved to staging would allocate a fresh zero page in the memfd.
/// </remarks>
public static class SoakChild
{
    // How often it reports its reads: the parent's sign that it is alive and not stuck in a fault.
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(100);

    // Between passes over its pages: a reader that spins would take a core from the runtime.
    private static readonly TimeSpan PassPause = TimeSpan.FromMilliseconds(5);

    /// <summary>Runs the child; returns its exit code (0, or 1 with one line on stderr).</summary>
    public static int Run(int parent, IReadOnlyList<SharedRegion> regions, int seed, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(stdin);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var memFds = new List<SafeFd>();
        var mappings = new List<MemoryMapping>();
        try
        {
            var guestRegions = new List<GuestRegion>();
            using (var pidfd = Pidfd.Open(parent))
            {
                foreach (var region in regions)
                {
                    var memFd = pidfd.GetFd(region.Fd);
                    memFds.Add(memFd);
                    mappings.Add(MemoryMapping.MapSharedAt(region.Address, memFd, 0, region.Size, writable: true));
                    guestRegions.Add(GuestRegion.Adopt(region.Address, region.Size, memFd, 0));
                }
            }

            using var guest = new GuestMemory(guestRegions);
            using var uffd = Userfaultfd.Create();
            var pages = SoakLayout.ReadOnlyPages(guest.PageCount);
            var expected = pages.Select(p => PageContent.Checksum(seed, p, 0)).ToArray();
            var output = TextWriter.Synchronized(stdout);
            output.WriteLine($"uffd {uffd.Fd.Value}");
            if (stdin.ReadLine() != "go")
            {
                return 0;
            }

            using var stop = new CancellationTokenSource();
            long reads = 0;
            var reader = new Thread(() => reads = ReadUntilStopped(guest, pages, expected, output, stop.Token)) { Name = "soak-child reader" };
            reader.Start();
            while (stdin.ReadLine() is not null)
            {
                // Anything before the end of stdin is ignored: its end is the signal to exit.
            }

            stop.Cancel();
            reader.Join();
            output.WriteLine($"done {reads}");
            return 0;
        }
        catch (Exception e) when (e is NativeCallException or UserfaultfdUnavailableException)
        {
            stderr.WriteLine($"vmm-swap soak-child: {e.Message}");
            return 1;
        }
        finally
        {
            mappings.ForEach(m => m.Dispose());
            memFds.ForEach(f => f.Dispose());
        }
    }

    private static long ReadUntilStopped(GuestMemory guest, long[] pages, ulong[] expected, TextWriter output, CancellationToken stop)
    {
        // The parent watches this thread's wait channel to kill the process while it is in a fault.
        output.WriteLine($"reader {SoakThreads.CurrentTid()}");
        long reads = 0;
        var reported = Stopwatch.StartNew();
        var passes = 0;
        while (!stop.IsCancellationRequested)
        {
            for (var i = 0; i < pages.Length && !stop.IsCancellationRequested; i++)
            {
                var actual = guest.PageChecksum(guest.PageAddress(pages[i]));
                reads++;
                if (actual != expected[i])
                {
                    output.WriteLine($"mismatch {pages[i]} {actual:x}");
                }
            }

            if (++passes == 1 || reported.Elapsed >= ProgressEvery)
            {
                output.WriteLine($"reads {reads}");
                reported.Restart();
            }

            Thread.Sleep(PassPause);
        }

        return reads;
    }
}

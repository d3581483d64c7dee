using VmmSwap.Actors.Hosting;
using VmmSwap.Actors.Workers;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Testing;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>
/// A guest swapped out whole to a swap file of its own, with the page cache of that file dropped,
/// on a runtime whose fault reads are held (<see cref="FaultReadGate"/>): a guest read of a
/// written page parks on a read that does not run until <see cref="Reads"/> opens.
/// </summary>
internal sealed class ParkedGuest : IDisposable
{
    /// <summary>The wait channel of a thread blocked in a userfaultfd fault.</summary>
    internal const string FaultWaitChannel = "handle_userfault";

    private static readonly TimeSpan Deadline = SwapTestKit.Deadline;
    private readonly string _directory;

    private readonly bool _ioUring;

    private ParkedGuest(GuestFixture guest, SwapController swap, FaultReadGate reads, string directory, bool ioUring)
    {
        Guest = guest;
        Swap = swap;
        Reads = reads;
        _directory = directory;
        _ioUring = ioUring;
    }

    internal GuestFixture Guest { get; }

    internal SwapController Swap { get; }

    internal FaultReadGate Reads { get; }

    /// <summary>
    /// Starts the runtime as <paramref name="name"/> for a filled guest of <paramref name="pages"/>
    /// and swaps it out; <paramref name="attach"/> may attach device processes before the Enable.
    /// Fault reads start on the fault thread's io_uring when <paramref name="ioUring"/>, else on the fault readers.
    /// </summary>
    internal static async Task<ParkedGuest> StartAsync(SwapTestKit kit, string name, int seed, bool ioUring, long pages = 64, Func<ParkedGuest, Task>? attach = null)
    {
        var guest = new GuestFixture(pages);
        guest.Fill(seed);
        var directory = Directory.CreateTempSubdirectory("vmmswap-parked-").FullName;
        var (swap, reads) = kit.StartHoldingReads(guest.Memory, SwapTestKit.Options() with { SwapDirectory = directory, FaultReadsIoUring = ioUring }, name);
        var parked = new ParkedGuest(guest, swap, reads, directory, ioUring);
        if (attach is not null)
        {
            await attach(parked);
        }

        await swap.EnableAsync().WaitAsync(Deadline);
        await swap.SwapOutAsync().WaitAsync(Deadline);
        Assert.True((await swap.WaitForStateAsync(SwapState.Active, Deadline)).Metrics.SwapPages > 0, "nothing was swapped out");

        // The swap-out's flush drops the file's cache already; this makes sure no file fault is
        // served from it, so each one needs the disk and parks.
        using var handle = SwapFileOnDisk.Open(directory);
        using var fd = new SafeFd((int)handle.DangerousGetHandle());
        handle.SetHandleAsInvalid();
        FileOps.DropCachedRange(fd, 0, 0);
        return parked;
    }

    /// <summary>A page that a guest read finds in the swap file: one written with non-zero bytes.</summary>
    internal long FilePage(long atLeast)
    {
        for (var p = atLeast; p < Guest.Memory.PageCount; p++)
        {
            if (Guest.Expected[p] is { } bytes && bytes.Any(b => b != 0))
            {
                return p;
            }
        }

        throw new InvalidOperationException($"no written page from {atLeast}");
    }

    /// <summary>
    /// Reads <paramref name="page"/> on a guest thread of its own and returns once that read is
    /// known to be parked: its read reached the held gate (a read is planned only for a parked
    /// fault, and none other is under way), the thread waits in the kernel's userfaultfd fault
    /// handler, and no file fault has been counted served.
    /// </summary>
    internal async Task<GuestRead> ParkAsync(long page)
    {
        var arrived = Reads.Arrived;
        var read = GuestRead.Start(Guest.Memory, Guest.Memory.PageAddress(page));
        Assert.True(Reads.WaitForArrived(arrived + 1, Deadline), $"no fault read was asked for page {page}: its fault was not parked");
        Assert.Equal(_ioUring ? Reads.Arrived : 0, Reads.ArrivedOnRing);
        await WaitForChannelAsync(() => read.WaitChannel, $"the guest thread reading page {page}");
        Assert.False(read.Result.IsCompleted, "the parked guest read returned before its read ran");
        Assert.Equal(0, (await Swap.StatusAsync().WaitAsync(Deadline)).Metrics.CopiedFromFilePages);
        return read;
    }

    /// <summary>Waits until a thread's wait channel is the userfaultfd fault handler.</summary>
    internal static async Task WaitForChannelAsync(Func<string> channel, string who)
    {
        var until = DateTime.UtcNow + Deadline;
        while (channel() != FaultWaitChannel)
        {
            Assert.True(DateTime.UtcNow < until, $"{who} is not blocked in a userfaultfd fault (wchan '{channel()}')");
            await Task.Delay(1);
        }
    }

    /// <summary>Where thread <paramref name="tid"/> of process <paramref name="pid"/> waits in the kernel; empty when it cannot be read.</summary>
    internal static string WaitChannel(int pid, int tid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/task/{tid}/wchan").Trim();
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    public void Dispose()
    {
        Reads.Dispose();
        Guest.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>A read of one guest page on a thread of its own, which blocks while its fault waits.</summary>
    internal sealed class GuestRead
    {
        private readonly TaskCompletionSource<byte[]> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile int _tid;

        private GuestRead()
        {
        }

        internal Task<byte[]> Result => _result.Task;

        internal string WaitChannel => _tid == 0 ? string.Empty : ParkedGuest.WaitChannel(Environment.ProcessId, _tid);

        internal static GuestRead Start(Core.Guest.GuestMemory memory, nint address)
        {
            var read = new GuestRead();
            new Thread(() =>
            {
                read._tid = ThreadStat.CurrentTid();
                var buffer = new byte[PageSize.Bytes];
                try
                {
                    memory.Read(address, buffer);
                    read._result.SetResult(buffer);
                }
                catch (Exception e)
                {
                    read._result.SetException(e);
                }
            })
            { IsBackground = true, Name = "parked guest read" }.Start();
            return read;
        }
    }
}

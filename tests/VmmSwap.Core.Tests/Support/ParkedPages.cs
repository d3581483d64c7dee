using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Tests.Support;

/// <summary>A swapped-out guest whose file faults park on reads the test runs, and guest reads on threads of their own.</summary>
internal static class ParkedPages
{
    /// <summary>Pages per fault read, as the runtime's default.</summary>
    internal const int ReadPages = 8;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    // Pages [0, written) hold distinct bytes, all of them written to the swap file, whose page
    // cache the swap-out's final flush dropped: each file fault needs the disk.
    internal static SwapHarness SwappedOut(int pages, int written)
    {
        var swap = SwapHarness.Parking(ReadPages, false, pages);
        for (var p = 0; p < written; p++)
        {
            swap.Write(p, Page(p));
        }

        swap.Enable();
        Assert.Equal(written, swap.SwapOutAll());
        return swap;
    }

    // A thread of its own: a guest read blocks its thread until served, and pool threads are scarce
    // while other tests run.
    internal static Task<byte[]> ReadOnThread(SwapHarness swap, long page)
    {
        var read = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                read.SetResult(swap.Read(page));
            }
            catch (Exception e)
            {
                read.SetException(e);
            }
        })
        { IsBackground = true }.Start();
        return read.Task;
    }

    /// <summary>A page of bytes of its own for each <paramref name="seed"/>.</summary>
    internal static byte[] Page(long seed)
    {
        var page = new byte[PageSize.Bytes];
        new Random((int)seed + 17).NextBytes(page);
        return page;
    }

    /// <summary>Waits up to 30 s for <paramref name="condition"/>, else throws naming <paramref name="what"/>.</summary>
    internal static void WaitFor(Func<bool> condition, string what)
    {
        if (!SpinWait.SpinUntil(condition, Deadline))
        {
            throw new TimeoutException($"{what} did not happen within {Deadline.TotalSeconds} s");
        }
    }
}

using System.Diagnostics;
using VmmSwap.Native.Events;
using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Rings;

namespace VmmSwap.Native.Tests.Rings;

/// <summary>Reads through a real io_uring: the bytes, the tags, errors, and a completion waking an epoll wait.</summary>
public sealed class IoUringTests
{
    private static readonly int Page = SystemPageSizes.PageSize;

    [Fact]
    public void A_read_completes_with_the_files_bytes_and_its_tag()
    {
        using var file = FileOf(16);
        using var buffer = MemoryMapping.MapAnonymous((ulong)(4 * Page));
        using var ring = IoUring.Create(8);

        ring.SubmitRead(file, buffer.Address, (uint)(4 * Page), 3L * Page, userData: 42);
        var done = ReapOne(ring);

        Assert.Equal(new IoUringCompletion(42, 4 * Page), done);
        Assert.Equal(Expected(3, 4), Bytes(buffer, 4));
    }

    [Fact]
    public void A_read_of_pages_not_in_the_page_cache_wakes_an_epoll_wait_on_the_submitting_thread()
    {
        // As the fault pump does: submit, then sleep in epoll on the completion eventfd. The
        // kernel finishes such a read as task work of this thread, which must wake it.
        using var file = FileOf(64);
        FileOps.DataSync(file);
        FileOps.DropCachedRange(file, 0, 64L * Page);
        using var buffer = MemoryMapping.MapAnonymous((ulong)(32 * Page));
        using var ring = IoUring.Create(8);
        using var epoll = new Epoll();
        epoll.Add(ring.CompletionFd, 7);

        ring.SubmitRead(file, buffer.Address, (uint)(32 * Page), 16L * Page, userData: 1);
        Span<ulong> ready = stackalloc ulong[4];
        var clock = Stopwatch.StartNew();
        var n = 0;
        while (n == 0 && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            n = epoll.Wait(ready, 10_000);
        }

        Assert.Equal(1, n);
        Assert.Equal(7UL, ready[0]);
        Assert.Equal(new IoUringCompletion(1, 32 * Page), ReapOne(ring));
        Assert.Equal(Expected(16, 32), Bytes(buffer, 32));
    }

    [Fact]
    public void A_read_of_a_closed_descriptor_completes_with_EBADF()
    {
        using var buffer = MemoryMapping.MapAnonymous((ulong)Page);
        using var ring = IoUring.Create(8);
        var file = FileOf(1);
        var stale = new SafeFd(file.Value);
        file.Dispose();

        ring.SubmitRead(stale, buffer.Address, (uint)Page, 0, userData: 5);

        Assert.Equal(new IoUringCompletion(5, -Libc.EBADF), ReapOne(ring));
        stale.SetHandleAsInvalid();
    }

    [Fact]
    public void Reads_complete_each_with_its_own_tag_and_a_wait_with_none_left_times_out()
    {
        using var file = FileOf(8);
        using var buffer = MemoryMapping.MapAnonymous((ulong)(8 * Page));
        using var ring = IoUring.Create(4);

        for (var i = 0; i < 8; i++)
        {
            ring.SubmitRead(file, buffer.Address + (i * Page), (uint)Page, (long)i * Page, userData: (ulong)(100 + i));
        }

        var tags = new List<ulong>();
        Span<IoUringCompletion> done = stackalloc IoUringCompletion[16];
        var clock = Stopwatch.StartNew();
        while (tags.Count < 8 && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            ring.WaitForCompletion(TimeSpan.FromSeconds(1));
            foreach (var c in done[..ring.Reap(done)])
            {
                Assert.Equal(Page, c.Result);
                tags.Add(c.UserData);
            }
        }

        Assert.Equal(Enumerable.Range(100, 8).Select(i => (ulong)i), tags.Order());
        Assert.Equal(Expected(0, 8), Bytes(buffer, 8));
        Assert.False(ring.WaitForCompletion(TimeSpan.FromMilliseconds(20)));
    }

    private static IoUringCompletion ReapOne(IoUring ring)
    {
        Span<IoUringCompletion> done = stackalloc IoUringCompletion[2];
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            ring.WaitForCompletion(TimeSpan.FromSeconds(1));
            var n = ring.Reap(done);
            if (n > 0)
            {
                Assert.Equal(1, n);
                return done[0];
            }
        }

        throw new TimeoutException("no completion within 10 s");
    }

    // A file of `pages` pages whose every byte is its page number plus its offset in the page.
    private static SafeFd FileOf(int pages)
    {
        var fd = TmpFile.Create(Path.GetTempPath());
        FileOps.WriteAll(fd, Expected(0, pages), 0);
        return fd;
    }

    private static byte[] Expected(int firstPage, int pages)
    {
        var bytes = new byte[pages * Page];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(firstPage + (i / Page) + (i % Page % 251));
        }

        return bytes;
    }

    private static unsafe byte[] Bytes(MemoryMapping buffer, int pages) => new ReadOnlySpan<byte>((void*)buffer.Address, pages * Page).ToArray();
}

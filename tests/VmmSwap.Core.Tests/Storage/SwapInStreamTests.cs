using System.Runtime.InteropServices;
using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Files;
using VmmSwap.Native.Memory;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Storage;

/// <summary>The swap-in's reads: the file's bytes, in pieces that wait while a fault's read runs.</summary>
public sealed class SwapInStreamTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void A_stream_reads_the_bytes_of_a_window_that_spans_several_pieces()
    {
        var pages = (int)SwapInStream.PiecePages * 3 + 5;
        using var fd = TmpFile.Create(Path.GetTempPath());
        var data = Pattern(pages);
        FileOps.WriteAll(fd, data, 0);
        using var faultReads = new FaultReadsFirst();
        using var stream = new SwapInStream(fd, faultReads, SwapInStream.GiveWayLimit);

        Assert.Equal(data[(3 * Page)..], Read(stream, new PageRange(3, pages)));
    }

    [Fact]
    public void With_no_fault_read_lately_a_whole_window_is_one_read_and_after_one_it_is_small_pieces_again()
    {
        var pages = (int)SwapInStream.QuietPiecePages;
        using var fd = TmpFile.Create(Path.GetTempPath());
        var data = Pattern(pages);
        FileOps.WriteAll(fd, data, 0);
        using var faultReads = new FaultReadsFirst();

        // Recent for five minutes: the small pieces below must not depend on this machine's speed.
        using var stream = new SwapInStream(fd, faultReads, SwapInStream.GiveWayLimit, recentFaultRead: TimeSpan.FromMinutes(5));

        Assert.Equal(TimeSpan.MaxValue, faultReads.SinceLastStarted);
        Assert.Equal(data, Read(stream, new PageRange(0, pages)));
        Assert.Equal(1, stream.Pieces);

        // A fault read started and ended: the next window gives way to its successors.
        faultReads.Enter();
        faultReads.Exit();
        Assert.True(faultReads.SinceLastStarted < TimeSpan.FromMinutes(1), $"the fault read started {faultReads.SinceLastStarted} ago");
        Assert.Equal(data, Read(stream, new PageRange(0, pages)));
        Assert.Equal(1 + (pages / SwapInStream.PiecePages), stream.Pieces);
    }

    [Fact]
    public async Task While_faults_read_the_disk_two_reads_never_read_a_piece_at_once()
    {
        var pages = (int)SwapInStream.PiecePages * 64;
        using var fd = TmpFile.Create(Path.GetTempPath());
        var data = Pattern(pages);
        FileOps.WriteAll(fd, data, 0);
        using var faultReads = new FaultReadsFirst();
        using var stream = new SwapInStream(fd, faultReads, SwapInStream.GiveWayLimit, recentFaultRead: TimeSpan.FromMinutes(5));

        // A fault read started and ended: for the stream, faults read the disk for five minutes.
        faultReads.Enter();
        faultReads.Exit();

        var half = pages / 2;
        using var start = new Barrier(2);
        var reads = await Task.WhenAll(
            Task.Run(() => ReadAfter(start, stream, new PageRange(0, half))),
            Task.Run(() => ReadAfter(start, stream, new PageRange(half, pages))));

        Assert.Equal(data, reads[0].Concat(reads[1]).ToArray());
        Assert.Equal(pages / SwapInStream.PiecePages, stream.Pieces);
        Assert.Equal(1, stream.MostReadingAtOnce);
    }

    [Fact]
    public void On_a_file_system_without_O_DIRECT_the_stream_reads_through_the_page_cache()
    {
        using var mount = TestMount.Create("ramfs");
        using var fd = TmpFile.Create(mount.Directory);
        var data = Pattern(100);
        FileOps.WriteAll(fd, data, 0);
        using var faultReads = new FaultReadsFirst();
        using var stream = new SwapInStream(fd, faultReads, SwapInStream.GiveWayLimit);

        Assert.False(stream.Direct);
        Assert.Equal(data, Read(stream, new PageRange(0, 100)));
    }

    [Fact]
    public void A_direct_read_the_device_refuses_is_read_through_the_page_cache_from_then_on()
    {
        // ext4 on a loop device with room to spare: a block device checks a direct read's
        // alignment (tmpfs takes O_DIRECT but reads through its cache whatever the alignment).
        using var disk = new FullDisk("64M", "64m");
        using var fd = TmpFile.Create(disk.Directory);
        var data = Pattern(8);
        FileOps.WriteAll(fd, data, 0);
        using var faultReads = new FaultReadsFirst();
        using var stream = new SwapInStream(fd, faultReads, SwapInStream.GiveWayLimit);
        Assert.True(stream.Direct, "ext4 refused O_DIRECT");

        // A buffer a byte off any block boundary: a direct read of it is refused with EINVAL, as
        // one whose alignment the device does not take.
        using var buffer = MemoryMapping.MapAnonymous(PageSize.PagesToBytes(9));
        stream.Read(new PageRange(0, 8), buffer.Address + 1);

        Assert.False(stream.Direct);
        var copy = new byte[data.Length];
        Marshal.Copy(buffer.Address + 1, copy, 0, copy.Length);
        Assert.Equal(data, copy);
    }

    [Fact]
    public async Task A_stream_does_not_start_a_piece_while_a_fault_read_runs()
    {
        using var fd = TmpFile.Create(Path.GetTempPath());
        var data = Pattern(8);
        FileOps.WriteAll(fd, data, 0);
        using var faultReads = new FaultReadsFirst();
        using var stream = new SwapInStream(fd, faultReads, TimeSpan.FromMinutes(5));

        faultReads.Enter();
        faultReads.Enter();
        var read = Task.Run(() => Read(stream, new PageRange(0, 8)));
        Assert.False(await Ended(read, TimeSpan.FromMilliseconds(300)), "the stream read while two fault reads ran");
        faultReads.Exit();
        Assert.False(await Ended(read, TimeSpan.FromMilliseconds(300)), "the stream read while a fault read ran");
        faultReads.Exit();

        Assert.True(await Ended(read, TimeSpan.FromSeconds(30)), "the stream did not read once no fault read ran");
        Assert.Equal(data, await read);
    }

    [Fact]
    public async Task A_stream_waits_for_a_fault_read_no_longer_than_its_limit()
    {
        using var fd = TmpFile.Create(Path.GetTempPath());
        FileOps.WriteAll(fd, Pattern(8), 0);
        using var faultReads = new FaultReadsFirst();
        using var stream = new SwapInStream(fd, faultReads, TimeSpan.FromMilliseconds(50));

        faultReads.Enter();
        var read = Task.Run(() => Read(stream, new PageRange(0, 8)));

        Assert.True(await Ended(read, TimeSpan.FromSeconds(30)), "a fault read that never ended stopped the stream");
        faultReads.Exit();
    }

    private static async Task<bool> Ended(Task task, TimeSpan within) =>
        await Task.WhenAny(task, Task.Delay(within)).ConfigureAwait(false) == task;

    private static byte[] Pattern(int pages)
    {
        var data = new byte[pages * Page];
        new Random(pages).NextBytes(data);
        return data;
    }

    private static byte[] ReadAfter(Barrier start, SwapInStream stream, PageRange range)
    {
        start.SignalAndWait();
        return Read(stream, range);
    }

    private static byte[] Read(SwapInStream stream, PageRange range)
    {
        using var buffer = MemoryMapping.MapAnonymous(PageSize.PagesToBytes(range.Count));
        stream.Read(range, buffer.Address);
        var copy = new byte[PageSize.PagesToBytes(range.Count)];
        Marshal.Copy(buffer.Address, copy, 0, copy.Length);
        return copy;
    }
}

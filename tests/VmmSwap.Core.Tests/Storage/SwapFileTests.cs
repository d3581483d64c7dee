using System.Runtime.InteropServices;
using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;
using VmmSwap.Native.Files;
using VmmSwap.Native.Memory;

namespace VmmSwap.Core.Tests.Storage;

/// <summary>
/// The swap file on a real O_TMPFILE: writes, reads through its mapping, hole punching, presence and
/// on-disk marks, sync and its failures. One class past the usual length: every case shares the same
/// file fixture and checks one more call of the same small surface.
/// </summary>
public sealed class SwapFileTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void A_new_swap_file_is_an_unlinked_file_with_no_page_present()
    {
        using var file = NewFile(200);
        Assert.Equal(200, file.Length);
        Assert.Equal(0, file.PresentPages);
        Assert.False(file.IsPresent(0));
        Assert.Null(file.FirstDataRange(10));

        var status = FileOps.Status(file.Fd);
        Assert.Equal(0, status.LinkCount);
        Assert.Equal(0, status.AllocatedBytes);
    }

    [Fact]
    public void A_read_around_reads_its_block_into_the_cache_and_does_nothing_once_the_file_is_disposed()
    {
        var file = NewFile(1024);
        file.ReadAround(null, new PageRange(512, 1024));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!file.IsCached(1023))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the read-around did not bring its last page into the page cache within 10 s");
            Thread.Sleep(1);
        }

        // A reader's read-around runs after its read's faults are answered, so the page state,
        // and with it the file, may be gone by then: its descriptor and mapping are not used.
        file.Dispose();
        file.ReadAround(new PageRange(512, 1024), new PageRange(0, 512));
    }

    [Fact]
    public void A_swap_file_of_no_pages_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SwapFile(Path.GetTempPath(), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SwapFile(Path.GetTempPath(), -3));
    }

    [Fact]
    public void The_file_is_sized_to_its_length_in_pages()
    {
        using var file = NewFile(37);
        Assert.Equal(37, file.Length);
        Assert.Equal((long)PageSize.PagesToBytes(37), FileOps.Status(file.Fd).Size);
        Assert.Equal(file.AddressOf(0) + (nint)PageSize.PagesToBytes(36), file.AddressOf(36));
        Assert.Equal(37 * Page, file.GetSlice(new PageRange(0, 37)).Length);
    }

    [Fact]
    public void PageContent_of_a_page_never_written_is_empty()
    {
        using var file = NewFile(10);
        Assert.True(file.PageContent(0, allowCleared: false).IsEmpty);
        Assert.True(file.PageContent(0, allowCleared: true).IsEmpty);
        Assert.True(file.PageContent(9, allowCleared: true).IsEmpty);
    }

    [Fact]
    public void PageContent_returns_the_written_page()
    {
        using var file = NewFile(10);
        var page = Pattern(1, 5);
        file.WriteToFile(4, page);

        Assert.Equal(page, file.PageContent(4, allowCleared: false).ToArray());
        Assert.Equal(page, file.PageContent(4, allowCleared: true).ToArray());
        Assert.True(file.PageContent(3, allowCleared: false).IsEmpty);
        Assert.True(file.PageContent(5, allowCleared: true).IsEmpty);
    }

    [Fact]
    public void PageContent_outside_the_file_throws()
    {
        using var file = NewFile(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => file.PageContent(10, allowCleared: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.PageContent(-1, allowCleared: true));
    }

    [Fact]
    public void WriteToFile_writes_whole_pages_to_disk_and_marks_them_present()
    {
        using var file = NewFile(10);
        var pages = Pattern(3, 1);
        file.WriteToFile(2, pages);

        Assert.Equal(3, file.PresentPages);
        Assert.False(file.IsPresent(1));
        Assert.True(file.IsPresent(2));
        Assert.True(file.IsPresent(4));
        Assert.False(file.IsPresent(5));
        Assert.Equal(pages, file.GetSlice(new PageRange(2, 5)).ToArray());
        Assert.Equal(pages.AsSpan(2 * Page, Page).ToArray(), file.PageContent(4, allowCleared: false).ToArray());

        var onDisk = new byte[pages.Length];
        FileOps.ReadExactly(file.Fd, onDisk, (long)PageSize.PagesToBytes(2));
        Assert.Equal(pages, onDisk);
        Assert.True(FileOps.Status(file.Fd).AllocatedBytes >= pages.Length);
    }

    [Fact]
    public void WriteToFile_refuses_anything_but_whole_pages()
    {
        using var file = NewFile(10);
        var empty = Assert.Throws<ArgumentException>(() => file.WriteToFile(0, []));
        Assert.Contains("whole pages", empty.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => file.WriteToFile(0, new byte[Page - 1]));
        var partial = Assert.Throws<ArgumentException>(() => file.WriteToFile(0, new byte[Page + 1]));
        Assert.Contains($"{Page + 1} bytes", partial.Message, StringComparison.Ordinal);

        Assert.Equal(0, file.PresentPages);
        Assert.Equal(0, FileOps.Status(file.Fd).AllocatedBytes);
    }

    [Fact]
    public void WriteToFile_outside_the_file_throws_and_writes_nothing()
    {
        using var file = NewFile(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => file.WriteToFile(9, Pattern(2, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.WriteToFile(10, Pattern(1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.WriteToFile(-1, Pattern(1, 1)));

        Assert.Equal(0, file.PresentPages);
        Assert.False(file.IsPresent(9));
        var status = FileOps.Status(file.Fd);
        Assert.Equal((long)PageSize.PagesToBytes(10), status.Size);
        Assert.Equal(0, status.AllocatedBytes);
    }

    [Fact]
    public void Writing_a_page_again_overwrites_it()
    {
        using var file = NewFile(10);
        var first = Pattern(2, 1);
        var second = Pattern(1, 99);
        file.WriteToFile(3, first);
        file.WriteToFile(4, second);

        Assert.Equal(2, file.PresentPages);
        Assert.Equal(first.AsSpan(0, Page).ToArray(), file.PageContent(3, allowCleared: false).ToArray());
        Assert.Equal(second, file.PageContent(4, allowCleared: false).ToArray());
        Assert.NotEqual(first.AsSpan(Page, Page).ToArray(), file.PageContent(4, allowCleared: false).ToArray());
    }

    [Fact]
    public void ClearRange_takes_pages_out_of_the_present_set_but_keeps_them_on_disk()
    {
        using var file = NewFile(10);
        var pages = Pattern(4, 2);
        file.WriteToFile(1, pages);
        var allocated = FileOps.Status(file.Fd).AllocatedBytes;

        file.ClearRange(new PageRange(2, 4));

        Assert.Equal(2, file.PresentPages);
        Assert.True(file.IsPresent(1));
        Assert.False(file.IsPresent(2));
        Assert.False(file.IsPresent(3));
        Assert.True(file.IsPresent(4));
        Assert.True(file.PageContent(2, allowCleared: false).IsEmpty);
        Assert.True(file.PageContent(3, allowCleared: false).IsEmpty);
        Assert.Equal(pages.AsSpan(Page, Page).ToArray(), file.PageContent(2, allowCleared: true).ToArray());
        Assert.Equal(pages.AsSpan(2 * Page, Page).ToArray(), file.PageContent(3, allowCleared: true).ToArray());
        Assert.Equal(allocated, FileOps.Status(file.Fd).AllocatedBytes);
        Assert.Equal(new PageRange(1, 2), file.FirstDataRange(10));
    }

    [Fact]
    public void ClearRange_outside_the_file_throws_and_clears_nothing()
    {
        using var file = NewFile(10);
        file.WriteToFile(8, Pattern(2, 1));

        Assert.Throws<ArgumentOutOfRangeException>(() => file.ClearRange(new PageRange(8, 11)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.ClearRange(new PageRange(-1, 9)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.ClearRange(new PageRange(9, 8)));

        Assert.Equal(2, file.PresentPages);
        Assert.True(file.IsPresent(8));
        Assert.True(file.IsPresent(9));
    }

    [Fact]
    public void FreeRange_forgets_the_pages_even_for_cleared_reads()
    {
        using var file = NewFile(10);
        var pages = Pattern(4, 3);
        file.WriteToFile(0, pages);

        file.FreeRange(new PageRange(1, 3));

        Assert.Equal(2, file.PresentPages);
        Assert.False(file.IsPresent(1));
        Assert.False(file.IsPresent(2));
        Assert.True(file.PageContent(1, allowCleared: true).IsEmpty);
        Assert.True(file.PageContent(2, allowCleared: false).IsEmpty);
        Assert.Equal(pages.AsSpan(0, Page).ToArray(), file.PageContent(0, allowCleared: false).ToArray());
        Assert.Equal(pages.AsSpan(3 * Page, Page).ToArray(), file.PageContent(3, allowCleared: false).ToArray());

        // The punched pages read back as zeros through the mapping.
        Assert.All(file.GetSlice(new PageRange(1, 3)).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void FreeRange_outside_the_file_throws_and_frees_nothing()
    {
        using var file = NewFile(10);
        var pages = Pattern(2, 4);
        file.WriteToFile(8, pages);

        Assert.Throws<ArgumentOutOfRangeException>(() => file.FreeRange(new PageRange(8, 11)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.FreeRange(new PageRange(-1, 9)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.FreeRange(new PageRange(9, 8)));

        Assert.Equal(2, file.PresentPages);
        Assert.Equal(pages, file.GetSlice(new PageRange(8, 10)).ToArray());
    }

    [Fact]
    public void FreeRange_gives_the_disk_blocks_back_for_present_and_cleared_pages()
    {
        using var file = NewFile(32);
        file.WriteToFile(0, Pattern(16, 6));
        var written = FileOps.Status(file.Fd).AllocatedBytes;
        Assert.True(written >= (long)PageSize.PagesToBytes(16), $"only {written} bytes allocated after writing 16 pages");

        // Clearing keeps the blocks.
        file.ClearRange(new PageRange(8, 16));
        Assert.Equal(written, FileOps.Status(file.Fd).AllocatedBytes);

        // Freeing present pages and cleared pages both punch them out.
        file.FreeRange(new PageRange(0, 4));
        var afterPresent = FileOps.Status(file.Fd).AllocatedBytes;
        Assert.True(written - afterPresent >= (long)PageSize.PagesToBytes(4), $"{written} bytes allocated before freeing 4 present pages, {afterPresent} after");

        file.FreeRange(new PageRange(8, 16));
        var afterCleared = FileOps.Status(file.Fd).AllocatedBytes;
        Assert.True(afterPresent - afterCleared >= (long)PageSize.PagesToBytes(8), $"{afterPresent} bytes allocated before freeing 8 cleared pages, {afterCleared} after");

        file.FreeRange(new PageRange(0, 32));
        Assert.Equal(0, FileOps.Status(file.Fd).AllocatedBytes);
        Assert.Equal((long)PageSize.PagesToBytes(32), FileOps.Status(file.Fd).Size);
    }

    [Fact]
    public void A_freed_page_can_be_written_again()
    {
        using var file = NewFile(10);
        file.WriteToFile(0, Pattern(2, 1));
        file.FreeRange(new PageRange(0, 2));
        Assert.Equal(0, file.PresentPages);

        var again = Pattern(1, 77);
        file.WriteToFile(1, again);

        Assert.Equal(1, file.PresentPages);
        Assert.False(file.IsPresent(0));
        Assert.True(file.IsPresent(1));
        Assert.Equal(again, file.PageContent(1, allowCleared: false).ToArray());
        Assert.True(file.PageContent(0, allowCleared: true).IsEmpty);
        Assert.Equal(new PageRange(1, 2), file.FirstDataRange(10));
    }

    [Fact]
    public void MarkAsPresent_brings_back_a_cleared_page_with_its_bytes()
    {
        using var file = NewFile(10);
        var pages = Pattern(2, 8);
        file.WriteToFile(5, pages);
        file.ClearRange(new PageRange(5, 7));
        Assert.Equal(0, file.PresentPages);

        file.MarkAsPresent(6);

        Assert.Equal(1, file.PresentPages);
        Assert.True(file.IsPresent(6));
        Assert.False(file.IsPresent(5));
        Assert.Equal(pages.AsSpan(Page, Page).ToArray(), file.PageContent(6, allowCleared: false).ToArray());
        Assert.Equal(new PageRange(6, 7), file.FirstDataRange(10));

        // Marking a page that is already present changes nothing.
        file.MarkAsPresent(6);
        Assert.Equal(1, file.PresentPages);
    }

    [Fact]
    public void MarkAsPresent_refuses_a_page_with_nothing_on_disk()
    {
        using var file = NewFile(10);
        var never = Assert.Throws<InvalidOperationException>(() => file.MarkAsPresent(3));
        Assert.Contains("page 3", never.Message, StringComparison.Ordinal);

        file.WriteToFile(4, Pattern(1, 1));
        file.FreeRange(new PageRange(4, 5));
        Assert.Throws<InvalidOperationException>(() => file.MarkAsPresent(4));

        Assert.Throws<ArgumentOutOfRangeException>(() => file.MarkAsPresent(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.MarkAsPresent(-1));
        Assert.Equal(0, file.PresentPages);
    }

    [Fact]
    public void FirstDataRange_returns_the_first_present_run_cut_to_max_pages()
    {
        using var file = NewFile(20);
        Assert.Null(file.FirstDataRange(10));
        file.WriteToFile(3, Pattern(2, 1));
        file.WriteToFile(9, Pattern(1, 2));

        Assert.Equal(new PageRange(3, 5), file.FirstDataRange(10));
        Assert.Equal(new PageRange(3, 4), file.FirstDataRange(1));

        file.ClearRange(new PageRange(3, 5));
        Assert.Equal(new PageRange(9, 10), file.FirstDataRange(10));

        file.MarkAsPresent(4);
        Assert.Equal(new PageRange(4, 5), file.FirstDataRange(10));

        file.FreeRange(new PageRange(0, 20));
        Assert.Null(file.FirstDataRange(10));
    }

    [Fact]
    public void GetSlice_returns_the_file_bytes_of_written_and_unwritten_pages()
    {
        using var file = NewFile(10);
        var page = Pattern(1, 4);
        file.WriteToFile(3, page);

        var slice = file.GetSlice(new PageRange(2, 4));
        Assert.Equal(2 * Page, slice.Length);
        Assert.All(slice[..Page].ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(page, slice[Page..].ToArray());
        Assert.True(file.GetSlice(new PageRange(5, 5)).IsEmpty);
    }

    [Fact]
    public void GetSlice_outside_the_file_throws()
    {
        using var file = NewFile(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => file.GetSlice(new PageRange(9, 11)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.GetSlice(new PageRange(-1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.GetSlice(new PageRange(5, 4)));
    }

    [Fact]
    public void PresentPages_counts_each_page_once()
    {
        using var file = NewFile(100);
        file.WriteToFile(0, Pattern(3, 1));
        file.WriteToFile(2, Pattern(3, 2));
        Assert.Equal(5, file.PresentPages);

        file.WriteToFile(90, Pattern(10, 3));
        Assert.Equal(15, file.PresentPages);

        file.ClearRange(new PageRange(1, 95));
        Assert.Equal(6, file.PresentPages);
        file.MarkAsPresent(2);
        file.MarkAsPresent(91);
        Assert.Equal(8, file.PresentPages);
        file.FreeRange(new PageRange(0, 100));
        Assert.Equal(0, file.PresentPages);
    }

    [Fact]
    public void ReadInto_reads_a_window_of_slots_present_or_not_in_one_go()
    {
        using var file = NewFile(12);
        var pages = Pattern(6, 5);
        file.WriteToFile(2, pages);
        file.ClearRange(new PageRange(3, 4));
        using var buffer = MemoryMapping.MapAnonymous((ulong)(8 * Page));
        var window = new byte[8 * Page];

        file.ReadInto(new PageRange(1, 9), buffer.Address);

        Marshal.Copy(buffer.Address, window, 0, window.Length);
        Assert.Equal(new byte[Page], window.AsSpan(0, Page).ToArray());
        Assert.Equal(pages, window.AsSpan(Page, 6 * Page).ToArray());
        Assert.Equal(new byte[Page], window.AsSpan(7 * Page, Page).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => file.ReadInto(new PageRange(8, 13), buffer.Address));
    }

    [Fact]
    public void NextDataRange_finds_present_runs_within_a_limit()
    {
        using var file = NewFile(20);
        file.WriteToFile(2, Pattern(3, 1));
        file.WriteToFile(8, Pattern(6, 2));

        Assert.Equal(new PageRange(2, 5), file.NextDataRange(0, 20));
        Assert.Equal(new PageRange(3, 5), file.NextDataRange(3, 20));
        Assert.Equal(new PageRange(8, 10), file.NextDataRange(5, 10));
        Assert.Null(file.NextDataRange(5, 8));
        Assert.Null(file.NextDataRange(14, 20));
    }

    [Fact]
    public void DropCache_gives_back_the_page_cache_of_a_range_read_from_disk()
    {
        using var file = NewFile(16);
        file.WriteToFile(0, Pattern(16, 3));
        file.ReleasePageCache();
        Assert.Equal(0, PageCache.ResidentBytes(file.Fd));
        using var buffer = MemoryMapping.MapAnonymous((ulong)(16 * Page));
        file.ReadInto(new PageRange(0, 16), buffer.Address);
        Assert.Equal(16L * Page, PageCache.ResidentBytes(file.Fd));

        file.DropCache(new PageRange(4, 12));

        Assert.Equal(8L * Page, PageCache.ResidentBytes(file.Fd));
        Assert.Equal(16, file.PresentPages);
    }

    private static SwapFile NewFile(long pages) => new(Path.GetTempPath(), pages);

    // Pages whose bytes differ by page and by position, so a write to the wrong place shows.
    private static byte[] Pattern(int pages, byte seed)
    {
        var bytes = new byte[pages * Page];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((i * 31) + (i / Page * 7) + seed);
        }

        return bytes;
    }
}

using VmmSwap.Core.Pages;
using VmmSwap.Core.Staging;
using VmmSwap.Native.Files;

namespace VmmSwap.Core.Tests.Staging;

/// <summary>
/// Staging memory on a real memfd: copies in, presence, release and the deferred frees. One class
/// past the usual length: the cases share one staging fixture.
/// </summary>
public sealed unsafe class StagingMemoryTests
{
    private static readonly int Page = PageSize.Bytes;

    [Fact]
    public void A_new_staging_memory_has_its_length_and_no_page_present()
    {
        using var staging = new StagingMemory(200);
        Assert.Equal(200, staging.Length);
        Assert.Equal(0, staging.PresentPages);
        Assert.False(staging.IsPresent(0));
        Assert.False(staging.IsPresent(199));
        Assert.Null(staging.FirstDataRange(10));
        Assert.Equal(PageSize.PagesToBytes(200), (ulong)FileOps.Status(staging.MemFd).Size);
        Assert.Equal(staging.AddressOf(0) + (nint)PageSize.PagesToBytes(7), staging.AddressOf(7));
    }

    [Fact]
    public void A_staging_memory_of_no_pages_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StagingMemory(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StagingMemory(-1));
    }

    [Fact]
    public void Copy_marks_the_pages_present_and_its_op_copies_the_source_bytes()
    {
        using var staging = new StagingMemory(10);
        var source = Pattern(2, 1);
        fixed (byte* p = source)
        {
            var op = staging.Copy((nint)p, 3, 2);
            Assert.Equal((nint)p, op.Source);
            Assert.Same(staging.MemFd, op.Staging);
            Assert.Equal((long)PageSize.PagesToBytes(3), op.Offset);
            Assert.Equal(PageSize.PagesToBytes(2), op.Length);

            Assert.True(staging.IsPresent(3));
            Assert.True(staging.IsPresent(4));
            Assert.False(staging.IsPresent(2));
            Assert.False(staging.IsPresent(5));
            Assert.Equal(2, staging.PresentPages);

            op.Execute();
        }

        Assert.Equal(source.AsSpan(0, Page).ToArray(), staging.PageContent(3).ToArray());
        Assert.Equal(source.AsSpan(Page, Page).ToArray(), staging.PageContent(4).ToArray());
    }

    [Fact]
    public void Copy_outside_staging_is_refused_and_marks_nothing()
    {
        using var staging = new StagingMemory(10);
        var source = new byte[2 * Page];
        fixed (byte* p = source)
        {
            var address = (nint)p;
            Assert.Throws<ArgumentOutOfRangeException>(() => staging.Copy(address, 9, 2));
            Assert.Throws<ArgumentOutOfRangeException>(() => staging.Copy(address, -1, 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => staging.Copy(address, 10, 1));
        }

        Assert.Equal(0, staging.PresentPages);
        Assert.False(staging.IsPresent(9));
    }

    [Fact]
    public void PageContent_of_a_page_never_copied_is_empty()
    {
        using var staging = new StagingMemory(10);
        Assert.True(staging.PageContent(0).IsEmpty);
        Assert.True(staging.PageContent(9).IsEmpty);
    }

    [Fact]
    public void PageContent_returns_the_copied_page()
    {
        using var staging = new StagingMemory(10);
        var page = Pattern(1, 7);
        CopyIn(staging, page, 6);

        var content = staging.PageContent(6);
        Assert.Equal(Page, content.Length);
        Assert.Equal(page, content.ToArray());
        Assert.True(staging.PageContent(5).IsEmpty);
        Assert.True(staging.PageContent(7).IsEmpty);
    }

    [Fact]
    public void PageContent_outside_staging_throws()
    {
        using var staging = new StagingMemory(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.PageContent(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.PageContent(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.IsPresent(10));
    }

    [Fact]
    public void Released_pages_leave_at_once_and_their_memory_is_freed_at_the_flush()
    {
        using var staging = new StagingMemory(10);
        CopyIn(staging, Pattern(6, 9), 1);
        var before = FileOps.Status(staging.MemFd).AllocatedBytes;

        staging.Release(2);
        staging.Release(3);
        staging.Release(5);
        staging.Release(9);

        Assert.Equal(3, staging.PresentPages);
        Assert.Equal(3, staging.ReleasedPages);
        Assert.Equal(before, FileOps.Status(staging.MemFd).AllocatedBytes);

        staging.FlushReleased();

        Assert.Equal(0, staging.ReleasedPages);
        var after = FileOps.Status(staging.MemFd).AllocatedBytes;
        Assert.True(before - after >= (long)PageSize.PagesToBytes(3), $"allocated {before} bytes before the flush and {after} after");
    }

    [Fact]
    public void A_copy_into_a_released_page_is_not_wiped_by_the_deferred_free()
    {
        using var staging = new StagingMemory(4);
        CopyIn(staging, Pattern(1, 1), 2);
        staging.Release(2);

        var fresh = Pattern(1, 77);
        CopyIn(staging, fresh, 2);
        staging.FlushReleased();

        Assert.Equal(fresh, staging.PageContent(2).ToArray());
    }

    [Fact]
    public void ClearRange_drops_the_pages_and_frees_their_memory()
    {
        using var staging = new StagingMemory(10);
        var pages = Pattern(4, 3);
        CopyIn(staging, pages, 2);
        var before = FileOps.Status(staging.MemFd).AllocatedBytes;
        Assert.True(before >= (long)PageSize.PagesToBytes(4));

        staging.ClearRange(new PageRange(3, 5));

        // Measured before anything reads the cleared pages: a read fault on a shmem hole allocates a page again.
        var after = FileOps.Status(staging.MemFd).AllocatedBytes;
        Assert.True(before - after >= (long)PageSize.PagesToBytes(2), $"allocated {before} bytes before the clear and {after} after");
        Assert.Equal(2, staging.PresentPages);
        Assert.False(staging.IsPresent(3));
        Assert.False(staging.IsPresent(4));
        Assert.True(staging.PageContent(3).IsEmpty);
        Assert.True(staging.PageContent(4).IsEmpty);
        Assert.Equal(pages.AsSpan(0, Page).ToArray(), staging.PageContent(2).ToArray());
        Assert.Equal(pages.AsSpan(3 * Page, Page).ToArray(), staging.PageContent(5).ToArray());

        // The bytes behind the cleared pages are gone: they read back as zeros.
        Assert.All(staging.GetSlice(new PageRange(3, 5)).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void ClearRange_of_an_empty_range_or_absent_pages_changes_nothing()
    {
        using var staging = new StagingMemory(10);
        CopyIn(staging, Pattern(1, 9), 4);

        staging.ClearRange(new PageRange(4, 4));
        staging.ClearRange(new PageRange(0, 4));
        staging.ClearRange(new PageRange(5, 10));

        Assert.Equal(1, staging.PresentPages);
        Assert.True(staging.IsPresent(4));
    }

    [Fact]
    public void ClearRange_outside_staging_throws_and_clears_nothing()
    {
        using var staging = new StagingMemory(10);
        CopyIn(staging, Pattern(2, 5), 8);

        Assert.Throws<ArgumentOutOfRangeException>(() => staging.ClearRange(new PageRange(8, 11)));
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.ClearRange(new PageRange(-1, 9)));
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.ClearRange(new PageRange(9, 8)));

        Assert.Equal(2, staging.PresentPages);
        Assert.True(staging.IsPresent(8));
        Assert.True(staging.IsPresent(9));
    }

    [Fact]
    public void FirstDataRange_returns_the_first_run_cut_to_max_pages()
    {
        using var staging = new StagingMemory(20);
        Assert.Null(staging.FirstDataRange(10));
        CopyIn(staging, Pattern(3, 1), 2);
        CopyIn(staging, Pattern(1, 2), 7);

        Assert.Equal(new PageRange(2, 5), staging.FirstDataRange(10));
        Assert.Equal(new PageRange(2, 4), staging.FirstDataRange(2));

        staging.ClearRange(new PageRange(2, 5));
        Assert.Equal(new PageRange(7, 8), staging.FirstDataRange(10));

        staging.ClearRange(new PageRange(7, 8));
        Assert.Null(staging.FirstDataRange(10));
    }

    [Fact]
    public void FirstDataRange_honours_from_and_limit()
    {
        using var staging = new StagingMemory(20);
        CopyIn(staging, Pattern(3, 1), 2);
        CopyIn(staging, Pattern(1, 2), 7);
        CopyIn(staging, Pattern(2, 3), 18);

        Assert.Equal(new PageRange(3, 5), staging.FirstDataRange(10, from: 3));
        Assert.Equal(new PageRange(7, 8), staging.FirstDataRange(10, from: 5));
        Assert.Equal(new PageRange(18, 20), staging.FirstDataRange(10, from: 8));
        Assert.Equal(new PageRange(19, 20), staging.FirstDataRange(10, from: 19));
        Assert.Null(staging.FirstDataRange(10, from: 20));

        Assert.Equal(new PageRange(2, 4), staging.FirstDataRange(10, from: 0, limit: 4));
        Assert.Null(staging.FirstDataRange(10, from: 0, limit: 2));
        Assert.Null(staging.FirstDataRange(10, from: 5, limit: 7));
        Assert.Equal(new PageRange(7, 8), staging.FirstDataRange(10, from: 5, limit: 8));
        Assert.Equal(new PageRange(18, 19), staging.FirstDataRange(10, from: 8, limit: 19));
        Assert.Equal(new PageRange(3, 4), staging.FirstDataRange(1, from: 3, limit: 20));
    }

    [Fact]
    public void FirstDataRange_with_max_pages_of_long_MaxValue_returns_the_whole_run()
    {
        using var staging = new StagingMemory(20);
        CopyIn(staging, Pattern(3, 1), 5);

        // maxPages is only an upper bound: the largest one must not change the answer.
        Assert.Equal(new PageRange(5, 8), staging.FirstDataRange(long.MaxValue, from: 1));
    }

    [Fact]
    public void GetSlice_returns_the_bytes_of_present_and_absent_pages()
    {
        using var staging = new StagingMemory(10);
        var page = Pattern(1, 4);
        CopyIn(staging, page, 3);

        var slice = staging.GetSlice(new PageRange(2, 4));
        Assert.Equal(2 * Page, slice.Length);
        Assert.All(slice[..Page].ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(page, slice[Page..].ToArray());
        Assert.True(staging.GetSlice(new PageRange(5, 5)).IsEmpty);
        Assert.Equal(10 * Page, staging.GetSlice(new PageRange(0, 10)).Length);
    }

    [Fact]
    public void GetSlice_outside_staging_throws()
    {
        using var staging = new StagingMemory(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.GetSlice(new PageRange(9, 11)));
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.GetSlice(new PageRange(-1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => staging.GetSlice(new PageRange(5, 4)));
    }

    [Fact]
    public void PresentPages_counts_each_page_once()
    {
        using var staging = new StagingMemory(100);
        CopyIn(staging, Pattern(3, 1), 0);
        CopyIn(staging, Pattern(3, 2), 2);
        Assert.Equal(5, staging.PresentPages);

        CopyIn(staging, Pattern(2, 3), 70);
        Assert.Equal(7, staging.PresentPages);
        Assert.Equal(3, staging.PresentPagesIn(new PageRange(3, 71)));
        Assert.Equal(7, staging.PresentPagesIn(new PageRange(0, 100)));

        staging.ClearRange(new PageRange(1, 71));
        Assert.Equal(2, staging.PresentPages);
        Assert.Equal(new PageRange(0, 1), staging.FirstDataRange(100));
    }

    // Pages whose bytes differ by page and by position, so a copy to the wrong place shows.
    private static byte[] Pattern(int pages, byte seed)
    {
        var bytes = new byte[pages * Page];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((i * 31) + (i / Page * 7) + seed);
        }

        return bytes;
    }

    private static void CopyIn(StagingMemory staging, byte[] pages, long index)
    {
        fixed (byte* p = pages)
        {
            staging.Copy((nint)p, index, pages.Length / Page).Execute();
        }
    }
}

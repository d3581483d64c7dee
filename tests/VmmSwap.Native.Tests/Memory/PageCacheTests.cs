using VmmSwap.Native.Files;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Tests.Memory;

/// <summary>Counting a file's page-cache pages, as every Status does for the swap file.</summary>
public sealed class PageCacheTests
{
    private static readonly int Page = SystemPageSizes.PageSize;

    [Fact]
    public void Counting_a_large_files_cached_pages_allocates_no_vector_of_a_byte_per_page()
    {
        // 2 GiB, sparse: a byte per page is 512 KiB, which a pooled vector would keep on the
        // managed heap for as long as the process lives, per size of swap file ever measured.
        using var fd = TmpFile.Create(Path.GetTempPath());
        FileOps.Truncate(fd, 2L << 30);
        FileOps.WriteAll(fd, new byte[3 * Page], 5L * Page);
        FileOps.WriteAll(fd, new byte[Page], (2L << 30) - Page);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var resident = PageCache.ResidentBytes(fd);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(4L * Page, resident);
        Assert.True(allocated < 16 * 1024, $"counting allocated {allocated} bytes");
    }
}

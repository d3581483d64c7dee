using VmmSwap.Native.Files;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Tests.Files;

public sealed class FileOpsTests
{
    private static readonly int Page = SystemPageSizes.PageSize;

    [Fact]
    public void Data_ranges_of_a_sparse_memfd_are_exactly_the_written_ranges()
    {
        using var fd = MemFd.Create("sparse", 64 * Page);
        WritePages(fd, 3, 2);
        WritePages(fd, 10, 1);
        WritePages(fd, 20, 10);
        WritePages(fd, 63, 1);

        var ranges = FileOps.DataRanges(fd, 0, 64 * Page).ToList();

        Assert.Equal(
            [(3L * Page, 5L * Page), (10L * Page, 11L * Page), (20L * Page, 30L * Page), (63L * Page, 64L * Page)],
            ranges);
    }

    [Fact]
    public void Data_ranges_are_clipped_to_the_window()
    {
        using var fd = MemFd.Create("sparse", 64 * Page);
        WritePages(fd, 20, 10);

        Assert.Equal([(22L * Page, 25L * Page)], FileOps.DataRanges(fd, 22 * Page, 25 * Page));
        Assert.Empty(FileOps.DataRanges(fd, 30 * Page, 64 * Page));
        Assert.Empty(FileOps.DataRanges(fd, 0, 20 * Page));
    }

    [Fact]
    public void Data_ranges_of_an_empty_memfd_are_empty()
    {
        using var fd = MemFd.Create("empty", 16 * Page);
        Assert.Empty(FileOps.DataRanges(fd, 0, 16 * Page));
    }

    [Fact]
    public void Tmpfile_has_no_directory_entry_and_only_its_owner_may_read_and_write_it()
    {
        using var fd = TmpFile.Create(Path.GetTempPath());
        var status = FileOps.Status(fd);
        Assert.Equal(0, status.LinkCount);

        // 0600: the owner reopens it through /proc/self/fd for the swap-in's direct reads.
        Assert.Equal(0x180, status.Permissions);
    }

    [Fact]
    public void A_memfds_device_and_inode_are_the_ones_its_mapping_shows_in_proc_maps()
    {
        using var fd = MemFd.Create("identity", 4 * Page);
        using var other = MemFd.Create("other", 4 * Page);
        using var mapping = MemoryMapping.MapShared(fd, 0, (ulong)(4 * Page), writable: false);
        var status = FileOps.Status(fd);

        // /proc/self/maps: "start-end perms offset major:minor inode path", major and minor in hex.
        var line = File.ReadLines("/proc/self/maps").Single(l => l.StartsWith($"{mapping.Address:x}-", StringComparison.Ordinal));
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var device = fields[3].Split(':').Select(h => Convert.ToUInt64(h, 16)).ToArray();
        Assert.Equal($"{device[0]}:{device[1]}", status.DeviceNumber);
        Assert.Equal(ulong.Parse(fields[4], System.Globalization.CultureInfo.InvariantCulture), status.Inode);
        Assert.NotEqual(status.Inode, FileOps.Status(other).Inode);
    }

    [Fact]
    public void Punching_a_hole_frees_the_blocks_and_reads_back_zero()
    {
        using var fd = TmpFile.Create(Path.GetTempPath());
        var data = new byte[256 * Page];
        Random.Shared.NextBytes(data);
        FileOps.WriteAll(fd, data, 0);
        var before = FileOps.Status(fd);
        Assert.True(before.AllocatedBytes >= data.Length, $"allocated {before.AllocatedBytes} < written {data.Length}");

        FileOps.PunchHole(fd, 64 * Page, 128 * Page);

        var after = FileOps.Status(fd);
        Assert.Equal(before.Size, after.Size);
        Assert.True(
            before.AllocatedBytes - after.AllocatedBytes >= 128L * Page,
            $"st_blocks dropped only {before.AllocatedBytes - after.AllocatedBytes} bytes after punching {128 * Page}");
        var back = new byte[Page];
        FileOps.ReadExactly(fd, back, 100 * Page);
        Assert.All(back, b => Assert.Equal(0, b));
        FileOps.ReadExactly(fd, back, 200 * Page);
        Assert.Equal(data.AsSpan(200 * Page, Page).ToArray(), back);
    }

    [Fact]
    public void Send_copies_a_memfd_range_into_a_file_at_an_offset_with_holes_as_zeros()
    {
        using var source = MemFd.Create("staging", 64 * Page);
        var data = new byte[64 * Page];
        Random.Shared.NextBytes(data);
        FileOps.WriteAll(source, data, 0);
        FileOps.PunchHole(source, 10 * Page, 2 * Page);
        using var file = TmpFile.Create(Path.GetTempPath());
        using var writer = FileOps.ReopenForWriting(file);

        FileOps.SendAll(writer, 100L * Page, source, 8L * Page, (ulong)(16 * Page));
        FileOps.SendAll(writer, 3L * Page, source, 40L * Page, (ulong)Page);

        var back = new byte[16 * Page];
        FileOps.ReadExactly(file, back, 100 * Page);
        var expected = data.AsSpan(8 * Page, 16 * Page).ToArray();
        Array.Clear(expected, 2 * Page, 2 * Page);
        Assert.Equal(expected, back);
        var one = new byte[Page];
        FileOps.ReadExactly(file, one, 3 * Page);
        Assert.Equal(data.AsSpan(40 * Page, Page).ToArray(), one);
        Assert.Equal(116L * Page, FileOps.Status(file).Size);
    }

    [Fact]
    public void Send_past_the_end_of_the_source_and_into_a_read_only_descriptor_name_the_cause()
    {
        using var source = MemFd.Create("short", 4 * Page);
        using var file = TmpFile.Create(Path.GetTempPath());
        using var writer = FileOps.ReopenForWriting(file);
        using var reader = FileOps.Reopen(file);

        var ended = Assert.Throws<EndOfStreamException>(() => FileOps.SendAll(writer, 0, source, 2L * Page, (ulong)(4 * Page)));
        Assert.Contains("sendfile", ended.Message, StringComparison.Ordinal);
        var refused = Assert.Throws<NativeCallException>(() => FileOps.SendAll(reader, 0, source, 0, (ulong)Page));
        Assert.Equal("sendfile", refused.Call);
        Assert.Equal("EBADF", refused.ErrnoName);
    }

    [Fact]
    public void Tmpfile_in_a_missing_directory_names_the_directory()
    {
        var error = Assert.Throws<NativeCallException>(() => TmpFile.Create("/nonexistent/swap-dir"));
        Assert.Equal("ENOENT", error.ErrnoName);
        Assert.Contains("/nonexistent/swap-dir", error.Message, StringComparison.Ordinal);
        Assert.Contains("O_TMPFILE", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_past_the_end_is_an_error()
    {
        using var fd = MemFd.Create("short", Page);
        Assert.Throws<EndOfStreamException>(() => FileOps.ReadExactly(fd, new byte[Page], Page / 2));
    }

    [Fact]
    public void Calls_on_a_closed_descriptor_are_refused()
    {
        var fd = MemFd.Create("closed", Page);
        fd.Dispose();
        Assert.Throws<ObjectDisposedException>(() => FileOps.Truncate(fd, 0));
    }

    private static void WritePages(SafeFd fd, int firstPage, int pages)
    {
        var data = new byte[pages * Page];
        Array.Fill(data, (byte)0xAB);
        FileOps.WriteAll(fd, data, (long)firstPage * Page);
    }
}

public sealed class PageCacheTests
{
    [Fact]
    public void Resident_bytes_count_the_written_pages_of_a_sparse_file()
    {
        var page = SystemPageSizes.PageSize;
        using var fd = MemFd.Create("cache", 32 * page);
        Assert.Equal(0, PageCache.ResidentBytes(fd));
        FileOps.WriteAll(fd, new byte[3 * page], 4 * page);
        Assert.Equal(3 * page, PageCache.ResidentBytes(fd));
    }
}

public sealed class DropPageCacheTests
{
    [Fact]
    public void Dropping_the_page_cache_of_a_written_file_frees_its_cached_pages()
    {
        var page = SystemPageSizes.PageSize;
        using var fd = TmpFile.Create(Path.GetTempPath());
        var data = new byte[512 * page];
        Random.Shared.NextBytes(data);
        FileOps.WriteAll(fd, data, 0);
        var cached = PageCache.ResidentBytes(fd);

        FileOps.DropPageCache(fd);

        var after = PageCache.ResidentBytes(fd);
        Assert.True(after < cached, $"page cache held {cached} bytes before and {after} after");
        var back = new byte[page];
        FileOps.ReadExactly(fd, back, 100 * page);
        Assert.Equal(data.AsSpan(100 * page, page).ToArray(), back);
    }

    [Fact]
    public void Writeback_started_on_a_range_leaves_the_data_readable_and_bad_ranges_are_refused()
    {
        var page = SystemPageSizes.PageSize;
        using var fd = TmpFile.Create(Path.GetTempPath());
        var data = new byte[64 * page];
        Random.Shared.NextBytes(data);
        FileOps.WriteAll(fd, data, 0);

        FileOps.StartWriteback(fd, 0, 64 * page);
        FileOps.DropPageCache(fd);

        var back = new byte[64 * page];
        FileOps.ReadExactly(fd, back, 0);
        Assert.Equal(data, back);
        var error = Assert.Throws<NativeCallException>(() => FileOps.StartWriteback(fd, 0, -1));
        Assert.Contains("sync_file_range", error.Message, StringComparison.Ordinal);
        Assert.Contains("EINVAL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dropping_the_cache_of_a_range_keeps_the_rest_cached()
    {
        var page = SystemPageSizes.PageSize;
        using var fd = TmpFile.Create(Path.GetTempPath());
        FileOps.WriteAll(fd, new byte[32 * page], 0);
        FileOps.DropPageCache(fd);
        FileOps.ReadExactly(fd, new byte[32 * page], 0);
        Assert.Equal(32 * page, PageCache.ResidentBytes(fd));

        FileOps.DropCachedRange(fd, 8 * page, 16 * page);

        Assert.Equal(16 * page, PageCache.ResidentBytes(fd));
        var error = Assert.Throws<NativeCallException>(() => FileOps.DropCachedRange(fd, 0, -1));
        Assert.Contains("posix_fadvise", error.Message, StringComparison.Ordinal);
    }
}

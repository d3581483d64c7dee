namespace VmmSwap.Native.Memory;

/// <summary>The base page size and the transparent huge page size of this machine.</summary>
public static class SystemPageSizes
{
    private const string HugePageSizePath = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";
    private const long DefaultHugePageSize = 2 * 1024 * 1024;

    private static readonly Lazy<long> HugePage = new(ReadHugePageSize);

    /// <summary>The base page size in bytes.</summary>
    public static int PageSize { get; } = Environment.SystemPageSize;

    /// <summary>
    /// The PMD-level transparent huge page size, read from sysfs once; 2 MiB where the file is
    /// absent (kernels without THP).
    /// </summary>
    public static long HugePageSize => HugePage.Value;

    private static long ReadHugePageSize()
    {
        try
        {
            var text = File.ReadAllText(HugePageSizePath).Trim();
            return long.TryParse(text, out var size) && size > 0 ? size : DefaultHugePageSize;
        }
        catch (IOException)
        {
            return DefaultHugePageSize;
        }
        catch (UnauthorizedAccessException)
        {
            return DefaultHugePageSize;
        }
    }
}

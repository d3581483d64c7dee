using System.Globalization;

namespace VmmSwap.Cli.Bench;

/// <summary>Fields of /proc/self/status, in bytes.</summary>
internal static class ProcStatus
{
    /// <summary>VmRSS: all resident memory, including touched pages of shared memfd mappings (guest, staging).</summary>
    internal static long VmRss() => Field("VmRSS:");

    /// <summary>RssAnon: resident anonymous memory (managed and native heaps), without the memfd mappings.</summary>
    internal static long RssAnon() => Field("RssAnon:");

    private static long Field(string name)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                var kib = line[name.Length..].Trim().Split(' ')[0];
                return long.Parse(kib, NumberStyles.None, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}

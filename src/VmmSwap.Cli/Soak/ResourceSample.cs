using System.Text.RegularExpressions;

namespace VmmSwap.Cli.Soak;

/// <summary>What the process holds at the end of a cycle: the figures a leak would make grow.</summary>
/// <param name="Cycle">The cycle it was taken after.</param>
/// <param name="OpenFds">Entries in /proc/self/fd.</param>
/// <param name="VmRssBytes">VmRSS from /proc/self/status.</param>
/// <param name="ManagedHeapBytes">GC.GetTotalMemory after a full, finalizing collection.</param>
/// <param name="FdKinds">Open descriptors by what they are (pipe, anon_inode:[userfaultfd], a file's path), to name what leaked.</param>
public sealed partial record ResourceSample(int Cycle, int OpenFds, long VmRssBytes, long ManagedHeapBytes, IReadOnlyDictionary<string, int> FdKinds)
{
    /// <summary>Takes a sample now, after collecting garbage (so that only what is still held counts).</summary>
    public static ResourceSample Take(int cycle)
    {
        // Finalizers close descriptors whose owners were dropped: those are not leaks.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var heap = GC.GetTotalMemory(forceFullCollection: true);

        var kinds = new Dictionary<string, int>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                var kind = Kind(new FileInfo(fd).LinkTarget ?? "?");
                kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            }
            catch (IOException)
            {
                // Closed meanwhile, like the listing's own descriptor: not held.
            }
        }

        return new ResourceSample(cycle, kinds.Values.Sum(), Bench.ProcStatus.VmRss(), heap, kinds);
    }

    // "pipe:[4242]" and "socket:[17]" are kinds, not things; a deleted memfd keeps its name.
    private static string Kind(string target) => Inode().Replace(target, string.Empty).Replace(" (deleted)", string.Empty, StringComparison.Ordinal);

    [GeneratedRegex(@":\[\d+\]$")]
    private static partial Regex Inode();
}

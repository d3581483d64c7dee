using System.Diagnostics;
using System.Globalization;

namespace VmmSwap.Cli.Bench;

/// <summary>CPU time the fault pump thread(s) used over a stretch of wall-clock time.</summary>
/// <param name="Cpu">CPU time of the fault pump threads over the stretch.</param>
/// <param name="Wall">Wall-clock length of the stretch.</param>
internal readonly record struct CpuSpan(TimeSpan Cpu, TimeSpan Wall)
{
    /// <summary>Milliseconds of CPU per second of wall-clock time; 0 for an empty stretch.</summary>
    internal double MsPerSecond => Wall > TimeSpan.Zero ? Cpu.TotalMilliseconds / Wall.TotalSeconds : 0;

    /// <summary>Two stretches together, as one.</summary>
    public static CpuSpan operator +(CpuSpan a, CpuSpan b) => new(a.Cpu + b.Cpu, a.Wall + b.Wall);
}

/// <summary>
/// CPU time of this process's fault pump threads (the runtime's fault thread, which polls its
/// userfaultfds before it sleeps), read from /proc/self/task: schedstat's nanoseconds on CPU where
/// the kernel keeps them, else stat's utime + stime, whose 10 ms ticks make short stretches coarse.
/// </summary>
internal static class FaultThreadCpu
{
    // The thread is named "vmm-swap fault pump (dispatcher)"; the kernel keeps 15 bytes of a name.
    private const string Comm = "vmm-swap fault ";

    // USER_HZ: the unit of stat's times, 100 on every architecture .NET runs on.
    private const double StatTickNs = 1e9 / 100;

    /// <summary>Whether the kernel keeps schedstat (ns on CPU); without it the figures come in 10 ms steps.</summary>
    internal static readonly bool HasSchedstat = File.Exists("/proc/thread-self/schedstat");

    /// <summary>Where the CPU time comes from, for the report's notes.</summary>
    internal static string Source => HasSchedstat
        ? "/proc/self/task/<tid>/schedstat (ns on CPU)"
        : "/proc/self/task/<tid>/stat utime + stime (10 ms ticks)";

    /// <summary>Runs <paramref name="work"/> and returns its result with the fault threads' CPU over it.</summary>
    internal static async Task<(T Result, CpuSpan Cpu)> MeasureAsync<T>(Func<Task<T>> work)
    {
        var before = Sample();
        var clock = Stopwatch.StartNew();
        var result = await work().ConfigureAwait(false);
        var wall = clock.Elapsed;
        return (result, new CpuSpan(Since(before), wall));
    }

    /// <summary>Runs <paramref name="work"/> and returns the fault threads' CPU over it.</summary>
    internal static async Task<CpuSpan> MeasureAsync(Func<Task> work) =>
        (await MeasureAsync(async () =>
        {
            await work().ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false)).Cpu;

    // A thread started since the sample counts from 0: all its CPU is in the stretch. One that
    // ended within it loses what it used; the runtime keeps its fault thread while a guest is attached.
    private static TimeSpan Since(Dictionary<int, long> before) =>
        TimeSpan.FromTicks(Sample().Sum(t => Math.Max(0, t.Value - before.GetValueOrDefault(t.Key))) / 100);

    // Nanoseconds on CPU of each fault pump thread now, by thread id. The runtime has one while a
    // guest is attached: finding none means the name changed, and every figure would read a false 0.
    private static Dictionary<int, long> Sample()
    {
        var threads = new Dictionary<int, long>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith(Comm, StringComparison.Ordinal))
                {
                    threads[int.Parse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture)] = CpuNs(task);
                }
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read: it is not running faults now.
            }
        }

        return threads.Count > 0 ? threads : throw new BenchException($"no fault pump thread (named '{Comm}...') in /proc/self/task");
    }

    private static long CpuNs(string task)
    {
        if (HasSchedstat)
        {
            var schedstat = File.ReadAllText(Path.Combine(task, "schedstat"));
            return long.Parse(schedstat.AsSpan(0, schedstat.IndexOf(' ', StringComparison.Ordinal)), NumberStyles.None, CultureInfo.InvariantCulture);
        }

        // The name in parentheses may hold spaces; fields count from the state after it (utime is 14th, stime 15th).
        var stat = File.ReadAllText(Path.Combine(task, "stat"));
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture) + long.Parse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture);
        return (long)(ticks * StatTickNs);
    }
}

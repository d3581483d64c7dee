namespace VmmSwap.Testing;

/// <summary>Scheduling facts of this process's threads, from /proc/self/task.</summary>
public static class ThreadStat
{
    /// <summary>The kernel thread id of the calling thread.</summary>
    public static int CurrentTid() =>
        int.Parse(Path.GetFileName(Directory.ResolveLinkTarget("/proc/thread-self", false)!.FullName), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The nice values of every thread of this process (threads that exit meanwhile are skipped).</summary>
    public static IEnumerable<int> NiceOfAll()
    {
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            int? nice;
            try
            {
                nice = NiceOf(int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                nice = null;
            }

            if (nice is { } value)
            {
                yield return value;
            }
        }
    }

    /// <summary>The nice value of thread <paramref name="tid"/> of this process.</summary>
    public static int NiceOf(int tid)
    {
        // Field 19 of the stat line; the command name (field 2) may hold spaces, so count after its ')'.
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture);
    }
}

using VmmSwap.Native.Interop;

namespace VmmSwap.Native.Processes;

/// <summary>The scheduling weight of the calling thread (setpriority on its thread id).</summary>
public static class ThreadNice
{
    /// <summary>
    /// Sets the calling thread's nice value to <paramref name="nice"/> (-20..19; raising it needs
    /// no privilege), so background work yields the CPU to threads at the default weight.
    /// </summary>
    public static void SetForCurrentThread(int nice)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nice, -20);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nice, 19);
        var tid = Libc.GetTid();
        if (Libc.SetPriority(Libc.PRIO_PROCESS, (uint)tid, nice) < 0)
        {
            throw NativeCallException.FromLastError("setpriority", $"thread {tid} nice {nice}");
        }
    }
}

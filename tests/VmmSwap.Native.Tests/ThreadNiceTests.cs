namespace VmmSwap.Native.Tests;

public sealed class ThreadNiceTests
{
    [Fact]
    public void Setting_the_nice_value_changes_only_the_calling_thread()
    {
        var before = NiceOf(CurrentTid());
        int? niced = null;
        var thread = new Thread(() =>
        {
            ThreadNice.SetForCurrentThread(13);
            niced = NiceOf(CurrentTid());
        });
        thread.Start();
        thread.Join();

        Assert.Equal(13, niced);
        Assert.Equal(before, NiceOf(CurrentTid()));
    }

    [Theory]
    [InlineData(20)]
    [InlineData(-21)]
    public void A_nice_value_out_of_range_is_refused(int nice)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ThreadNice.SetForCurrentThread(nice));
    }

    internal static int CurrentTid() => int.Parse(Path.GetFileName(Directory.ResolveLinkTarget("/proc/thread-self", false)!.FullName), System.Globalization.CultureInfo.InvariantCulture);

    // Field 19 of /proc/<pid>/task/<tid>/stat; the command name (field 2) may hold spaces, so count after its ')'.
    internal static int NiceOf(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture);
    }
}

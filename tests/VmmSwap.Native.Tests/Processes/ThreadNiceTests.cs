using VmmSwap.Native.Processes;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Processes;

public sealed class ThreadNiceTests
{
    [Fact]
    public void Setting_the_nice_value_changes_only_the_calling_thread()
    {
        var before = ThreadStat.NiceOf(ThreadStat.CurrentTid());
        int? niced = null;
        var thread = new Thread(() =>
        {
            ThreadNice.SetForCurrentThread(13);
            niced = ThreadStat.NiceOf(ThreadStat.CurrentTid());
        });
        thread.Start();
        thread.Join();

        Assert.Equal(13, niced);
        Assert.Equal(before, ThreadStat.NiceOf(ThreadStat.CurrentTid()));
    }

    [Theory]
    [InlineData(20)]
    [InlineData(-21)]
    public void A_nice_value_out_of_range_is_refused(int nice)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ThreadNice.SetForCurrentThread(nice));
    }
}

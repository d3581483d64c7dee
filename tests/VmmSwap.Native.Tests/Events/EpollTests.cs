using VmmSwap.Native.Events;
using VmmSwap.Native.Memory;

namespace VmmSwap.Native.Tests.Events;

public sealed class EpollTests
{
    [Fact]
    public void An_eventfd_signal_wakes_epoll_with_its_token()
    {
        using var epoll = new Epoll();
        using var wake = new EventFd();
        epoll.Add(wake.Fd, 42);
        Span<ulong> tokens = stackalloc ulong[4];

        Assert.Equal(0, epoll.Wait(tokens, 0));
        wake.Signal();
        wake.Signal();
        Assert.Equal(1, epoll.Wait(tokens, 1000));
        Assert.Equal(42UL, tokens[0]);
        Assert.Equal(2UL, wake.Reset());
        Assert.Equal(0UL, wake.Reset());
        Assert.Equal(0, epoll.Wait(tokens, 0));

        epoll.Remove(wake.Fd);
        wake.Signal();
        Assert.Equal(0, epoll.Wait(tokens, 0));
    }
}

public sealed class SystemPageSizesTests
{
    [Fact]
    public void Page_sizes_are_powers_of_two_and_match_the_kernel()
    {
        Assert.True(System.Numerics.BitOperations.IsPow2(SystemPageSizes.PageSize));
        Assert.True(System.Numerics.BitOperations.IsPow2(SystemPageSizes.HugePageSize));
        const string Sysfs = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";
        var expected = File.Exists(Sysfs) ? long.Parse(File.ReadAllText(Sysfs).Trim(), System.Globalization.CultureInfo.InvariantCulture) : 2 * 1024 * 1024;
        Assert.Equal(expected, SystemPageSizes.HugePageSize);
    }
}

using VmmSwap.Core.Pages;
using VmmSwap.Core.Work;

namespace VmmSwap.Core.Tests.Work;

/// <summary>
/// A swap-in's copy steps shrink while the guest faults: the step size rule, and the fault time
/// it reads from the handler (real userfaultfd, real swap file).
/// </summary>
public sealed class SwapInStepsTests
{
    private const ulong Step = 256 * 1024;

    [Fact]
    public void A_swap_in_with_no_fault_lately_copies_whole_steps()
    {
        Assert.Equal(Step, SwapInSteps.Bytes(Step, faultWaiting: false, SwapInSteps.RecentFault + TimeSpan.FromMilliseconds(1)));
        Assert.Equal(Step, SwapInSteps.Bytes(Step, faultWaiting: false, TimeSpan.MaxValue));
    }

    [Fact]
    public void A_fault_waiting_on_a_read_or_a_recent_fault_makes_steps_an_eighth()
    {
        Assert.Equal(Step / 8, SwapInSteps.Bytes(Step, faultWaiting: true, TimeSpan.MaxValue));
        Assert.Equal(Step / 8, SwapInSteps.Bytes(Step, faultWaiting: false, TimeSpan.FromMilliseconds(1)));
    }

    [Fact]
    public void A_small_step_is_a_page_at_least()
    {
        var page = (ulong)PageSize.Bytes;
        Assert.Equal(page, SwapInSteps.Bytes(2 * page, faultWaiting: true, TimeSpan.Zero));
        Assert.Equal(page, SwapInSteps.Bytes(page, faultWaiting: false, TimeSpan.Zero));
    }

    [Fact]
    public void The_handler_knows_how_long_ago_it_served_its_last_fault()
    {
        using var swap = new SwapHarness(64);
        var page = new byte[PageSize.Bytes];
        page[0] = 7;
        swap.Write(3, page);
        swap.Enable();
        Assert.Equal(TimeSpan.MaxValue, swap.Locked(h => h.SinceLastFault));

        Assert.Equal(page, swap.Read(3));
        var since = swap.Locked(h => h.SinceLastFault);
        Assert.True(since < TimeSpan.FromSeconds(5), $"the last fault was served {since} ago by the handler's clock; it was the read just made");
        Thread.Sleep(50);
        Assert.True(swap.Locked(h => h.SinceLastFault) >= since + TimeSpan.FromMilliseconds(40), "the time since the last fault did not grow while no fault came");
    }
}

using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Processes;

public sealed unsafe class DeadProcessTests
{
    [Fact]
    public void A_userfaultfd_whose_process_died_reports_the_target_gone()
    {
        var page = SystemPageSizes.PageSize;
        using var foreign = ForeignUserfaultfd.Create();
        foreign.KillOwner();

        var register = Assert.Throws<UffdTargetGoneException>(() => foreign.Uffd.Register(0x10000000, (ulong)page));
        Assert.Contains("exited", register.Message, StringComparison.Ordinal);

        var source = new byte[page];
        fixed (byte* p = source)
        {
            var from = (nint)p;
            var copy = Assert.Throws<UffdTargetGoneException>(() => foreign.Uffd.Copy(0x10000000, from, (ulong)page, wake: true));
            Assert.Equal("ESRCH", copy.ErrnoName);
        }
    }
}

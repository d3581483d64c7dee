using System.Runtime.InteropServices;
using VmmSwap.Native.Interop;
using VmmSwap.Testing;

namespace VmmSwap.Native.Tests.Processes;

/// <summary>The <c>struct sigaction</c> the vCPU kick installs its handler with, against signal.h as cc sees it.</summary>
public sealed unsafe class SigactionAbiTests
{
    private const string Probe = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <signal.h>
        #include <sys/mman.h>
        #define V(name, value) printf("%s 0x%llx\n", name, (unsigned long long)(value))
        int main(void)
        {
            V("sizeof", sizeof(struct sigaction));
            V("sa_handler", offsetof(struct sigaction, sa_handler));
            V("sa_mask", offsetof(struct sigaction, sa_mask));
            V("sa_flags", offsetof(struct sigaction, sa_flags));
            V("sa_restorer", offsetof(struct sigaction, sa_restorer));
            V("sizeof.sigset_t", sizeof(sigset_t));
            V("SA_RESTART", SA_RESTART);
            V("PROT_EXEC", PROT_EXEC);
            V("SIGRTMAX", SIGRTMAX);
            return 0;
        }
        """;

    [Fact]
    public void Sigaction_layout_and_constants_match_glibc()
    {
        var values = CProgram.RunForValues(Probe);

        Assert.Equal(values["sizeof"], (ulong)sizeof(Libc.SigactionStruct));
        Assert.Equal(values["sa_handler"], (ulong)Marshal.OffsetOf<Libc.SigactionStruct>(nameof(Libc.SigactionStruct.Handler)));
        Assert.Equal(values["sa_mask"], (ulong)Marshal.OffsetOf<Libc.SigactionStruct>(nameof(Libc.SigactionStruct.Mask)));
        Assert.Equal(values["sa_flags"], (ulong)Marshal.OffsetOf<Libc.SigactionStruct>(nameof(Libc.SigactionStruct.Flags)));
        Assert.Equal(values["sa_restorer"], (ulong)Marshal.OffsetOf<Libc.SigactionStruct>(nameof(Libc.SigactionStruct.Restorer)));
        Assert.Equal(values["sizeof.sigset_t"], (ulong)sizeof(Libc.SignalMask));
        Assert.Equal((ulong)Libc.SA_RESTART, values["SA_RESTART"]);
        Assert.Equal((ulong)Libc.PROT_EXEC, values["PROT_EXEC"]);
        Assert.Equal(values["SIGRTMAX"], (ulong)Libc.CurrentSigRtMax());
    }
}

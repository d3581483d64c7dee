using Iced.Intel;
using VmmSwap.Guest.Layout;
using static Iced.Intel.AssemblerRegisters;

namespace VmmSwap.Guest.Program;

/// <summary>
/// The program every vCPU runs, written with Iced's assembler so that it reads as source. It
/// sweeps the vCPU's pages again and again; on each visit it:
/// <list type="number">
/// <item>times the first touch of a page with rdtsc around one load (the load is what faults:
/// KVM resolves the address through the host mapping and userfaultfd stops the vCPU thread
/// until the runtime serves it) and logs the delta;</item>
/// <item>checksums the whole page and compares it with the checksum it recorded when it last
/// wrote the page (or the host recorded before the run), reporting a mismatch by MMIO;</item>
/// <item>one visit in four writes one 64-bit word at a random offset and records the page's new
/// checksum.</item>
/// </list>
/// After each sweep it reports progress (its TSC) by MMIO; after the sweeps asked for, done.
/// Before each visit it looks for the host's stop request and, if there is one, reports stopped
/// instead, so a run ends with every page's recorded checksum matching its bytes.
/// Entry: <c>rdi</c> = the vCPU's block (<see cref="VcpuBlock"/>), <c>rsp</c> = the top of it.
/// </summary>
public static class GuestProgram
{
    private const int WordsPerPage = 512;

    /// <summary>The program assembled for <see cref="ControlSlot.Code"/>.</summary>
    public static byte[] Assemble()
    {
        var a = new Assembler(64);
        var sweep = a.CreateLabel();
        var next = a.CreateLabel();
        var touched = a.CreateLabel();
        var checkedPage = a.CreateLabel();
        var noWrite = a.CreateLabel();
        var sweepDone = a.CreateLabel();
        var checksum = a.CreateLabel();
        var checksumLoop = a.CreateLabel();
        var stopped = a.CreateLabel();

        // Registers kept for the whole run.
        a.mov(rsi, __qword_ptr[rdi + VcpuBlock.PageTable]);
        a.mov(rbx, __qword_ptr[rdi + VcpuBlock.ChecksumTable]);
        a.mov(rbp, __qword_ptr[rdi + VcpuBlock.Log]);
        a.mov(r12, __qword_ptr[rdi + VcpuBlock.Random]);
        a.mov(r15, GuestPhysicalMap.Mmio);
        a.mov(r11, PageChecksum.Prime);
        a.xor(r13, r13); // sweeps done

        a.Label(ref sweep);
        a.mov(r14, __qword_ptr[rdi + VcpuBlock.Limit]);
        a.xor(r8, r8); // page index

        a.Label(ref next);
        a.cmp(__qword_ptr[rdi + VcpuBlock.StopRequested], 0);
        a.jne(stopped);
        a.cmp(r8, r14);
        a.jae(sweepDone);
        a.mov(r9, __qword_ptr[rsi + (r8 * 8)]);
        a.mov(__qword_ptr[rdi + VcpuBlock.Current], r9);
        a.cmp(__qword_ptr[rbp + (r8 * 8)], 0);
        a.jne(touched);

        // First touch: lfence keeps rdtsc from running ahead of or behind the load it times.
        a.lfence();
        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(r10, rax);
        a.mov(rcx, __qword_ptr[r9]);
        a.lfence();
        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.sub(rax, r10);
        a.or(rax, 1); // never 0, which means "not touched"
        a.mov(__qword_ptr[rbp + (r8 * 8)], rax);
        a.inc(__qword_ptr[rdi + VcpuBlock.FirstTouches]);

        a.Label(ref touched);
        a.call(checksum);
        a.cmp(rax, __qword_ptr[rbx + (r8 * 8)]);
        a.je(checkedPage);
        a.inc(__qword_ptr[rdi + VcpuBlock.Mismatches]);
        a.mov(__qword_ptr[r15 + Port(MmioPort.Mismatch)], r8);

        // xorshift64 (13, 7, 17) picks whether to write, where, and what.
        a.Label(ref checkedPage);
        a.mov(rax, r12);
        a.shl(rax, 13);
        a.xor(r12, rax);
        a.mov(rax, r12);
        a.shr(rax, 7);
        a.xor(r12, rax);
        a.mov(rax, r12);
        a.shl(rax, 17);
        a.xor(r12, rax);
        a.mov(__qword_ptr[rdi + VcpuBlock.Random], r12);
        a.test(r12b, 3);
        a.jnz(noWrite);
        a.mov(rax, r12);
        a.shr(rax, 40);
        a.and(eax, WordsPerPage - 1);
        a.mov(rdx, r12);
        a.or(rdx, 1);
        a.mov(__qword_ptr[r9 + (rax * 8)], rdx);
        a.call(checksum);
        a.mov(__qword_ptr[rbx + (r8 * 8)], rax);
        a.inc(__qword_ptr[rdi + VcpuBlock.Writes]);

        a.Label(ref noWrite);
        a.inc(__qword_ptr[rdi + VcpuBlock.Accesses]);
        a.inc(r8);
        a.jmp(next);

        a.Label(ref sweepDone);
        a.inc(r13);
        a.rdtsc();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(__qword_ptr[r15 + Port(MmioPort.Progress)], rax);
        a.mov(rcx, __qword_ptr[rdi + VcpuBlock.Sweeps]);
        a.test(rcx, rcx);
        a.jz(sweep);
        a.cmp(r13, rcx);
        a.jb(sweep);
        a.mov(__qword_ptr[r15 + Port(MmioPort.Done)], rax);
        a.xor(r13, r13);
        a.jmp(sweep);

        // The host leaves KVM_RUN on this report and enters the program afresh at its next run.
        a.Label(ref stopped);
        a.mov(__qword_ptr[r15 + Port(MmioPort.Stopped)], r8);
        a.jmp(stopped);

        // rax = FNV-1a over the 512 words of the page at r9 (PageChecksum); clobbers rcx.
        a.Label(ref checksum);
        a.mov(rax, PageChecksum.Basis);
        a.xor(ecx, ecx);
        a.Label(ref checksumLoop);
        a.xor(rax, __qword_ptr[r9 + (rcx * 8)]);
        a.imul(rax, r11);
        a.inc(ecx);
        a.cmp(ecx, WordsPerPage);
        a.jb(checksumLoop);
        a.ret();

        using var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), ControlSlot.Code);
        if ((ulong)code.Length > ControlSlot.CodeEnd - ControlSlot.Code)
        {
            throw new InvalidOperationException($"the guest program is {code.Length} bytes, more than its room in the control slot");
        }

        return code.ToArray();
    }

    private static int Port(MmioPort port) => (int)((ulong)port - GuestPhysicalMap.Mmio);
}

using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Guest.Layout;
using VmmSwap.Guest.Program;
using VmmSwap.Guest.Vcpus;
using VmmSwap.Native.Files;
using VmmSwap.Native.Kvm;

namespace VmmSwap.Guest.Host;

/// <summary>
/// Plays the VMM for a <see cref="GuestMemory"/>: a KVM VM whose memory slots are the guest's
/// regions at their host addresses (so the runtime's userfaultfd sees the vCPUs' first touches),
/// a control slot outside the swapped memory with the page tables, the program, and each vCPU's
/// parameters, tables and log (<see cref="ControlSlot"/>), and one vCPU per page list, each run
/// on a thread of its own (<see cref="Start"/>).
/// </summary>
public sealed class KvmGuestHost : IDisposable
{
    private readonly KvmSystem _kvm;
    private readonly KvmVm _vm;
    private readonly ControlMemory _control;
    private readonly GuestMemory _memory;
    private readonly long[][] _pages;
    private readonly ulong[] _tables;
    private readonly List<KvmVcpu> _vcpus = [];
    private readonly List<VcpuRunner> _runners = [];
    private GuestRun? _run;

    private KvmGuestHost(GuestMemory memory, long[][] pages, KvmGuestOptions options)
    {
        _memory = memory;
        _pages = pages;
        Options = options;
        Map = new GuestPhysicalMap(memory);
        _tables = new ulong[pages.Length];
        var next = ControlSlot.Tables;
        for (var v = 0; v < pages.Length; v++)
        {
            _tables[v] = next;
            next += (ulong)pages[v].Length * ControlSlot.TableBytesPerPage;
        }

        _kvm = KvmSystem.Open();
        try
        {
            _vm = _kvm.CreateVm();
            _control = new ControlMemory(ControlSlot.Size(pages.Sum(p => (long)p.Length)));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>How the guest-physical space is laid out.</summary>
    public GuestPhysicalMap Map { get; }

    /// <summary>The options the host was created with.</summary>
    public KvmGuestOptions Options { get; }

    /// <summary>The number of vCPUs.</summary>
    public int VcpuCount => _pages.Length;

    /// <summary>The guest's TSC rate, measured against the host's clock when the host was created.</summary>
    public double TscHz { get; private set; }

    /// <summary>
    /// Creates the VM for <paramref name="memory"/> with one vCPU per entry of
    /// <paramref name="vcpuPages"/> (the guest pages it sweeps, in order). Each page's checksum is
    /// taken now from the memfd (pread), so create it while swap is disabled: a page held by the
    /// runtime is a hole there. Throws <see cref="KvmUnavailableException"/> without /dev/kvm.
    /// </summary>
    public static KvmGuestHost Create(GuestMemory memory, IReadOnlyList<IReadOnlyList<long>> vcpuPages, KvmGuestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(vcpuPages);
        if (vcpuPages.Count is 0 or > ControlSlot.MaxVcpus)
        {
            throw new ArgumentOutOfRangeException(nameof(vcpuPages), $"{vcpuPages.Count} vCPUs; 1 to {ControlSlot.MaxVcpus} are supported");
        }

        var host = new KvmGuestHost(memory, [.. vcpuPages.Select(p => p.ToArray())], options ?? new KvmGuestOptions());
        try
        {
            host.Build();
            host.TscHz = TscCalibration.Measure(host._runners[0]);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>The guest pages vCPU <paramref name="vcpu"/> sweeps, in order.</summary>
    public IReadOnlyList<long> Pages(int vcpu) => _pages[vcpu];

    /// <summary>
    /// Starts every vCPU: vCPU v sweeps its first <paramref name="limits"/>[v] pages,
    /// <paramref name="sweeps"/> times (0: until <see cref="GuestRun.Stop"/>), pausing
    /// <paramref name="pause"/> after each sweep, as an idle guest touches its memory now and then.
    /// </summary>
    public GuestRun Start(IReadOnlyList<long> limits, long sweeps = 0, TimeSpan pause = default)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (limits.Count != VcpuCount)
        {
            throw new ArgumentException($"{limits.Count} limits for {VcpuCount} vCPUs", nameof(limits));
        }

        if (_run is { Ended: false })
        {
            throw new InvalidOperationException("the guest is already running");
        }

        var clamped = limits.Select((l, v) => Math.Clamp(l, 0, _pages[v].Length)).ToArray();
        _run = new GuestRun(this, _runners, clamped, sweeps, pause);
        return _run;
    }

    /// <summary>Forgets every first touch (clears the logs): swap was just enabled, and each page's next touch faults again. Only while stopped.</summary>
    public void ForgetFirstTouches()
    {
        RequireStopped();
        for (var v = 0; v < VcpuCount; v++)
        {
            _control.Write(LogTable(v), new byte[_pages[v].Length * sizeof(ulong)]);
        }
    }

    /// <summary>
    /// The pages of every vCPU whose bytes differ from the checksum the guest last recorded for
    /// them, read with pread from the guest memfds: call it with swap disabled and the guest
    /// stopped, when every page is back in the memfd.
    /// </summary>
    public IReadOnlyList<long> VerifyPages()
    {
        RequireStopped();
        var bad = new List<long>();
        var buffer = new byte[PageSize.Bytes];
        for (var v = 0; v < VcpuCount; v++)
        {
            var checksums = _control.ReadU64s(ChecksumTable(v), _pages[v].Length);
            for (var i = 0; i < _pages[v].Length; i++)
            {
                ReadPage(_pages[v][i], buffer);
                if (PageChecksum.Of(buffer) != checksums[i])
                {
                    bad.Add(_pages[v][i]);
                }
            }
        }

        return bad;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _run?.Dispose();
        if (_run is { Ended: false })
        {
            // A vCPU thread that never left KVM_RUN still uses its kvm_run mapping and the
            // slots' memory: unmapping them under it could crash the process, so they are left.
            return;
        }

        foreach (var runner in _runners)
        {
            runner.Dispose();
        }

        foreach (var vcpu in _vcpus)
        {
            vcpu.Dispose();
        }

        _vm?.Dispose();
        _control?.Dispose();
        _kvm.Dispose();
    }

    internal ulong PageTable(int vcpu) => _tables[vcpu];

    internal ulong ChecksumTable(int vcpu) => _tables[vcpu] + ((ulong)_pages[vcpu].Length * sizeof(ulong));

    internal ulong LogTable(int vcpu) => _tables[vcpu] + ((ulong)_pages[vcpu].Length * 2 * sizeof(ulong));

    internal ulong[] ReadLog(int vcpu) => _control.ReadU64s(LogTable(vcpu), _pages[vcpu].Length);

    internal ulong ReadBlock(int vcpu, int field) => _control.ReadU64(ControlSlot.VcpuBlock(vcpu) + (ulong)field);

    private void Build()
    {
        _control.Write(ControlSlot.PageTableRoot, LongMode.PageTables(ControlSlot.PageTableRoot, Map.End));
        _control.Write(ControlSlot.Code, GuestProgram.Assemble());
        _vm.SetUserMemoryRegion(new KvmMemoryRegion { Slot = 0, GuestPhysicalAddress = 0, MemorySize = _control.Size, UserspaceAddress = (ulong)_control.Mapping.Address });
        for (var r = 0; r < _memory.Regions.Count; r++)
        {
            var region = _memory.Regions[r];
            _vm.SetUserMemoryRegion(new KvmMemoryRegion { Slot = (uint)(r + 1), GuestPhysicalAddress = Map.RegionStart(r), MemorySize = region.Size, UserspaceAddress = (ulong)region.HostAddress });
        }

        var buffer = new byte[PageSize.Bytes];
        for (var v = 0; v < VcpuCount; v++)
        {
            var pages = _pages[v];
            var checksums = new ulong[pages.Length];
            for (var i = 0; i < pages.Length; i++)
            {
                ReadPage(pages[i], buffer);
                checksums[i] = PageChecksum.Of(buffer);
            }

            _control.WriteU64s(PageTable(v), [.. pages.Select(Map.PageAddress)]);
            _control.WriteU64s(ChecksumTable(v), checksums);
            var block = ControlSlot.VcpuBlock(v);
            _control.WriteU64(block + VcpuBlock.PageTable, PageTable(v));
            _control.WriteU64(block + VcpuBlock.ChecksumTable, ChecksumTable(v));
            _control.WriteU64(block + VcpuBlock.Log, LogTable(v));
            _control.WriteU64(block + VcpuBlock.Random, RandomSeed(Options.Seed, v));

            var vcpu = _vm.CreateVcpu(v);
            _vcpus.Add(vcpu);
            var sregs = vcpu.GetSregs();
            LongMode.SetUser(ref sregs, ControlSlot.PageTableRoot);
            vcpu.SetSregs(sregs);
            _runners.Add(new VcpuRunner(vcpu, _control, block));
        }
    }

    private void ReadPage(long guestPage, Span<byte> buffer)
    {
        var (region, offset) = Map.Locate(guestPage);
        var r = _memory.Regions[region];
        FileOps.ReadExactly(r.MemFd, buffer, r.MemFdOffset + (long)offset);
    }

    private void RequireStopped()
    {
        if (_run is { Ended: false })
        {
            throw new InvalidOperationException("the guest is running; stop it first");
        }
    }

    // SplitMix64 of seed and vCPU: a different, never-zero xorshift state per vCPU.
    private static ulong RandomSeed(int seed, int vcpu)
    {
        var z = unchecked(((ulong)(uint)seed << 8) + (ulong)vcpu + 0x9E37_79B9_7F4A_7C15);
        z = unchecked((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9);
        z = unchecked((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        return z == 0 ? 1 : z;
    }
}

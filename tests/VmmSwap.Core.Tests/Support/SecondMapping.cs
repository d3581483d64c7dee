using VmmSwap.Core.Guest;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests.Support;

/// <summary>
/// A second mapping of a guest's memfds in this process, as a device process maps them: at other
/// addresses, the regions in reverse order and side by side (so one range can cross from one
/// region into the next), with its own userfaultfd served through its own <see cref="GuestLayout"/>.
/// </summary>
internal sealed class SecondMapping : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly List<MemoryMapping> _mappings = [];
    private readonly FaultServer _server;

    internal SecondMapping(GuestMemory guest, Func<PageHandler?> handler, object gate)
    {
        var regions = guest.Regions;
        var total = regions.Aggregate(0UL, (sum, r) => sum + r.Size);

        Layout = GuestLayout.Of(regions, MapSideBySide(regions, total));
        Uffd = Userfaultfd.Create();
        Guest = guest;
        _server = new FaultServer(Uffd, (uffd, e) => Serve(handler(), uffd, e), gate);
    }

    internal GuestLayout Layout { get; }

    // A free span the kernel picked, released and mapped again at once. MAP_FIXED_NOREPLACE fails
    // rather than replace what another test's thread mapped there in between: then another span.
    private nint[] MapSideBySide(IReadOnlyList<GuestRegion> regions, ulong total)
    {
        for (var attempt = 1; ; attempt++)
        {
            nint start;
            using (var reserve = MemoryMapping.MapAnonymous(total))
            {
                start = reserve.Address;
            }

            var bases = new nint[regions.Count];
            var next = start;
            try
            {
                for (var i = regions.Count - 1; i >= 0; i--)
                {
                    bases[i] = next;
                    _mappings.Add(MemoryMapping.MapSharedAt(next, regions[i].MemFd, regions[i].MemFdOffset, regions[i].Size, writable: true));
                    next += (nint)regions[i].Size;
                }

                return bases;
            }
            catch (NativeCallException e) when (e.ErrnoName == "EEXIST" && attempt < 10)
            {
                _mappings.ForEach(m => m.Dispose());
                _mappings.Clear();
            }
        }
    }

    internal Userfaultfd Uffd { get; }

    private GuestMemory Guest { get; }

    /// <summary>Where guest page <paramref name="page"/> is in this mapping.</summary>
    internal nint PageAddress(long page)
    {
        var host = (ulong)Guest.PageAddress(page);
        for (var i = 0; i < Guest.Regions.Count; i++)
        {
            var region = Guest.Regions[i];
            if (host >= (ulong)region.HostAddress && host < region.EndAddress)
            {
                return Layout.Bases[i] + (nint)(host - (ulong)region.HostAddress);
            }
        }

        throw new ArgumentOutOfRangeException(nameof(page));
    }

    /// <summary>Registers the mapping with its userfaultfd at its own addresses, as the runtime registers an attached process.</summary>
    internal void Register() => new GuestRegistrations(Guest.Regions).Add(Uffd, Layout);

    internal byte[] Read(long page)
    {
        var buffer = new byte[SwapHarness.Page];
        OnThread(() => Copy(buffer, PageAddress(page), toMapping: false), $"read of page {page}");
        return buffer;
    }

    internal void Write(long page, byte[] content) =>
        OnThread(() => Copy(content, PageAddress(page), toMapping: true), $"write of page {page}");

    /// <summary>MADV_REMOVE of <paramref name="length"/> bytes at <paramref name="address"/> of this mapping.</summary>
    internal void Remove(nint address, ulong length) =>
        OnThread(() => Madvise.Apply(address, length, MemoryAdvice.Remove), $"remove at 0x{address:X}");

    public void Dispose()
    {
        _server.Dispose();
        Uffd.Dispose();
        foreach (var mapping in _mappings)
        {
            mapping.Dispose();
        }
    }

    private static unsafe void Copy(byte[] buffer, nint address, bool toMapping)
    {
        fixed (byte* p = buffer)
        {
            // Through libc: the page may fault (docs/ARCHITECTURE.md, "GC safety").
            if (toMapping)
            {
                NativeBytes.Copy(address, (nint)p, (ulong)buffer.Length);
            }
            else
            {
                NativeBytes.Copy((nint)p, address, (ulong)buffer.Length);
            }
        }
    }

    private static void OnThread(Action access, string what)
    {
        if (!Blocking.RunOnThread(access, Deadline))
        {
            throw new TimeoutException($"the second mapping's {what} was not served within {Deadline.TotalSeconds} s");
        }
    }

    private void Serve(PageHandler? handler, Userfaultfd uffd, UffdEvent e)
    {
        switch (e.Kind)
        {
            case UffdEventKind.PageFault when handler is not null:
                handler.HandlePageFault(uffd, Layout, e.Address);
                break;
            case UffdEventKind.Remove when handler is not null:
                handler.HandlePageRemove(Layout, e.Address, e.End);
                break;
            default:
                throw new InvalidOperationException($"unexpected event {e} on the second mapping");
        }
    }
}

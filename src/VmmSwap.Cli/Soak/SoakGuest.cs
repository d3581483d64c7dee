using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Memory;

namespace VmmSwap.Cli.Soak;

/// <summary>
/// The soak's guest: memfd regions mapped at fixed addresses in a part of the address space the
/// kernel never picks by itself, so that the second process can map them at the same addresses
/// (the runtime registers every userfaultfd at the host's addresses). Where the kernel picks, a
/// .NET child would likely collide: its GC alone reserves 256 GiB of address space at start.
/// </summary>
public sealed class SoakGuest : IDisposable
{
    // From 16 TiB up, in 1 TiB steps: far below the kernel's mmap area (near the top of the 47-bit
    // address space) and above the program and its heap. A step that is taken (another soak in
    // this process) moves on to the next.
    private const long FirstBase = 0x1000_0000_0000;
    private const long BaseStep = 0x100_0000_0000;
    private const int Bases = 16;

    private readonly List<SafeFd> _memFds;
    private readonly List<MemoryMapping> _mappings;

    private SoakGuest(GuestMemory memory, List<SafeFd> memFds, List<MemoryMapping> mappings)
    {
        Memory = memory;
        _memFds = memFds;
        _mappings = mappings;
    }

    /// <summary>The guest memory the runtime serves.</summary>
    public GuestMemory Memory { get; }

    /// <summary>The regions as the second process maps them.</summary>
    public IReadOnlyList<SharedRegion> SharedRegions =>
        [.. Memory.Regions.Select((r, i) => new SharedRegion(_memFds[i].Value, r.HostAddress, r.Size))];

    /// <summary>Creates a guest of <paramref name="regionSizes"/> (bytes, page multiples), contiguous from the first free base.</summary>
    public static SoakGuest Create(params ulong[] regionSizes)
    {
        ArgumentNullException.ThrowIfNull(regionSizes);
        NativeCallException? last = null;
        for (var b = 0; b < Bases; b++)
        {
            var memFds = new List<SafeFd>();
            var mappings = new List<MemoryMapping>();
            try
            {
                var address = (nint)(FirstBase + (b * BaseStep));
                var regions = new List<GuestRegion>();
                for (var i = 0; i < regionSizes.Length; i++)
                {
                    var memFd = MemFd.Create($"vmm-swap soak guest {i}", (long)regionSizes[i]);
                    memFds.Add(memFd);
                    var mapping = MemoryMapping.MapSharedAt(address, memFd, 0, regionSizes[i], writable: true);
                    mappings.Add(mapping);
                    regions.Add(GuestRegion.Adopt(mapping.Address, regionSizes[i], memFd, 0));
                    address += (nint)regionSizes[i];
                }

                return new SoakGuest(new GuestMemory(regions), memFds, mappings);
            }
            catch (NativeCallException e) when (e.ErrnoName == "EEXIST")
            {
                last = e;
                mappings.ForEach(m => m.Dispose());
                memFds.ForEach(f => f.Dispose());
            }
            catch
            {
                mappings.ForEach(m => m.Dispose());
                memFds.ForEach(f => f.Dispose());
                throw;
            }
        }

        throw new InvalidOperationException($"no free place for the soak guest at 16-31 TiB: {last?.Message}", last);
    }

    /// <summary>Splits <paramref name="bytes"/> into <paramref name="regions"/> page-aligned sizes.</summary>
    public static ulong[] RegionSizes(ulong bytes, int regions)
    {
        var pages = PageSize.BytesToPages(bytes);
        return [.. Enumerable.Range(0, regions).Select(i => PageSize.PagesToBytes((pages * (i + 1) / regions) - (pages * i / regions)))];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Memory.Dispose();
        _mappings.ForEach(m => m.Dispose());
        _memFds.ForEach(f => f.Dispose());
    }
}

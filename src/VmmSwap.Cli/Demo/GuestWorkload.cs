using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;

namespace VmmSwap.Cli.Demo;

/// <summary>
/// The demo's guest: fills its memory with the page mix, runs vCPUs (KVM or threads,
/// <see cref="IGuestVcpus"/>) over a hot working set, and keeps a reference checksum of every page (updated on every write by thread vCPUs; a
/// KVM guest checks the pages it writes itself) to verify against.
/// Guest bytes are touched only through <see cref="GuestMemory"/>'s native accessors.
/// </summary>
public sealed class GuestWorkload : IDisposable
{
    // Pages per GuestMemory.Write during the fill: big enough that the native call is amortised.
    private const int FillChunkPages = 256;

    private readonly GuestMemory _guest;
    private readonly DemoOptions _options;
    private readonly ulong[] _reference;
    private readonly VcpuKind _vcpuKind;
    private readonly long[][] _shares;
    private IGuestVcpus? _vcpus;
    private readonly long[] _kindCounts = new long[Enum.GetValues<PageKind>().Length];

    /// <summary>Creates the workload for <paramref name="guest"/>; every page is expected to read zero until filled.</summary>
    public GuestWorkload(GuestMemory guest, DemoOptions options, VcpuKind vcpuKind = VcpuKind.Thread)
    {
        ArgumentNullException.ThrowIfNull(guest);
        ArgumentNullException.ThrowIfNull(options);
        _guest = guest;
        _options = options;
        _vcpuKind = vcpuKind;
        _reference = new ulong[guest.PageCount];
        Array.Fill(_reference, GuestMemory.ChecksumOf(new byte[PageSize.Bytes]));
        var hot = HotPages(guest.PageCount, options.HotPages, options.Seed);
        _shares = new long[options.Vcpus][];
        for (var v = 0; v < _shares.Length; v++)
        {
            var from = hot.Length * v / _shares.Length;
            var to = hot.Length * (v + 1) / _shares.Length;
            _shares[v] = hot[from..to];
        }
    }

    /// <summary>The vCPUs, once <see cref="CreateVcpus"/> has made them.</summary>
    public IGuestVcpus? Vcpus => _vcpus;

    /// <summary>Pages filled so far with each kind.</summary>
    public IReadOnlyDictionary<PageKind, long> KindCounts =>
        Enum.GetValues<PageKind>().ToDictionary(k => k, k => _kindCounts[(int)k]);

    /// <summary>
    /// Writes every page (zero pages included, so that they are resident and trim has work) in
    /// chunks on every core, recording each page's checksum. Each chunk draws from its own seeded
    /// generator, so the guest is the same whatever the scheduling. Returns the pages written,
    /// fewer than all when <paramref name="interrupt"/> fires.
    /// </summary>
    public long Fill(Action<long> progress, CancellationToken interrupt)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var mix = new PageMix(_options);
        var chunks = new List<(nint Address, long FirstPage, int Pages)>();
        long first = 0;
        foreach (var region in _guest.Regions)
        {
            for (long offset = 0; offset < region.PageCount; offset += FillChunkPages)
            {
                var pages = (int)Math.Min(FillChunkPages, region.PageCount - offset);
                chunks.Add((region.HostAddress + (nint)PageSize.PagesToBytes(offset), first + offset, pages));
            }

            first += region.PageCount;
        }

        long written = 0;
        Parallel.ForEach(
            chunks,
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            () => new byte[FillChunkPages * PageSize.Bytes],
            (chunk, loop, buffer) =>
            {
                if (interrupt.IsCancellationRequested)
                {
                    loop.Stop();
                    return buffer;
                }

                var random = new Random(unchecked((_options.Seed * 1_000_003) + (int)(chunk.FirstPage / FillChunkPages)));
                var bytes = buffer.AsSpan(0, chunk.Pages * PageSize.Bytes);
                Span<long> kinds = stackalloc long[_kindCounts.Length];
                for (var i = 0; i < chunk.Pages; i++)
                {
                    var kind = mix.NextKind(random);
                    var content = bytes.Slice(i * PageSize.Bytes, PageSize.Bytes);
                    mix.Fill(kind, content, random);
                    _reference[chunk.FirstPage + i] = GuestMemory.ChecksumOf(content);
                    kinds[(int)kind]++;
                }

                for (var k = 0; k < kinds.Length; k++)
                {
                    Interlocked.Add(ref _kindCounts[k], kinds[k]);
                }

                _guest.Write(chunk.Address, bytes);
                progress(Interlocked.Add(ref written, chunk.Pages));
                return buffer;
            },
            _ => { });
        return written;
    }

    /// <summary>
    /// Makes the vCPUs over the filled guest. Called before Enable: a KVM guest reads each hot
    /// page's checksum from the memfd, where Enable leaves holes.
    /// </summary>
    public void CreateVcpus()
    {
        _vcpus ??= _vcpuKind == VcpuKind.Kvm
            ? new KvmGuestVcpus(_guest, _shares, _options.Seed)
            : new ThreadVcpus(_guest, _reference, _shares, _options.Seed);
    }

    /// <summary>Enable has moved every page out of the guest: every page's next touch is a fault again.</summary>
    public void SwapEnabled() => RequireVcpus().SwapEnabled();

    /// <summary>
    /// Runs the vCPUs for <paramref name="duration"/> (less if <paramref name="interrupt"/> fires).
    /// Each sweeps the first <paramref name="sliceFraction"/> of its slice again and again; pages
    /// beyond it stay untouched for a later run, so that run faults too. <paramref name="progress"/>
    /// gets the elapsed time and the faults so far while the guest runs.
    /// </summary>
    public Task<GuestRunResult> RunAsync(TimeSpan duration, double sliceFraction, Action<TimeSpan, long> progress, CancellationToken interrupt) =>
        RequireVcpus().RunAsync(duration, sliceFraction, progress, interrupt);

    /// <summary>
    /// Compares every page with its reference checksum (read through native copies) and returns
    /// the pages that differ, in order.
    /// </summary>
    public List<long> Verify(Action<long> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var own = _vcpus?.OwnPages ?? new HashSet<long>();
        var mismatched = new List<long>(_vcpus?.VerifyOwnPages() ?? []);
        for (long page = 0; page < _guest.PageCount; page++)
        {
            if (!own.Contains(page) && _guest.PageChecksum(_guest.PageAddress(page)) != _reference[page])
            {
                mismatched.Add(page);
            }

            if ((page & 1023) == 1023)
            {
                progress(page + 1);
            }
        }

        progress(_guest.PageCount);
        mismatched.Sort();
        return mismatched;
    }

    private static long[] HotPages(long pageCount, long count, int seed)
    {
        // Spread evenly with a random page in each stride, so the hot set mixes every page kind
        // and both regions, as a real guest's working set would.
        // Not HashCode.Combine: it is randomised per process, and the same seed must give the same set.
        var random = new Random(unchecked((seed * 31) + 17));
        var stride = pageCount / count;
        var hot = new long[count];
        for (long i = 0; i < count; i++)
        {
            hot[i] = (i * stride) + random.NextInt64(stride);
        }

        return hot;
    }

    private IGuestVcpus RequireVcpus() => _vcpus ?? throw new InvalidOperationException("the vCPUs are made after the fill, by CreateVcpus");

    /// <summary>Releases the vCPUs: for KVM, the VM. Every run has ended by then.</summary>
    public void Dispose() => _vcpus?.Dispose();
}

using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Guest.Host;

namespace VmmSwap.Guest.Tests;

/// <summary>
/// Guest memory filled with a known mix (every third page zero, the rest random), a KVM guest
/// host whose vCPUs each sweep every fourth page of their own share, and the bytes' checksums
/// for the pages no vCPU touches, which nothing but a remove may change.
/// </summary>
internal sealed class SwappedKvmGuest : IDisposable
{
    internal SwappedKvmGuest(int vcpus, int seed, KvmGuestOptions? options = null, params long[] regionPages)
    {
        Memory = GuestMemory.Create([.. regionPages.Select(PageSize.PagesToBytes)]);
        try
        {
            var random = new Random(seed);
            var page = new byte[PageSize.Bytes];
            Reference = new ulong[Memory.PageCount];
            for (long p = 0; p < Memory.PageCount; p++)
            {
                Array.Clear(page);
                if (p % 3 != 0)
                {
                    random.NextBytes(page);
                }

                Memory.Write(Memory.PageAddress(p), page);
                Reference[p] = GuestMemory.ChecksumOf(page);
            }

            var hot = Enumerable.Range(0, (int)(Memory.PageCount / 4)).Select(i => (long)i * 4).ToArray();
            var shares = Enumerable.Range(0, vcpus).Select(v => (IReadOnlyList<long>)hot[(hot.Length * v / vcpus)..(hot.Length * (v + 1) / vcpus)]).ToList();
            Hot = [.. hot];
            Host = KvmGuestHost.Create(Memory, shares, options ?? new KvmGuestOptions(Seed: seed));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    internal GuestMemory Memory { get; }

    internal KvmGuestHost Host { get; } = null!;

    /// <summary>The checksum (GuestMemory.ChecksumOf) each page was filled with.</summary>
    internal ulong[] Reference { get; } = [];

    /// <summary>Every page some vCPU sweeps.</summary>
    internal HashSet<long> Hot { get; } = [];

    /// <summary>Each vCPU's whole share.</summary>
    internal long[] AllPages => [.. Enumerable.Range(0, Host.VcpuCount).Select(v => (long)Host.Pages(v).Count)];

    /// <summary>The first half of each vCPU's share.</summary>
    internal long[] HalfPages => [.. Enumerable.Range(0, Host.VcpuCount).Select(v => (long)Host.Pages(v).Count / 2)];

    /// <summary>
    /// Pages that are not as expected, read with swap disabled: hot pages against the guest's own
    /// checksums (pread of the memfds), the others against their fill, or zero where
    /// <paramref name="removed"/> says a balloon gave them back.
    /// </summary>
    internal List<long> Mismatches(ISet<long>? removed = null)
    {
        var bad = new List<long>(Host.VerifyPages());
        var zero = GuestMemory.ChecksumOf(new byte[PageSize.Bytes]);
        for (long p = 0; p < Memory.PageCount; p++)
        {
            if (!Hot.Contains(p) && Memory.PageChecksum(Memory.PageAddress(p)) != (removed?.Contains(p) == true ? zero : Reference[p]))
            {
                bad.Add(p);
            }
        }

        return bad;
    }

    public void Dispose()
    {
        Host?.Dispose();
        Memory.Dispose();
    }
}

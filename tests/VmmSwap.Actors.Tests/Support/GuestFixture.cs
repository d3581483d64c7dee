using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Files;
using VmmSwap.Testing;

namespace VmmSwap.Actors.Tests.Support;

/// <summary>A simulated guest: memfd regions filled with a known mix, and guest-thread access with a deadline.</summary>
internal sealed class GuestFixture : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    internal GuestFixture(params long[] regionPages)
        : this(GuestMemory.Create([.. regionPages.Select(PageSize.PagesToBytes)]))
    {
    }

    /// <summary>A fixture over guest memory the test built (e.g. of adopted regions); disposing it disposes <paramref name="memory"/>.</summary>
    internal GuestFixture(GuestMemory memory)
    {
        Memory = memory;
        Expected = new byte[Memory.PageCount][];
    }

    internal GuestMemory Memory { get; }

    /// <summary>What each page must hold; null means zero.</summary>
    internal byte[]?[] Expected { get; }

    internal long WrittenPages => Expected.Count(e => e is not null);

    /// <summary>Every region as a forked child maps it: memfd, offset, address, size.</summary>
    internal IEnumerable<(int MemFd, long Offset, nint Address, ulong Size)> Mappings =>
        Memory.Regions.Select(r => (r.MemFd.Value, r.MemFdOffset, r.HostAddress, r.Size));

    /// <summary>The sha256 (hex) page <paramref name="page"/> must have, as another process reads it.</summary>
    internal string ExpectedHash(long page) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Expected[page] ?? new byte[PageSize.Bytes]));

    /// <summary>Writes every <paramref name="stride"/>-th page: a third zero pages, the rest random.</summary>
    internal void Fill(int seed, int stride = 1)
    {
        var random = new Random(seed);
        OnGuestThread(() =>
        {
            for (long p = 0; p < Memory.PageCount; p += stride)
            {
                var content = new byte[PageSize.Bytes];
                if (p % 3 != 0)
                {
                    random.NextBytes(content);
                }

                Memory.Write(Memory.PageAddress(p), content);
                Expected[p] = content;
            }
        });
    }

    internal void WritePage(long page, byte[] content)
    {
        OnGuestThread(() => Memory.Write(Memory.PageAddress(page), content));
        Expected[page] = content;
    }

    internal byte[] ReadPage(long page)
    {
        var buffer = new byte[PageSize.Bytes];
        OnGuestThread(() => Memory.Read(Memory.PageAddress(page), buffer));
        return buffer;
    }

    /// <summary>The pages whose bytes differ from <see cref="Expected"/> (read through faults if swapped).</summary>
    internal List<long> Mismatches()
    {
        var bad = new List<long>();
        OnGuestThread(() =>
        {
            var zero = GuestMemory.ChecksumOf(new byte[PageSize.Bytes]);
            for (long p = 0; p < Memory.PageCount; p++)
            {
                var expected = Expected[p] is { } e ? GuestMemory.ChecksumOf(e) : zero;
                if (Memory.PageChecksum(Memory.PageAddress(p)) != expected)
                {
                    bad.Add(p);
                }
            }
        });
        return bad;
    }

    /// <summary>
    /// The pages whose bytes in the memfds differ from <see cref="Expected"/>, read with pread rather
    /// than through the mapping: a page still outside the guest reads as a hole, and no fault can
    /// bring it back meanwhile.
    /// </summary>
    internal List<long> MemFdMismatches()
    {
        var bad = new List<long>();
        var zero = new byte[PageSize.Bytes];
        var buffer = new byte[PageSize.Bytes];
        long page = 0;
        foreach (var region in Memory.Regions)
        {
            for (long p = 0; p < region.PageCount; p++, page++)
            {
                FileOps.ReadExactly(region.MemFd, buffer, region.MemFdOffset + (long)PageSize.PagesToBytes(p));
                if (!buffer.AsSpan().SequenceEqual(Expected[page] ?? zero))
                {
                    bad.Add(page);
                }
            }
        }

        return bad;
    }

    public void Dispose() => Memory.Dispose();

    private static void OnGuestThread(Action access)
    {
        if (!Blocking.RunOnThread(access, Deadline))
        {
            throw new TimeoutException($"a guest access was not served within {Deadline.TotalSeconds} s: a fault was lost");
        }
    }
}

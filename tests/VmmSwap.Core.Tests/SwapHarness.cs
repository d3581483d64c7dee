using VmmSwap.Native;
using VmmSwap.Testing;

namespace VmmSwap.Core.Tests;

/// <summary>
/// A guest on real memfd regions with a real userfaultfd, served by a <see cref="PageHandler"/>
/// on a fault-server thread. Every handler call from the test thread takes the same lock the
/// server holds while it drains events, as the single-owner actor would serialise them.
/// </summary>
internal sealed class SwapHarness : IDisposable
{
    internal const ulong Chunk = 2 * 1024 * 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly object _gate = new();
    private readonly Userfaultfd _uffd = Userfaultfd.Create();
    private readonly FaultServer _server;
    private PageHandler? _handler;

    internal SwapHarness(params long[] regionPages)
    {
        Guest = GuestMemory.Create([.. regionPages.Select(p => PageSize.PagesToBytes(p))]);
        _server = new FaultServer(_uffd, Serve, _gate);
    }

    internal GuestMemory Guest { get; }

    internal Userfaultfd Uffd => _uffd;

    internal PageHandler Handler => _handler ?? throw new InvalidOperationException("swap is not enabled");

    internal bool Enabled => _handler is not null;

    internal static int Page => PageSize.Bytes;

    /// <summary>Creates the handler (first time) and moves every resident page to staging; returns the pages moved.</summary>
    internal long Enable()
    {
        lock (_gate)
        {
            if (_handler is null)
            {
                _handler = PageHandler.Create(Guest.Regions, Path.GetTempPath());
                foreach (var region in Guest.Regions)
                {
                    _uffd.Register(region.HostAddress, region.Size);
                }
            }

            long pages = 0;
            foreach (var region in Guest.Regions)
            {
                var plan = _handler.MoveToStaging(region.HostAddress);
                Parallel.ForEach(plan.Batches, b => b.Execute());
                pages += plan.Pages;
            }

            return pages;
        }
    }

    /// <summary>
    /// Swaps out up to <paramref name="maxChunks"/> chunks (all when null, then the final flush, as
    /// the swap-out job does); returns the pages written.
    /// </summary>
    internal long SwapOutAll(int? maxChunks = null, ulong chunk = Chunk)
    {
        lock (_gate)
        {
            long total = 0;
            long pages;
            for (var i = 0; (maxChunks is null || i < maxChunks) && (pages = Handler.SwapOut(chunk)) > 0; i++)
            {
                total += pages;
            }

            if (maxChunks is null)
            {
                Handler.PlanSwapOutFlush().Execute();
            }

            return total;
        }
    }

    internal (long Zero, long Clean) TrimAll()
    {
        lock (_gate)
        {
            var trim = Handler.StartTrim();
            while (trim.TrimPages(1024) is not null)
            {
            }

            return (trim.ZeroPages, trim.CleanPages);
        }
    }

    /// <summary>Swaps in up to <paramref name="maxChunks"/> chunks (all when null); returns the pages brought in.</summary>
    internal long SwapIn(int? maxChunks = null, ulong chunk = Chunk)
    {
        lock (_gate)
        {
            using var swapIn = Handler.StartSwapIn();
            long total = 0;
            for (var i = 0; maxChunks is null || i < maxChunks; i++)
            {
                var pages = swapIn.SwapIn(_uffd, chunk);
                if (pages == 0)
                {
                    break;
                }

                total += pages;
            }

            return total;
        }
    }

    /// <summary>Swaps everything in, unregisters the guest and drops the handler.</summary>
    internal void Disable()
    {
        SwapIn();
        lock (_gate)
        {
            foreach (var region in Guest.Regions)
            {
                _uffd.Unregister(region.HostAddress, region.Size);
            }

            _handler?.Dispose();
            _handler = null;
        }
    }

    /// <summary>Runs <paramref name="call"/> on the handler under the lock the fault server holds.</summary>
    internal T Locked<T>(Func<PageHandler, T> call)
    {
        lock (_gate)
        {
            return call(Handler);
        }
    }

    internal SwapMetrics Metrics()
    {
        lock (_gate)
        {
            return Handler.Metrics();
        }
    }

    internal byte[] Read(long page)
    {
        var buffer = new byte[Page];
        OnGuestThread(() => Guest.Read(Guest.PageAddress(page), buffer), $"read of page {page}");
        return buffer;
    }

    internal void Write(long page, byte[] content) =>
        OnGuestThread(() => Guest.Write(Guest.PageAddress(page), content), $"write of page {page}");

    /// <summary>Frees guest pages as a balloon does: MADV_REMOVE on the guest mapping.</summary>
    internal void Remove(long firstPage, long pages) =>
        OnGuestThread(() => Madvise.Apply(Guest.PageAddress(firstPage), PageSize.PagesToBytes(pages), MemoryAdvice.Remove), $"remove of pages {firstPage}+{pages}");

    public void Dispose()
    {
        _server.Dispose();
        _handler?.Dispose();
        _uffd.Dispose();
        Guest.Dispose();
    }

    private static void OnGuestThread(Action access, string what)
    {
        if (!Blocking.RunOnThread(access, Deadline))
        {
            throw new TimeoutException($"guest {what} was not served within {Deadline.TotalSeconds} s");
        }
    }

    private void Serve(Userfaultfd uffd, UffdEvent e)
    {
        switch (e.Kind)
        {
            case UffdEventKind.PageFault when _handler is not null:
                _handler.HandlePageFault(uffd, e.Address);
                break;
            case UffdEventKind.Remove when _handler is not null:
                _handler.HandlePageRemove(e.Address, e.End);
                break;
            default:
                throw new InvalidOperationException($"unexpected event {e} while swap is {(_handler is null ? "disabled" : "enabled")}");
        }
    }
}

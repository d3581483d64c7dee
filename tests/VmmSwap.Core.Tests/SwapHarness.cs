using VmmSwap.Core.Guest;
using VmmSwap.Core.Pages;
using VmmSwap.Native.Memory;
using VmmSwap.Native.Uffd;
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

    // A second process's userfaultfd (a forked child mapping the guest at the same addresses),
    // served by its own fault-server thread under the same lock.
    private ForeignUserfaultfd? _child;
    private FaultServer? _childServer;

    internal SwapHarness(params long[] regionPages)
    {
        Guest = GuestMemory.Create([.. regionPages.Select(p => PageSize.PagesToBytes(p))]);
        _server = new FaultServer(_uffd, Serve, _gate);
    }

    internal GuestMemory Guest { get; }

    internal Userfaultfd Uffd => _uffd;

    internal PageHandler Handler => _handler ?? throw new InvalidOperationException("swap is not enabled");

    internal bool Enabled => _handler is not null;

    /// <summary>The attached child process, if any.</summary>
    internal ForeignUserfaultfd? Child => _child;

    /// <summary>
    /// Attaches a child process that maps the guest at the same addresses, as the runtime does:
    /// its userfaultfd is registered at once while enabled, else at the next Enable.
    /// </summary>
    internal void AttachChild()
    {
        lock (_gate)
        {
            _child = ForeignUserfaultfd.Create(Guest.Regions.Select(r => (r.MemFd.Value, r.MemFdOffset, r.HostAddress, r.Size)));
            _childServer = new FaultServer(_child.Uffd, Serve, _gate);
            if (_handler is not null)
            {
                Register(_child.Uffd);
            }
        }
    }

    /// <summary>
    /// Maps the guest's memfds a second time at other addresses with their own userfaultfd, as a
    /// device process does, registered at once and served through its own layout: call it while
    /// enabled. The caller disposes it before the harness.
    /// </summary>
    internal SecondMapping MapAgain()
    {
        lock (_gate)
        {
            var mapping = new SecondMapping(Guest, () => _handler, _gate);
            mapping.Register();
            return mapping;
        }
    }

    /// <summary>
    /// Starts a swap-in, reads its first window and copies one step, then drops it without
    /// Dispose, as a job that died would; returns the pages it copied.
    /// </summary>
    internal long AbandonSwapIn(ulong chunk)
    {
        lock (_gate)
        {
            var abandoned = Handler.StartSwapIn();
            if (abandoned.PlanRead(chunk) is { } read)
            {
                read.Execute();
                abandoned.Loaded(read);
            }

            try
            {
                return abandoned.CopyStep(_uffd, (ulong)Page);
            }
            catch (UffdRetryException)
            {
                return 0;
            }
        }
    }

    internal static int Page => PageSize.Bytes;

    /// <summary>Creates the handler (first time) and moves every resident page to staging; returns the pages moved.</summary>
    internal long Enable()
    {
        lock (_gate)
        {
            if (_handler is null)
            {
                _handler = PageHandler.Create(Guest.Regions, Path.GetTempPath());
                Register(_uffd);
                if (_child is not null)
                {
                    Register(_child.Uffd);
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
            for (var i = 0; (maxChunks is null || i < maxChunks) && (pages = Handler.SwapOutChunk(chunk)) > 0; i++)
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
            while (trim.TrimChunk(Handler, 1024) is not null)
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
            Unregister(_uffd);
            if (_child is not null)
            {
                Unregister(_child.Uffd);
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
        _childServer?.Dispose();
        _child?.Dispose();
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

    private void Register(Userfaultfd uffd)
    {
        foreach (var region in Guest.Regions)
        {
            uffd.Register(region.HostAddress, region.Size);
        }
    }

    private void Unregister(Userfaultfd uffd)
    {
        foreach (var region in Guest.Regions)
        {
            uffd.Unregister(region.HostAddress, region.Size);
        }
    }

    private void Serve(Userfaultfd uffd, UffdEvent e)
    {
        switch (e.Kind)
        {
            case UffdEventKind.PageFault when _handler is null:
                // Read after Disable unregistered the guest: every page is in, so the kernel
                // resolves it once woken (the runtime does the same).
                uffd.Wake((nint)PageSize.PageBase(e.Address), (ulong)Page);
                break;
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

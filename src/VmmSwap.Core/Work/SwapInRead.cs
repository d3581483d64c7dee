using VmmSwap.Core.Pages;
using VmmSwap.Core.Storage;

namespace VmmSwap.Core.Work;

/// <summary>
/// One read of swap-in: a window of swap-file slots read into the swap-in's buffers, on any thread
/// but the fault thread, in pieces that give way to fault reads (<see cref="SwapFile.StreamInto"/>),
/// so a fault waits neither for it nor behind it at the disk. It first drops the page cache of the
/// window read before it (where the stream is not direct, or fault reads cached some of it). Planned by
/// <see cref="SwapInContext.PlanRead"/>; <see cref="SwapInContext.Loaded"/> hands it back, and
/// <see cref="SwapInContext.CopyStep"/> then copies its present pages into the guest.
/// </summary>
public sealed class SwapInRead : PageWork
{
    private readonly SwapFile _file;
    private readonly nint _buffer;
    private readonly PageRange? _previous;

    internal SwapInRead(SwapFile file, PageRange window, int bufferSlot, nint buffer, PageRange? previous, DeferredFrees frees)
        : base(frees)
    {
        _file = file;
        Window = window;
        Buffer = bufferSlot;
        _buffer = buffer;
        _previous = previous;
    }

    /// <summary>The slots read.</summary>
    public PageRange Window { get; }

    /// <summary>Which of the swap-in's buffers it reads into.</summary>
    internal int Buffer { get; }

    /// <inheritdoc />
    protected override void Run()
    {
        if (_previous is { } previous)
        {
            _file.DropCache(previous);
        }

        _file.StreamInto(Window, _buffer);
    }
}

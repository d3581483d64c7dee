using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Core.Guest;

/// <summary>
/// Which userfaultfds have the guest regions registered, owned by one thread (the runtime's
/// PageHandler actor; a test's harness), and where each one's process maps them (its
/// <see cref="GuestLayout"/>; the host's unless it was attached with another). Registration is all regions or none; unregistering
/// treats a process that has exited as expected (its ranges went with its address space) and
/// reports it as gone, not as a failure.
/// </summary>
public sealed class GuestRegistrations
{
    private readonly IReadOnlyList<GuestRegion> _regions;
    private readonly List<Userfaultfd> _registered = [];

    // Checked while disabled, for the next Enable to register.
    private readonly List<Userfaultfd> _checked = [];

    // Only userfaultfds whose process maps the guest elsewhere than the host: the host's own
    // addresses need no translation, so their faults take the path they always took.
    private readonly Dictionary<Userfaultfd, GuestLayout> _layouts = [];

    /// <summary>Registrations of <paramref name="regions"/>, none made yet.</summary>
    public GuestRegistrations(IReadOnlyList<GuestRegion> regions) => _regions = regions ?? throw new ArgumentNullException(nameof(regions));

    /// <summary>The userfaultfds registered now.</summary>
    public IReadOnlyList<Userfaultfd> Registered => _registered;

    /// <summary>The layout of <paramref name="uffd"/>'s process; null when it maps the guest at the host's addresses.</summary>
    public GuestLayout? LayoutOf(Userfaultfd uffd) => _layouts.GetValueOrDefault(uffd);

    /// <summary>
    /// Registers every region with <paramref name="uffd"/> at the addresses of <paramref name="layout"/>
    /// (the host's when null) and keeps it; a failure part-way undoes the regions done, then throws.
    /// </summary>
    public void Add(Userfaultfd uffd, GuestLayout? layout = null)
    {
        Remember(uffd, layout);
        try
        {
            RegisterAll(uffd);
        }
        catch when (layout is not null)
        {
            _layouts.Remove(uffd);
            throw;
        }

        _registered.Add(uffd);
    }

    /// <summary>
    /// Checks that <paramref name="uffd"/>'s process maps every region where <paramref name="layout"/>
    /// says (the host's addresses when null), by registering them and unregistering them again; the
    /// next <see cref="AddAll"/> registers it.
    /// </summary>
    public void Check(Userfaultfd uffd, GuestLayout? layout = null)
    {
        Remember(uffd, layout);
        try
        {
            RegisterAll(uffd);
            Unregister(uffd);
        }
        catch
        {
            _layouts.Remove(uffd);
            throw;
        }

        _checked.Add(uffd);
    }

    /// <summary>
    /// Drops <paramref name="uffd"/> for good (its process detached or exited): its ranges are
    /// unregistered if they are registered, and it is forgotten. A process already gone is no
    /// failure; any other error (the unregister's) is returned after it is forgotten all the same.
    /// </summary>
    public NativeCallException? Remove(Userfaultfd uffd)
    {
        ArgumentNullException.ThrowIfNull(uffd);
        var registered = _registered.Remove(uffd);
        _checked.Remove(uffd);
        NativeCallException? error = null;
        try
        {
            if (registered && !uffd.Fd.IsClosed)
            {
                Unregister(uffd);
            }
        }
        catch (UffdTargetGoneException)
        {
            // Its ranges went with its address space.
        }
        catch (NativeCallException e)
        {
            error = e;
        }

        _layouts.Remove(uffd);
        return error;
    }

    /// <summary>
    /// Registers every region with each of <paramref name="uffds"/> and with those checked since the
    /// last call (an Enable sent right behind a ProcessForked must register that child too, before
    /// the supervisor has heard back); a closed one was dropped meanwhile. One whose process has
    /// exited goes to <paramref name="gone"/>. The first that cannot be registered stops it: every
    /// registration is undone and that one and its error are returned; null when all are in.
    /// </summary>
    public (Userfaultfd Uffd, NativeCallException Error)? AddAll(IReadOnlyList<Userfaultfd> uffds, Action<Userfaultfd> gone)
    {
        var all = uffds.Concat(_checked).Distinct().Where(u => !u.Fd.IsClosed).ToList();
        _checked.Clear();
        foreach (var uffd in all)
        {
            try
            {
                Add(uffd);
            }
            catch (UffdTargetGoneException)
            {
                _layouts.Remove(uffd);
                gone(uffd);
            }
            catch (NativeCallException error)
            {
                _layouts.Remove(uffd);
                RemoveAll(gone);
                return (uffd, error);
            }
        }

        return null;
    }

    /// <summary>Forgets <paramref name="uffd"/> without unregistering: its process is gone.</summary>
    public void Forget(Userfaultfd uffd)
    {
        _registered.Remove(uffd);
        _layouts.Remove(uffd);
    }

    /// <summary>
    /// Unregisters every kept userfaultfd and forgets them all. Those whose process has exited are
    /// passed to <paramref name="gone"/>; returns the first other failure, or null.
    /// </summary>
    public Exception? RemoveAll(Action<Userfaultfd> gone)
    {
        ArgumentNullException.ThrowIfNull(gone);
        Exception? error = null;
        foreach (var uffd in _registered)
        {
            try
            {
                Unregister(uffd);
            }
            catch (UffdTargetGoneException)
            {
                _layouts.Remove(uffd);
                gone(uffd);
            }
            catch (Exception e)
            {
                error ??= e;
            }
        }

        _registered.Clear();
        return error;
    }

    /// <summary>The range, in <paramref name="uffd"/>'s process, of the region holding <paramref name="address"/> there, or null.</summary>
    public (nint Address, ulong Size)? RegionOf(Userfaultfd uffd, ulong address)
    {
        for (var i = 0; i < _regions.Count; i++)
        {
            var (start, size) = RangeOf(uffd, i);
            if (address >= (ulong)start && address - (ulong)start < size)
            {
                return (start, size);
            }
        }

        return null;
    }

    private (nint Address, ulong Size) RangeOf(Userfaultfd uffd, int region) =>
        LayoutOf(uffd) is { } layout ? layout.RangeOf(region) : (_regions[region].HostAddress, _regions[region].Size);

    private void Remember(Userfaultfd uffd, GuestLayout? layout)
    {
        if (layout is not null && !layout.IsHost)
        {
            _layouts[uffd] = layout;
        }
    }

    private void RegisterAll(Userfaultfd uffd)
    {
        var done = new List<int>();
        try
        {
            for (var i = 0; i < _regions.Count; i++)
            {
                var (address, size) = RangeOf(uffd, i);
                uffd.Register(address, size);
                done.Add(i);
            }
        }
        catch
        {
            foreach (var i in done)
            {
                try
                {
                    var (address, size) = RangeOf(uffd, i);
                    uffd.Unregister(address, size);
                }
                catch (NativeCallException)
                {
                    // Its process is gone or the range went with it: nothing stays registered.
                }
            }

            throw;
        }
    }

    private void Unregister(Userfaultfd uffd)
    {
        for (var i = 0; i < _regions.Count; i++)
        {
            var (address, size) = RangeOf(uffd, i);
            uffd.Unregister(address, size);
        }
    }
}

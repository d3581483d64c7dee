using VmmSwap.Core.Guest;
using VmmSwap.Native.Interop;
using VmmSwap.Native.Uffd;

namespace VmmSwap.Actors.FaultPath;

/// <summary>
/// Which userfaultfds have the guest regions registered, owned by the PageHandler actor (one
/// thread). Registration is all regions or none; unregistering treats a process that has exited as
/// expected (its ranges went with its address space) and reports it as gone, not as a failure.
/// </summary>
internal sealed class GuestRegistrations
{
    private readonly IReadOnlyList<GuestRegion> _regions;
    private readonly List<Userfaultfd> _registered = [];

    // Checked while disabled, for the next Enable to register.
    private readonly List<Userfaultfd> _checked = [];

    internal GuestRegistrations(IReadOnlyList<GuestRegion> regions) => _regions = regions;

    /// <summary>The userfaultfds registered now.</summary>
    internal IReadOnlyList<Userfaultfd> Registered => _registered;

    /// <summary>Registers every region with <paramref name="uffd"/> and keeps it; a failure part-way undoes the regions done, then throws.</summary>
    internal void Add(Userfaultfd uffd)
    {
        RegisterAll(uffd);
        _registered.Add(uffd);
    }

    /// <summary>
    /// Checks that <paramref name="uffd"/>'s process maps every region here, by registering them
    /// and unregistering them again; the next <see cref="AddAll"/> registers it.
    /// </summary>
    internal void Check(Userfaultfd uffd)
    {
        RegisterAll(uffd);
        Unregister(uffd);
        _checked.Add(uffd);
    }

    /// <summary>
    /// Registers every region with each of <paramref name="uffds"/> and with those checked since the
    /// last call (an Enable sent right behind a ProcessForked must register that child too, before
    /// the supervisor has heard back); a closed one was dropped meanwhile. One whose process has
    /// exited goes to <paramref name="gone"/>. The first that cannot be registered stops it: every
    /// registration is undone and that one and its error are returned; null when all are in.
    /// </summary>
    internal (Userfaultfd Uffd, NativeCallException Error)? AddAll(IReadOnlyList<Userfaultfd> uffds, Action<Userfaultfd> gone)
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
                gone(uffd);
            }
            catch (NativeCallException error)
            {
                RemoveAll(gone);
                return (uffd, error);
            }
        }

        return null;
    }

    /// <summary>Forgets <paramref name="uffd"/> without unregistering: its process is gone.</summary>
    internal void Forget(Userfaultfd uffd) => _registered.Remove(uffd);

    /// <summary>
    /// Unregisters every kept userfaultfd and forgets them all. Those whose process has exited are
    /// passed to <paramref name="gone"/>; returns the first other failure, or null.
    /// </summary>
    internal string? RemoveAll(Action<Userfaultfd> gone)
    {
        string? error = null;
        foreach (var uffd in _registered)
        {
            try
            {
                Unregister(uffd);
            }
            catch (UffdTargetGoneException)
            {
                gone(uffd);
            }
            catch (Exception e)
            {
                error ??= $"unregister failed: {e.Message}";
            }
        }

        _registered.Clear();
        return error;
    }

    /// <summary>The region holding <paramref name="address"/>, or null.</summary>
    internal GuestRegion? RegionOf(ulong address)
    {
        foreach (var region in _regions)
        {
            if (address >= (ulong)region.HostAddress && address < region.EndAddress)
            {
                return region;
            }
        }

        return null;
    }

    private void RegisterAll(Userfaultfd uffd)
    {
        var done = new List<GuestRegion>();
        try
        {
            foreach (var region in _regions)
            {
                uffd.Register(region.HostAddress, region.Size);
                done.Add(region);
            }
        }
        catch
        {
            foreach (var region in done)
            {
                try
                {
                    uffd.Unregister(region.HostAddress, region.Size);
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
        foreach (var region in _regions)
        {
            uffd.Unregister(region.HostAddress, region.Size);
        }
    }
}

namespace VmmSwap.Cli.Demo;

/// <summary>Where the demo shows how far each phase has got.</summary>
public interface IPhaseProgress
{
    /// <summary>
    /// Starts showing phase <paramref name="name"/>, <paramref name="total"/> units long (pages,
    /// or milliseconds for a guest run). <paramref name="showRate"/> adds MB/s of the pages moved.
    /// </summary>
    IPhaseTracker Begin(string name, double total, bool showRate);
}

/// <summary>The progress of one phase.</summary>
public interface IPhaseTracker
{
    /// <summary>The phase has done <paramref name="done"/> units and moved <paramref name="pages"/> pages.</summary>
    void Update(double done, long pages);

    /// <summary>
    /// The phase is over, having moved <paramref name="pages"/> pages; <paramref name="finished"/>
    /// is false when it was cut short (Ctrl-C), so its bar stays where it stopped.
    /// </summary>
    void Complete(long pages, bool finished);
}

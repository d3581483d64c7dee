namespace VmmSwap.Cli.Demo;

/// <summary>Shows nothing: with --json, stdout carries the report alone.</summary>
public sealed class SilentPhaseProgress : IPhaseProgress, IPhaseTracker
{
    /// <summary>The one instance.</summary>
    public static SilentPhaseProgress Instance { get; } = new();

    private SilentPhaseProgress()
    {
    }

    /// <inheritdoc />
    public IPhaseTracker Begin(string name, double total, bool showRate) => this;

    /// <inheritdoc />
    public void Update(double done, long pages)
    {
    }

    /// <inheritdoc />
    public void Complete(long pages, bool finished)
    {
    }
}

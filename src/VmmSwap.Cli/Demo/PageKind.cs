namespace VmmSwap.Cli.Demo;

/// <summary>What a simulated guest page holds; each kind exercises a different path of the runtime.</summary>
public enum PageKind
{
    /// <summary>All zeros: trim drops it and a zero page serves its next fault.</summary>
    Zero,

    /// <summary>One of a few patterns shared across the guest (like common library or page-table pages).</summary>
    Repeated,

    /// <summary>Text-like bytes: words and line breaks.</summary>
    Text,

    /// <summary>Random bytes: unique and incompressible.</summary>
    Random,
}

namespace VmmSwap.Core.Work;

/// <summary>What trim found a staged page to be.</summary>
internal enum TrimVerdict : byte
{
    /// <summary>Must be kept (or was not examined).</summary>
    Keep,

    /// <summary>All zero: a zero page serves its next fault.</summary>
    Zero,

    /// <summary>Equal to its bytes on disk: present in the file again without a write.</summary>
    Clean,
}

namespace VmmSwap.Native.Rings;

/// <summary>One completed request of an <see cref="IoUring"/>: the caller's tag and the result (bytes, or -errno).</summary>
/// <param name="UserData">The tag the request was submitted with.</param>
/// <param name="Result">What the operation returned: a byte count, or a negated errno.</param>
public readonly record struct IoUringCompletion(ulong UserData, int Result);

namespace VmmSwap.Cli.Soak;

/// <summary>The second process could not be started, or did not hand over its userfaultfd.</summary>
public sealed class SecondProcessException : Exception
{
    /// <summary>Creates the exception with the cause.</summary>
    public SecondProcessException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the cause and the failure behind it.</summary>
    public SecondProcessException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

namespace NextStep;

/// <summary>
/// An error caused by input the user controls (a file, a config field, a prompt, an argument).
/// The message always names the file/field/value and says what was expected; the CLI prints it as one line.
/// </summary>
public class NextStepException : Exception
{
    public NextStepException(string message) : base(message) { }
    public NextStepException(string message, Exception inner) : base(message, inner) { }
}

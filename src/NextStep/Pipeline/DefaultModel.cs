namespace NextStep.Pipeline;

/// <summary>Where the embedded default model lives: <c>models/default</c> beside the application or in the repository.</summary>
public static class DefaultModel
{
    public static string? PathOrNull()
    {
        var env = Environment.GetEnvironmentVariable("NEXTSTEP_DEFAULT_MODEL");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "models", "default");
            if (File.Exists(System.IO.Path.Combine(candidate, "config.json"))) return candidate;
        }
        return null;
    }

    public static string Path => PathOrNull()
        ?? throw new NextStepException("no default model found (models/default); pass --model DIR with a NextStep model folder");
}

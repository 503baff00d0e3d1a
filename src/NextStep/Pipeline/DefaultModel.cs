namespace NextStep.Pipeline;

/// <summary>The model folder used when none is given: <c>models/default</c> beside the application or above it.</summary>
public static class DefaultModel
{
    public const string RelativePath = "models/default";

    /// <summary>The first <c>models/default</c> folder found from the application folder upwards; an error when none exists.</summary>
    public static string Path
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, RelativePath);
                if (Directory.Exists(candidate)) return candidate;
            }
            throw new NextStepException($"no model folder given and no default model ({RelativePath}) found: pass --model DIR (a folder with config.json, model.safetensors, tokenizer.json and vae/)");
        }
    }
}

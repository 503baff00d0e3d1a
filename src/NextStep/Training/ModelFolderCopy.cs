namespace NextStep.Training;

/// <summary>Copies a model folder for a tool that writes new weights into the copy (retokenize, depth growth).</summary>
internal static class ModelFolderCopy
{
    /// <summary>Refuses an output folder that is the model folder itself (its weights would be overwritten while read).</summary>
    public static void CheckDistinct(string modelFolder, string outFolder)
    {
        if (Path.GetFullPath(modelFolder) == Path.GetFullPath(outFolder))
            throw new NextStepException($"{outFolder}: the output folder must differ from the model folder");
    }

    /// <summary>Everything but the weights (<c>model.safetensors</c>, shards) and the old weights' eval reports (<c>EVAL.md</c>, <c>eval/</c>).</summary>
    public static void WithoutWeights(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            var name = Path.GetFileName(file);
            if (name is "EVAL.md" || name.StartsWith("model.safetensors", StringComparison.Ordinal) || name.StartsWith("model-", StringComparison.Ordinal)) continue;
            File.Copy(file, Path.Combine(to, name), overwrite: true);
        }
        foreach (var dir in Directory.GetDirectories(from))
            if (Path.GetFileName(dir) != "eval") WithoutWeights(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}

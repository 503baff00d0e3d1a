using System.Text.Json;
using System.Text.Json.Nodes;

namespace NextStep.Training;

/// <summary>Copies a model folder for a tool that writes new weights into the copy (retokenize, grow, cast).</summary>
internal static class ModelFolderCopy
{
    /// <summary>Refuses an output folder that is the model folder itself (its weights would be overwritten while read).</summary>
    public static void CheckDistinct(string modelFolder, string outFolder)
    {
        if (Path.GetFullPath(modelFolder) == Path.GetFullPath(outFolder))
            throw new NextStepException($"{outFolder}: the output folder must differ from the model folder");
    }

    /// <summary>The path of a model folder's config.json; an error when the folder has none.</summary>
    public static string ConfigPath(string modelFolder)
    {
        string path = Path.Combine(modelFolder, "config.json");
        return File.Exists(path) ? path : throw new NextStepException($"{modelFolder}: config.json not found (expected a model folder)");
    }

    /// <summary>Writes an edited config.json into the copy.</summary>
    public static void WriteConfig(string outFolder, JsonObject config) =>
        File.WriteAllText(Path.Combine(outFolder, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

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

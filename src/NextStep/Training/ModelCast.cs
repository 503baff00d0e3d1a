using System.Text.Json;
using System.Text.Json.Nodes;
using NextStep.Loading;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// Writes a copy of a model folder whose floating-point weights are stored in another dtype (e.g. float16 to halve a
/// folder's size): <c>model.safetensors</c> (and <c>torch_dtype</c> in config.json) and/or the VAE's
/// <c>checkpoint.pt</c> / <c>checkpoint.safetensors</c>, each in the format it had. Integer tensors are kept as they
/// are. The loaders cast stored weights to the compute dtype, so the copy runs as before, from rounded weights.
/// </summary>
public static class ModelCast
{
    private static readonly Dictionary<string, ScalarType> Names = new()
    {
        ["float32"] = ScalarType.Float32, ["float16"] = ScalarType.Float16, ["bfloat16"] = ScalarType.BFloat16,
    };

    /// <summary>Parses float32, float16 or bfloat16; the error names <paramref name="what"/>.</summary>
    public static ScalarType ParseDtype(string text, string what) =>
        Names.TryGetValue(text, out var t) ? t : throw new NextStepException($"{what} {text}: expected float32, float16 or bfloat16");

    public static void Run(string modelFolder, string outFolder, ScalarType? model, ScalarType? vae)
    {
        ModelFolderCopy.CheckDistinct(modelFolder, outFolder);
        string configPath = Path.Combine(modelFolder, "config.json");
        if (!File.Exists(configPath)) throw new NextStepException($"{modelFolder}: config.json not found (expected a model folder)");
        string vaeFolder = Path.Combine(modelFolder, "vae");
        string pt = Path.Combine(vaeFolder, "checkpoint.pt"), st = Path.Combine(vaeFolder, "checkpoint.safetensors");
        if (vae is not null && !File.Exists(pt) && !File.Exists(st))
            throw new NextStepException($"{vaeFolder}: no checkpoint.pt or checkpoint.safetensors to cast");

        ModelFolderCopy.WithoutWeights(modelFolder, outFolder);
        using var scope = NewDisposeScope();
        if (model is null)
            foreach (var file in Directory.GetFiles(modelFolder, "model*.safetensors*")) File.Copy(file, Path.Combine(outFolder, Path.GetFileName(file)), overwrite: true);
        else
        {
            using var checkpoint = SafeTensorsCheckpoint.Open(modelFolder);
            DefaultModelRecipe.Save(checkpoint.Names.Select(n => new KeyValuePair<string, Tensor>(n, Cast(checkpoint.Load(n), model))).ToList(), outFolder);
        }
        if (model is { } m)
        {
            var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
            config["torch_dtype"] = Names.First(n => n.Value == m).Key;
            File.WriteAllText(Path.Combine(outFolder, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        if (vae is null) return;
        string vaeOut = Path.Combine(outFolder, "vae");
        if (File.Exists(pt))
        {
            using var ck = TorchZipCheckpoint.Load(pt);
            TorchZipWriter.Save(Path.Combine(vaeOut, "checkpoint.pt"), ck.Tensors.Select(t => new KeyValuePair<string, Tensor>(t.Key, Cast(t.Value, vae))).ToList());
        }
        else
        {
            using var file = SafeTensorsFile.Open(st);
            SafeTensorsWriter.Save(Path.Combine(vaeOut, "checkpoint.safetensors"), file.Tensors.Keys.Select(k => new KeyValuePair<string, Tensor>(k, Cast(file.Load(k), vae))).ToList());
        }
    }

    private static Tensor Cast(Tensor t, ScalarType? dtype) =>
        dtype is { } d && t.is_floating_point() ? t.to(d).contiguous() : t.contiguous();
}

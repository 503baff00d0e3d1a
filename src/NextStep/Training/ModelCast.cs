using System.Text.Json.Nodes;
using NextStep.Config;
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
    public static void Run(string modelFolder, string outFolder, ScalarType? model, ScalarType? vae)
    {
        ModelFolderCopy.CheckDistinct(modelFolder, outFolder);
        string configPath = ModelFolderCopy.ConfigPath(modelFolder);
        string vaeFolder = Path.Combine(modelFolder, "vae");
        string pt = Path.Combine(vaeFolder, "checkpoint.pt"), st = Path.Combine(vaeFolder, "checkpoint.safetensors");
        if (vae is not null && !File.Exists(pt) && !File.Exists(st))
            throw new NextStepException($"{vaeFolder}: no checkpoint.pt or checkpoint.safetensors to cast");

        ModelFolderCopy.WithoutWeights(modelFolder, outFolder);
        using var scope = NewDisposeScope();
        if (model is { } m)
        {
            using var checkpoint = SafeTensorsCheckpoint.Open(modelFolder);
            DefaultModelRecipe.Save(checkpoint.Names.Select(n => new KeyValuePair<string, Tensor>(n, Cast(checkpoint.Load(n), m))).ToList(), outFolder);
            var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
            config["torch_dtype"] = DTypeName.Of(m);
            ModelFolderCopy.WriteConfig(outFolder, config);
        }
        else
            foreach (var file in Directory.GetFiles(modelFolder, "model*.safetensors*")) File.Copy(file, Path.Combine(outFolder, Path.GetFileName(file)), overwrite: true);
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

using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>A small module's folder: config.json and its parameters in <c>model.safetensors</c> (float32), read by name and shape.</summary>
public static class WeightFiles
{
    /// <summary>
    /// Writes config.json (by <paramref name="saveConfig"/>) and model.safetensors of <paramref name="module"/> into
    /// <paramref name="dir"/>, its tensors stored as <paramref name="storage"/> (float32 unless given; loading reads any as float32).
    /// </summary>
    public static void Save(nn.Module module, string dir, Action<string> saveConfig, ScalarType storage = ScalarType.Float32)
    {
        Directory.CreateDirectory(dir);
        saveConfig(Path.Combine(dir, "config.json"));
        using var scope = NewDisposeScope();
        SafeTensorsWriter.Save(Path.Combine(dir, "model.safetensors"),
            module.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach().to_type(storage).contiguous())));
    }

    /// <summary><see cref="Fill"/>, then evaluation mode; the module is disposed when its files are refused.</summary>
    public static T Loaded<T>(T module, string dir, string what) where T : nn.Module
    {
        try { Fill(module, dir, what); }
        catch { module.Dispose(); throw; }
        module.eval();
        return module;
    }

    /// <summary>
    /// Copies every parameter of <paramref name="module"/> from <c>dir/model.safetensors</c>; a missing, extra or
    /// misshapen tensor is an error naming the file, the tensor and <paramref name="what"/> was expected.
    /// </summary>
    public static void Fill(nn.Module module, string dir, string what)
    {
        using var ck = SafeTensorsCheckpoint.Open(dir);
        var expected = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var name in ck.Names)
            if (!expected.ContainsKey(name)) throw new NextStepException($"{dir}/model.safetensors: unexpected tensor \"{name}\" for {what}");
        using (no_grad())
            foreach (var (name, p) in expected)
            {
                if (!ck.Contains(name)) throw new NextStepException($"{dir}/model.safetensors: tensor \"{name}\" is missing");
                var info = ck.Info(name);
                if (!info.Shape.SequenceEqual(p.shape))
                    throw new NextStepException($"{dir}/model.safetensors: \"{name}\" has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", p.shape)}]");
                using var t = ck.Load(name, ScalarType.Float32);
                p.copy_(t);
            }
    }
}

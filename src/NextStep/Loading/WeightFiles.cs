using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>Fills a small module's parameters from <c>model.safetensors</c> of a folder, by name and shape.</summary>
public static class WeightFiles
{
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

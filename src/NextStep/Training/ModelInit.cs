using NextStep.Model;
using static TorchSharp.torch;

namespace NextStep.Training;

/// <summary>
/// Fresh weights for a model built from a config, following the official initialisation: backbone, lm_head and
/// projector weights N(0, initializer_range = 0.02) (the embedding's padding row zero), norms 1, biases 0; flow-matching
/// head linears Xavier-uniform, its time-MLP weights N(0, 0.02), its adaLN modulations and final linear 0.
/// Draws come from <c>generator</c>.
/// </summary>
public static class ModelInit
{
    public static void Initialize(NextStepModel model, Generator generator, double std = 0.02)
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            bool head = name.StartsWith("image_head.net.", StringComparison.Ordinal);
            if (name.EndsWith("bias", StringComparison.Ordinal)) p.zero_();
            else if (p.dim() == 1) nn.init.ones_(p);
            else if (head && (name.Contains("adaLN_modulation") || name.Contains("final_layer.linear"))) p.zero_();
            else if (head && name.Contains("time_embed")) nn.init.normal_(p, 0, std, generator);
            else if (head)
            {
                double bound = Math.Sqrt(6.0 / (p.shape[0] + p.shape[1]));
                p.uniform_(-bound, bound, generator);
            }
            else nn.init.normal_(p, 0, std, generator);
        }
        if (model.Config.PadTokenId is { } pad)
        {
            var embed = model.named_parameters().First(p => p.name == "embed_tokens.weight").parameter;
            using var row = embed[pad];
            row.zero_();
        }
    }
}

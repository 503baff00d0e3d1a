using NextStep.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Benchmarks;

/// <summary>Fills a module's parameters in place with random values (norm weights 1, others N(0, 0.02²)); int8 weights get random codes and scales.</summary>
public static class RandomWeights
{
    public static void Fill(nn.Module module, long seed)
    {
        using var _ = no_grad();
        var gen = new Generator((ulong)seed);
        foreach (var (name, p) in module.named_parameters())
        {
            if (p.dtype == ScalarType.Int8) p.random_(-127, 128, generator: gen);
            else if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else p.normal_(0, 0.02, generator: gen);
        }
        foreach (var (_, m) in module.named_modules())
            if (m is IInt8Weight { WeightScale: { } scale }) scale.fill_(0.02 * Math.Sqrt(3) / 127);
    }
}

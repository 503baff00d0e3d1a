using NextStep.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Benchmarks;

/// <summary>
/// Fills a module's parameters in place with random values (1-D weights, i.e. norms, 1; others N(0, 0.02²)). Int8 weights are
/// tiled with one block of 16 Mi random codes (drawing 14 billion codes one by one takes minutes; the timing of a
/// dequantize-and-multiply does not depend on the values) and get the scale of N(0, 0.02²)-sized weights.
/// </summary>
public static class RandomWeights
{
    private const long Int8Block = 16L << 20;

    public static void Fill(nn.Module module, long seed)
    {
        using var _ = no_grad();
        var gen = new Generator((ulong)seed);
        Tensor? codes = null;
        foreach (var (name, p) in module.named_parameters())
        {
            if (p.dtype == ScalarType.Int8)
            {
                codes ??= empty(Int8Block, ScalarType.Int8).random_(-127, 128, generator: gen);
                using var flat = p.view(-1);
                for (long start = 0; start < flat.shape[0]; start += Int8Block)
                {
                    long n = Math.Min(Int8Block, flat.shape[0] - start);
                    using var dst = flat.narrow(0, start, n);
                    using var src = codes.narrow(0, 0, n);
                    dst.copy_(src);
                }
            }
            else if (p.dim() == 1 && name.EndsWith("weight", StringComparison.Ordinal)) nn.init.ones_(p);   // norms
            else p.normal_(0, 0.02, generator: gen);
        }
        codes?.Dispose();
        using TorchSharp.Scalar int8Scale = 0.02 * Math.Sqrt(3) / 127; // held until the calls return (see AdamW.Update)
        foreach (var (_, m) in module.named_modules())
            if (m is IInt8Weight { WeightScale: { } scale }) scale.fill_(int8Scale);
    }
}

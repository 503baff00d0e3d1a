using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// Weight-only int8 quantization with one float32 scale per output channel (symmetric, round to nearest):
/// <c>q = round(W / s)</c> clamped to ±127 with <c>s = max|W_row| / 127</c>, and <c>y = x·(q·s)ᵀ + b</c>.
/// The weight is dequantized per call, a block of output rows at a time into a reused buffer, so a linear layer
/// never holds its full float weight (the int8 matrix is the only copy). For weights drawn uniformly the relative
/// output error is about 0.5/127 ≈ 0.4 %; for Gaussian weights about max|w|/(127·√12·σ) ≈ 0.8–0.9 %.
/// </summary>
public static class QuantizedLinear
{
    /// <summary>Float elements of the dequantized block (16 Mi = 64 MiB in float32).</summary>
    private const long BlockElements = 16L << 20;

    [ThreadStatic] private static Tensor? _buffer;

    /// <summary>Quantizes W [out, in] into (int8 [out, in], float32 scales [out]).</summary>
    public static (Tensor Weight, Tensor Scale) Quantize(Tensor weight)
    {
        if (weight.dim() != 2) throw new NextStepException($"int8 quantization needs a 2-D weight, found shape [{string.Join(", ", weight.shape)}]");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weight.to_type(ScalarType.Float32);
        using TorchSharp.Scalar tiny = 1e-12, low = -127, high = 127, levels = 127.0; // held until the calls return (see AdamW.Update)
        var scale = (w.abs().amax([1], keepdim: true) / levels).clamp_min(tiny);
        var q = w.div(scale).round().clamp(low, high).to_type(ScalarType.Int8);
        return (q.MoveToOuterDisposeScope(), scale.squeeze(1).MoveToOuterDisposeScope());
    }

    /// <summary>The dequantized weight q·s [out, in] in <paramref name="dtype"/>.</summary>
    public static Tensor Dequantize(Tensor weight, Tensor scale, ScalarType dtype)
    {
        using var w = weight.to_type(ScalarType.Float32);
        using var s = scale.unsqueeze(1);
        using var deq = w * s;
        return deq.to_type(dtype);
    }

    /// <summary>y = x·(q·s)ᵀ + b for x [..., in] in a floating dtype; returns [..., out] in x's dtype.</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor scale, Tensor? bias) => Forward(x, weight, scale, bias, BlockElements);

    internal static Tensor Forward(Tensor x, Tensor weight, Tensor scale, Tensor? bias, long blockElements)
    {
        long outF = weight.shape[0], inF = weight.shape[1];
        if (x.shape[^1] != inF) throw new NextStepException($"int8 linear: input has {x.shape[^1]} features, the weight expects {inF}");
        using var scope = NewDisposeScope();
        long rows = Math.Max(1, Math.Min(outF, blockElements / inF));
        var buffer = Buffer(rows * inF, x.dtype, x.device);
        var parts = new List<Tensor>();
        for (long start = 0; start < outF; start += rows)
        {
            long n = Math.Min(rows, outF - start);
            var w = buffer.narrow(0, 0, n * inF).view(n, inF);
            w.copy_(weight.narrow(0, start, n));
            w.mul_(scale.narrow(0, start, n).unsqueeze(1));
            parts.Add(nn.functional.linear(x, w));
        }
        var y = parts.Count == 1 ? parts[0] : cat(parts, -1);
        if (bias is not null) y = Held.Add(y, bias);
        return y.MoveToOuterDisposeScope();
    }

    private static Tensor Buffer(long elements, ScalarType dtype, Device device)
    {
        if (_buffer is null || _buffer.IsInvalid || _buffer.numel() < elements || _buffer.dtype != dtype || _buffer.device != device)
        {
            _buffer?.Dispose();
            _buffer = empty(elements, dtype, device).DetachFromDisposeScope();
        }
        return _buffer;
    }
}

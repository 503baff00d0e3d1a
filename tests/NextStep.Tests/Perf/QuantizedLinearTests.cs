using NextStep.Model;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Perf;

/// <summary>Int8 weight-only linear layers: error against float, shapes, blocking and loading.</summary>
public class QuantizedLinearTests
{
    private static double RelativeError(Tensor expected, Tensor actual)
    {
        using var diff = actual - expected;
        return diff.norm().item<float>() / expected.norm().item<float>();
    }

    /// <summary>
    /// Relative error (Frobenius) of y = x·Wᵀ with W [1024, 1024] on random x [16, 1024]. Bounds from the rounding
    /// error s/√12 per weight, s = max|w_row|/127: uniform weights (PyTorch's default init) 0.5/127 ≈ 0.39 %, asserted
    /// &lt; 0.5 %; Gaussian weights ≈ max|w|/(127·√12·σ), measured 0.79 % at 1024 and 0.88 % at 5120 inputs, asserted &lt; 1 %.
    /// </summary>
    [Theory]
    [InlineData("uniform", 0.005)]
    [InlineData("normal", 0.01)]
    public void RelativeErrorIsBounded(string init, double bound)
    {
        var g = new Generator(7);
        using var w = init == "uniform" ? rand(1024, 1024, generator: g) * 2 - 1 : randn(1024, 1024, generator: g);
        using var x = randn(16, 1024, generator: g);
        using var y = nn.functional.linear(x, w);
        var (q, s) = QuantizedLinear.Quantize(w);
        using (q) using (s)
        {
            Assert.Equal(ScalarType.Int8, q.dtype);
            Assert.Equal(new long[] { 1024 }, s.shape);
            using var yq = QuantizedLinear.Forward(x, q, s, null);
            double err = RelativeError(y, yq);
            Assert.True(err < bound, $"{init}: relative error {err:P3} ≥ {bound:P1}");
            Assert.True(err > 1e-4, $"{init}: relative error {err:E2} is implausibly small (was the weight quantized?)");
        }
    }

    [Fact]
    public void BlocksShapesAndBiasMatchTheDequantizedLinear()
    {
        var g = new Generator(3);
        using var w = randn(37, 24, generator: g);
        using var b = randn(37, generator: g);
        using var x = randn(2, 5, 24, generator: g);
        var (q, s) = QuantizedLinear.Quantize(w);
        using (q) using (s)
        {
            using var deq = QuantizedLinear.Dequantize(q, s, ScalarType.Float32);
            using var expected = nn.functional.linear(x, deq, b);
            foreach (long block in new long[] { 24 * 10, 24 * 37, 1L << 24 })   // 4 blocks of 10 rows (last 7), one exact, one large
            {
                using var y = QuantizedLinear.Forward(x, q, s, b, block);
                Assert.Equal(new long[] { 2, 5, 37 }, y.shape);
                TensorAssert.Close(expected, y, atol: 1e-5, what: $"block {block}");
            }
            using var bad = randn(2, 23);
            Assert.Throws<NextStepException>(() => QuantizedLinear.Forward(bad, q, s, null));
        }
    }

    [Fact]
    public void Int8LinearQuantizesOnLoadAndKeepsNoFloatWeight()
    {
        using var layer = new NextStep.Model.Linear(24, 37, true, ScalarType.Float32, CPU, int8: true);
        Assert.True(layer.IsInt8);
        Assert.Equal(ScalarType.Int8, layer.Weight.dtype);
        // the scale is derived from the weight, so it is not a checkpoint tensor
        Assert.DoesNotContain(layer.named_buffers(include_nonpersistent: false), nb => nb.name == "weight_scale");
        using var w = randn(37, 24);
        layer.LoadWeight(w);
        var bias = layer.named_parameters().Single(p => p.name == "bias").parameter;
        bias.normal_(0, 1);
        using var x = randn(3, 24);
        using var expected = nn.functional.linear(x, w, bias);
        using var y = layer.forward(x);
        Assert.True(RelativeError(expected, y) < 0.02);
    }
}

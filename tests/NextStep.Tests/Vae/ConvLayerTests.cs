using NextStep.Model;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Vae;

/// <summary>
/// The VAE's convolutions against float64 (libtorch's reference kernels, not oneDNN): outputs, input and weight
/// gradients of the narrow layers whose oneDNN kernels go wrong on some AVX-512 CPUs (see <see cref="ConvLayer.WideOutChannels"/>),
/// and one wide layer as a control. Without the widening the decoder's conv_out (64 → 3 channels) gives input gradients
/// off by about 90 % on such a CPU, and decoder training degrades.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class ConvLayerTests
{
    [Theory]
    [InlineData(64, 3, 3)]  // the decoder's conv_out
    [InlineData(8, 8, 3)]
    [InlineData(64, 12, 3)]
    [InlineData(64, 32, 3)] // wide: oneDNN's own path
    [InlineData(64, 3, 1)]  // 1×1: oneDNN's own path
    public void Float32GradientsMatchFloat64(int inChannels, int outChannels, int kernel)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var x64 = randn([8, inChannels, 16, 16], ScalarType.Float64);
        var w64 = randn([outChannels, inChannels, kernel, kernel], ScalarType.Float64) * 0.05;
        var b64 = randn([outChannels], ScalarType.Float64) * 0.05;
        var upstream = randn([8, outChannels, 16, 16], ScalarType.Float64);
        var (y32, dx32, dw32) = Run(ScalarType.Float32);
        var (y64, dx64, dw64) = Run(ScalarType.Float64);
        TensorAssert.Close(y64, y32, atol: 1e-5 * y64.abs().max().item<double>(), what: "output");
        TensorAssert.Close(dx64, dx32, atol: 1e-5 * dx64.abs().max().item<double>(), what: "input gradient");
        TensorAssert.Close(dw64, dw32, atol: 1e-5 * dw64.abs().max().item<double>(), what: "weight gradient");

        (Tensor, Tensor, Tensor) Run(ScalarType dtype)
        {
            var layer = new ConvLayer(inChannels, outChannels, kernel, 1, kernel / 2, dtype, CPU);
            using (no_grad())
            {
                var p = layer.named_parameters().ToDictionary(n => n.name, n => n.parameter);
                p["weight"].copy_(w64);
                p["bias"].copy_(b64);
            }
            foreach (var p in layer.parameters()) p.requires_grad = true;
            var x = x64.to_type(dtype).detach().requires_grad_(true);
            var y = layer.call(x);
            (y * upstream.to_type(dtype)).sum().backward();
            var dw = layer.named_parameters().First(n => n.name == "weight").parameter.grad!;
            return (y.detach().to_type(ScalarType.Float64), x.grad!.to_type(ScalarType.Float64), dw.to_type(ScalarType.Float64));
        }
    }

    [Fact]
    public void BFloat16NarrowOutputStaysClose()
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        var x = randn([1, 16, 16, 16]);
        var layer32 = new ConvLayer(16, 3, 3, 1, 1, ScalarType.Float32, CPU);
        var layer16 = new ConvLayer(16, 3, 3, 1, 1, ScalarType.BFloat16, CPU);
        using (no_grad())
        {
            var p32 = layer32.named_parameters().ToDictionary(n => n.name, n => n.parameter);
            foreach (var (name, p) in layer16.named_parameters())
            {
                p32[name].copy_(randn(p32[name].shape) * 0.1);
                p.copy_(p32[name]);
            }
        }
        var expected = layer32.call(x);
        var actual = layer16.call(x.to_type(ScalarType.BFloat16)).to_type(ScalarType.Float32);
        TensorAssert.Close(expected, actual, atol: 0.05 * expected.abs().max().item<float>(), what: "bf16 conv, 16 → 3 channels");
    }
}

using NextStep.Loading;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Loading;

public class SafeTensorsTests
{
    [Fact]
    public void TinyCheckpointHasTheOfficialKeysAndShapes()
    {
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        Assert.Equal(60, ck.Names.Count());
        Assert.Equal(new long[] { 1088, 64 }, ck.Info("embed_tokens.weight").Shape);
        Assert.Equal("BF16", ck.Info("embed_tokens.weight").DType);
        Assert.Equal(new long[] { 32, 64 }, ck.Info("layers.0.self_attn.k_proj.weight").Shape);
        using var w = ck.Load("norm.weight", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, w.dtype);
        // RMSNorm weights were drawn around 1 (fixtures README)
        Assert.InRange(w.mean().item<float>(), 0.8f, 1.2f);
    }

    [Fact]
    public void WriterRoundTripsEveryDtype()
    {
        var dir = Directory.CreateTempSubdirectory("st");
        var path = System.IO.Path.Combine(dir.FullName, "t.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["a"] = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4),
            ["b"] = torch.arange(5, dtype: ScalarType.Int64),
            ["c"] = torch.ones(2, 2, dtype: ScalarType.BFloat16),
            ["empty"] = torch.zeros(0, 3),
        };
        SafeTensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal("pt", f.Metadata["format"]);
        foreach (var (k, v) in tensors)
            { var l = f.Load(k); Assert.Equal(v.dtype, l.dtype); Assert.Equal(v.shape, l.shape); Assert.True(v.eq(l).all().item<bool>(), k); }
        dir.Delete(true);
    }
}

[Collection(GlobalRngCollection.Name)]
public class TorchRngTests
{
    [Fact]
    public void RngGoldenMatchesTorchSharpGenerator()
    {
        // torch.manual_seed(seed); torch.randn(n) recorded by PyTorch, against libtorch via TorchSharp.
        foreach (var (seed, n) in new[] { (0L, 1), (42L, 15), (42L, 16), (3407L, 1000), (4294967303L, 33) })
        {
            var expected = Fixtures.Tensor("rng/torch_cpu.safetensors", $"randn_s{seed}_n{n}");
            torch.manual_seed(seed);
            var actual = torch.randn(n);
            TensorAssert.Close(expected, actual, atol: 0, what: $"seed {seed} n {n}");
        }
    }
}

using NextStep.Loading;
using NextStep.Model;
using NextStep.Tests.Model;
using NextStep.Tests.Support;
using NextStep.Training;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Training;

/// <summary><see cref="DepthGrowth"/>: a deeper model folder that still computes the reference outputs.</summary>
public class DepthGrowthTests
{
    [Fact]
    public void TheGrownModelStillMatchesTheReferenceBackbone()
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("nextstep-grow-").FullName, "model");
        var result = DepthGrowth.Run(Fixtures.TinyModel, output, [0, 1]);
        Assert.Equal((2, 4, 2, 2), (result.LayersBefore, result.LayersAfter, result.HeadBlocksBefore, result.HeadBlocksAfter));

        using (var model = NextStepModel.Load(output)) Assert.Equal(4, model.Config.NumHiddenLayers);
        // Golden hidden states of the 2-layer reference (PyTorch).
        TinyModel.AssertPrefillMatchesReference(output, "grown model prefill");

        using var before = SafeTensorsFile.Open(Path.Combine(Fixtures.TinyModel, "model.safetensors"));
        using var after = SafeTensorsFile.Open(Path.Combine(output, "model.safetensors"));
        int perLayer = before.Tensors.Keys.Count(k => k.StartsWith("layers.0.", StringComparison.Ordinal));
        Assert.Equal(before.Tensors.Count + 2 * perLayer, after.Tensors.Count);
        // Layer 1 is the copy of layer 0: its residual outputs are zero and its attention inputs are layer 0's.
        using (var o = after.Load("layers.1.self_attn.o_proj.weight", ScalarType.Float32)) Assert.Equal(0, o.abs().max().item<float>());
        using (var d = after.Load("layers.1.mlp.down_proj.weight", ScalarType.Float32)) Assert.Equal(0, d.abs().max().item<float>());
        using (var q0 = before.Load("layers.0.self_attn.q_proj.weight", ScalarType.Float32))
        using (var q1 = after.Load("layers.1.self_attn.q_proj.weight", ScalarType.Float32))
            Assert.True(q0.equal(q1).all().item<bool>());
        using (var o1 = before.Load("layers.1.self_attn.o_proj.weight", ScalarType.Float32))
        using (var o2 = after.Load("layers.2.self_attn.o_proj.weight", ScalarType.Float32))
            Assert.True(o1.equal(o2).all().item<bool>(), "old layer 1 is new layer 2, unchanged");
        Assert.True(File.Exists(Path.Combine(output, "vae", "config.json")));
    }

    [Fact]
    public void TheGrownHeadStillMatchesTheReferenceHead()
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("nextstep-grow-").FullName, "model");
        var result = DepthGrowth.Run(Fixtures.TinyModel, output, [], [0, 1]);
        Assert.Equal((2, 2, 2, 4), (result.LayersBefore, result.LayersAfter, result.HeadBlocksBefore, result.HeadBlocksAfter));

        using var model = NextStepModel.Load(output);
        Assert.Equal(4, model.Config.FmHeadLayers);
        using (no_grad())
        {
            // Golden output of the reference head network (2 res blocks, the official SimpleMLPAdaLN in PyTorch).
            using var v = model.Head.forward(TinyModel.Golden("fm.net.x"), TinyModel.Golden("fm.net.t"), TinyModel.Golden("fm.net.c"));
            using var expected = TinyModel.Golden("fm.net.out");
            TensorAssert.Close(expected, v, atol: 1e-6, rtol: 1e-5, what: "grown head fm.net.out");
        }
        TinyModel.AssertPrefillMatchesReference(output, "model with a grown head, prefill");

        using var before = SafeTensorsFile.Open(Path.Combine(Fixtures.TinyModel, "model.safetensors"));
        using var after = SafeTensorsFile.Open(Path.Combine(output, "model.safetensors"));
        const string block = "image_head.net.res_blocks.";
        int perBlock = before.Tensors.Keys.Count(k => k.StartsWith(block + "0.", StringComparison.Ordinal));
        Assert.Equal(before.Tensors.Count + 2 * perBlock, after.Tensors.Count);
        // Block 1 is the copy of block 0: its gate rows (last third of the modulation) are zero, shift and scale are block 0's.
        using (var m0 = before.Load(block + "0.adaLN_modulation.1.weight", ScalarType.Float32))
        using (var m1 = after.Load(block + "1.adaLN_modulation.1.weight", ScalarType.Float32))
        {
            long third = m0.shape[0] / 3;
            Assert.Equal(0, m1.narrow(0, 2 * third, third).abs().max().item<float>());
            Assert.True(m0.narrow(0, 0, 2 * third).equal(m1.narrow(0, 0, 2 * third)).all().item<bool>());
            Assert.True(m0.narrow(0, 2 * third, third).abs().max().item<float>() > 0, "the original's gate is not zero");
        }
        using (var b1 = after.Load(block + "1.adaLN_modulation.1.bias", ScalarType.Float32))
            Assert.Equal(0, b1.narrow(0, 2 * (b1.shape[0] / 3), b1.shape[0] / 3).abs().max().item<float>());
        using (var w1 = before.Load(block + "1.mlp.0.weight", ScalarType.Float32))
        using (var w3 = after.Load(block + "3.mlp.0.weight", ScalarType.Float32))
            Assert.True(w1.equal(w3).all().item<bool>(), "old block 1 is new block 3, unchanged");
    }

    [Theory]
    [InlineData(new[] { 2 }, "layer 2: expected an index from 0 to 1")]
    [InlineData(new[] { -1 }, "layer -1: expected an index from 0 to 1")]
    [InlineData(new[] { 0, 0 }, "each layer can be copied once")]
    [InlineData(new int[0], "no layer to copy")]
    [InlineData(new[] { 0 }, "head block 2: expected an index from 0 to 1", new[] { 2 })]
    [InlineData(new int[0], "each head block can be copied once", new[] { 1, 1 })]
    public void RefusesLayersTheModelDoesNotHave(int[] after, string message, int[]? headAfter = null)
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("nextstep-grow-").FullName, "model");
        var e = Assert.Throws<NextStepException>(() => DepthGrowth.Run(Fixtures.TinyModel, output, after, headAfter));
        Assert.Contains(message, e.Message);
        Assert.False(Directory.Exists(output), "nothing is written for a refused request");
    }

    [Fact]
    public void AWeightOfALayerTheConfigDoesNotListIsNamedBeforeAnythingIsWritten()
    {
        var root = Directory.CreateTempSubdirectory("nextstep-grow-").FullName;
        var source = Directory.CreateDirectory(Path.Combine(root, "source")).FullName;
        File.Copy(Path.Combine(Fixtures.TinyModel, "model.safetensors"), Path.Combine(source, "model.safetensors"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TinyModel, "config.json")))!.AsObject();
        config["num_hidden_layers"] = 1;   // the weights have layers 0 and 1
        File.WriteAllText(Path.Combine(source, "config.json"), config.ToJsonString());
        var output = Path.Combine(root, "model");
        var e = Assert.Throws<NextStepException>(() => DepthGrowth.Run(source, output, [0]));
        Assert.Contains("belongs to layer 1, but config.json has 1 (num_hidden_layers)", e.Message);
        Assert.False(Directory.Exists(output), "nothing is written for a mismatched folder");
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void RefusesToOverwriteTheModelItReads()
    {
        var e = Assert.Throws<NextStepException>(() => DepthGrowth.Run(Fixtures.TinyModel, Fixtures.TinyModel, [0]));
        Assert.Contains("must differ", e.Message);
    }
}

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
        Assert.Equal((2, 4), (result.LayersBefore, result.LayersAfter));

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

    [Theory]
    [InlineData(new[] { 2 }, "layer 2: expected an index from 0 to 1")]
    [InlineData(new[] { -1 }, "layer -1: expected an index from 0 to 1")]
    [InlineData(new[] { 0, 0 }, "each layer can be copied once")]
    [InlineData(new int[0], "no layer to copy")]
    public void RefusesLayersTheModelDoesNotHave(int[] after, string message)
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("nextstep-grow-").FullName, "model");
        var e = Assert.Throws<NextStepException>(() => DepthGrowth.Run(Fixtures.TinyModel, output, after));
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
        Assert.Contains("belongs to layer 1, but config.json has 1 layers", e.Message);
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

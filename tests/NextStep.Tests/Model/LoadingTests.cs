using System.Text.Json;
using System.Text.Json.Nodes;
using NextStep.Loading;
using NextStep.Model;
using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

/// <summary>Strict loading against broken copies of the tiny checkpoint written to a temporary folder.</summary>
public sealed class LoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-model-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, Tensor> TinyTensors()
    {
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        return ck.Names.ToDictionary(n => n, n => ck.Load(n));
    }

    /// <summary>Writes config.json (optionally edited) and model.safetensors with the given tensors.</summary>
    private string Write(Dictionary<string, Tensor> tensors, Action<JsonObject>? editConfig = null)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TinyModel, "config.json")))!.AsObject();
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(_dir, "config.json"), config.ToJsonString());
        SafeTensorsWriter.Save(Path.Combine(_dir, "model.safetensors"), tensors);
        return _dir;
    }

    private static string LoadError(string dir) => Assert.Throws<NextStepException>(() => NextStepModel.Load(dir)).Message;

    [Fact]
    public void ParameterNamesAreExactlyTheCheckpointKeys()
    {
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        var model = TinyModel.Float32;
        var names = model.named_parameters().Select(p => p.name).Concat(model.named_buffers().Select(b => b.name)).ToList();
        Assert.Equal(ck.Names.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        Assert.NotNull(model.GenPosEmbed);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var t = TinyTensors();
        t.Remove("layers.1.mlp.up_proj.weight");
        var msg = LoadError(Write(t));
        Assert.Contains("missing tensor \"layers.1.mlp.up_proj.weight\"", msg);
        Assert.Contains("[160, 64]", msg);
    }

    [Fact]
    public void MissingBiasInALaterLayerIsNamed()
    {
        var t = TinyTensors();
        t.Remove("layers.1.self_attn.k_proj.bias");
        Assert.Contains("missing tensor \"layers.1.self_attn.k_proj.bias\"", LoadError(Write(t)));
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        var t = TinyTensors();
        t["layers.2.self_attn.q_proj.weight"] = zeros(64, 64, ScalarType.BFloat16);
        Assert.Contains("unexpected tensor \"layers.2.self_attn.q_proj.weight\"", LoadError(Write(t)));
    }

    [Fact]
    public void WrongShapeIsNamedWithBothShapes()
    {
        var t = TinyTensors();
        t["image_out_projector.weight"] = zeros(64, 32, ScalarType.BFloat16);
        var msg = LoadError(Write(t));
        Assert.Contains("\"image_out_projector.weight\" has shape [64, 32], the model expects [64, 64]", msg);
    }

    [Fact]
    public void ConfigShapeDisagreeingWithWeightsIsAnError()
    {
        var msg = LoadError(Write(TinyTensors(), c => c["intermediate_size"] = 128));
        Assert.Contains("mlp.gate_proj.weight\" has shape [160, 64], the model expects [128, 64]", msg);
    }

    [Fact]
    public void ConfigMissingARequiredKeyIsNamed()
    {
        var msg = LoadError(Write(TinyTensors(), c => c.Remove("hidden_size")));
        Assert.Contains("config.json", msg);
        Assert.Contains("\"hidden_size\"", msg);
    }

    [Fact]
    public void MissingFolderAndWeightsAreErrors()
    {
        Assert.Contains("not found", LoadError(Path.Combine(_dir, "nope")));
        File.Copy(Path.Combine(Fixtures.TinyModel, "config.json"), Path.Combine(_dir, "config.json"));
        Assert.Contains("model.safetensors", LoadError(_dir));
    }

    [Fact]
    public void GenPosEmbedIsOptionalUnlessTheConfigUsesIt()
    {
        var t = TinyTensors();
        t.Remove("gen_pos_embed");
        using (var model = NextStepModel.Load(Write(t))) Assert.Null(model.GenPosEmbed);
        Assert.Contains("gen_pos_embed", LoadError(Write(t, c => c["use_gen_pos_embed"] = true)));
    }

    [Fact]
    public void ModelAndOrigModPrefixesAreStripped()
    {
        var t = TinyTensors().ToDictionary(kv => kv.Key.StartsWith("image_head.net.") ? "model.image_head._orig_mod.net." + kv.Key["image_head.net.".Length..] : "model." + kv.Key, kv => kv.Value);
        using var model = NextStepModel.Load(Write(t));
        using var expected = TinyModel.Golden("fm.net.out");
        using var _ = no_grad();
        TensorAssert.Close(expected, model.Head.forward(TinyModel.Golden("fm.net.x"), TinyModel.Golden("fm.net.t"), TinyModel.Golden("fm.net.c")), atol: 0, rtol: 1e-5, what: "head after prefix stripping");
    }

    [Fact]
    public void ShardedCheckpointLoads()
    {
        var t = TinyTensors();
        var first = t.Where(kv => kv.Key.StartsWith("layers.")).ToDictionary();
        var second = t.Where(kv => !kv.Key.StartsWith("layers.")).ToDictionary();
        Write(first);
        File.Move(Path.Combine(_dir, "model.safetensors"), Path.Combine(_dir, "model-00001-of-00002.safetensors"));
        SafeTensorsWriter.Save(Path.Combine(_dir, "model-00002-of-00002.safetensors"), second);
        var map = first.Keys.ToDictionary(k => k, _ => "model-00001-of-00002.safetensors");
        foreach (var k in second.Keys) map[k] = "model-00002-of-00002.safetensors";
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { }, weight_map = map }));
        using var model = NextStepModel.Load(_dir);
        Assert.Equal(t.Count, model.named_parameters().Count() + model.named_buffers().Count());
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Bf16CheckpointLoadsExactlyIntoTheRequestedDtype(ScalarType dtype)
    {
        using var ck = SafeTensorsCheckpoint.Open(Fixtures.TinyModel);
        using var model = NextStepModel.Load(Fixtures.TinyModel, dtype);
        Assert.Equal(dtype, model.DType);
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.Equal(dtype, p.dtype);
            Assert.False(p.requires_grad);
            using var expected = ck.Load(name, ScalarType.Float32);
            using var actual = p.to_type(ScalarType.Float32);
            Assert.True(expected.eq(actual).all().item<bool>(), name);
        }
    }

    [Fact]
    public void Float32CheckpointIsCastToBf16PerTensor()
    {
        var t = TinyTensors().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float32) + 1e-3);
        using var model = NextStepModel.Load(Write(t), ScalarType.BFloat16);
        var p = model.named_parameters().First(x => x.name == "layers.0.mlp.down_proj.weight").parameter;
        using var expected = t["layers.0.mlp.down_proj.weight"].to_type(ScalarType.BFloat16);
        Assert.True(expected.eq(p).all().item<bool>());
    }

    [Fact]
    public void UnsupportedDtypeIsAnError()
        => Assert.Contains("Int32", Assert.Throws<NextStepException>(() => NextStepModel.Load(Fixtures.TinyModel, ScalarType.Int32)).Message);

    [Fact]
    public void TiedWordEmbeddingsUseEmbedTokensAndIgnoreAStoredLmHead()
    {
        using var model = NextStepModel.Load(Write(TinyTensors(), c => c["tie_word_embeddings"] = true));
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("lm_head"));
        using var _ = no_grad();
        using var h = TinyModel.Golden("backbone.step2.hidden");
        using var embed = TinyTensors()["embed_tokens.weight"].to_type(ScalarType.Float32);
        using var expected = matmul(h, embed.t());
        TensorAssert.Close(expected, model.Logits(h), atol: 1e-5, what: "tied logits");
    }
}

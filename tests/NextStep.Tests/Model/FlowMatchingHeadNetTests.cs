using NextStep.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Model;

public class FlowMatchingHeadNetTests
{
    [Fact]
    public void NetMatchesGolden()
    {
        var model = TinyModel.Float32;
        using var _ = no_grad();
        using var v = model.Head.forward(TinyModel.Golden("fm.net.x"), TinyModel.Golden("fm.net.t"), TinyModel.Golden("fm.net.c"));
        using var expected = TinyModel.Golden("fm.net.out");
        TensorAssert.Close(expected, v, atol: 0, rtol: 1e-5, what: "fm.net.out");
    }

    [Fact]
    public void HeadParameterNamesAreTheOfficialKeys()
    {
        var model = TinyModel.Float32;
        var names = model.named_parameters().Select(p => p.name).Where(n => n.StartsWith("image_head.")).ToHashSet();
        Assert.Contains("image_head.net.time_embed.mlp.0.weight", names);
        Assert.Contains("image_head.net.time_embed.mlp.2.bias", names);
        Assert.Contains("image_head.net.res_blocks.1.adaLN_modulation.1.weight", names);
        Assert.Contains("image_head.net.res_blocks.0.in_ln.weight", names);
        Assert.Contains("image_head.net.final_layer.adaLN_modulation.1.bias", names);
        Assert.Contains("image_head.net.final_layer.linear.weight", names);
        Assert.Equal(2 + 2 + 2 + 2 + 2 * 8 + 4, names.Count);
    }
}

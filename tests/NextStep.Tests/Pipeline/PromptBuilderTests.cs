using NextStep.Config;
using NextStep.Pipeline;
using NextStep.Tests.Support;
using NextStep.Tokenization;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Pipeline;

/// <summary>Prompt rows and generation prefix of every golden pipeline case: ids and attention mask exactly equal.</summary>
public class PromptBuilderTests
{
    public static IEnumerable<object[]> Cases() => GoldenCase.All();

    [Theory]
    [MemberData(nameof(Cases))]
    public void PromptIdsAndMaskMatch(string folder, string name)
    {
        var golden = GoldenCase.Get(folder, name);
        var tokenizer = Qwen2Tokenizer.Load(golden.TokenizerFolder ?? Fixtures.TinyModel);
        var config = NextStepConfig.Load(Path.Combine(Fixtures.TinyModel, "config.json"));
        var builder = new PromptBuilder(tokenizer, config.Boi, config.Eoi, config.ImagePlaceholderId, 16, golden.Request.Variant!.Value);
        var tokens = builder.Tokenize(builder.BuildRows(golden.Request), golden.Request.Height, golden.Request.Width);
        AssertIds(golden, "input_ids", tokens.InputIds);
        AssertIds(golden, "attention_mask", tokens.AttentionMask);
    }

    [Fact]
    public void ImageStringIsAreaThenBoiPlaceholdersEoi()
    {
        var tokenizer = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var builder = new PromptBuilder(tokenizer, 1048, 1049, 1050, 16, PipelineVariant.GitHub2025);
        Assert.Equal("<|image_area|>1*2<|begin_of_image|><|image_placeholder|><|image_placeholder|><|end_of_image|>", builder.ImageString(16, 32));
    }

    [Fact]
    public void RowsAreBlockMajorWithImagesRepeatedThenDuplicated()
    {
        var tokenizer = Qwen2Tokenizer.Load(Fixtures.TinyModel);
        var builder = new PromptBuilder(tokenizer, 1048, 1049, 1050, 16, PipelineVariant.GitHub2025);
        var img = new NextStep.Imaging.RgbImage(16, 16, new byte[16 * 16 * 3]);
        var rows = builder.BuildRows(new GenerationRequest
        {
            Captions = ["<image>a", "<image>b"], Images = [img, img], NumImagesPerCaption = 2,
            PositivePrompt = "good", NegativePrompt = "bad", Cfg = 3, CfgImg = 2,
        });
        var image = builder.ImageString(16, 16);
        Assert.Equal(3, rows.Blocks);
        Assert.Equal(4, rows.Batch);
        Assert.Equal([image + "a good", image + "a good", image + "b good", image + "b good",
            image + "bad", image + "bad", image + "bad", image + "bad", "bad", "bad", "bad", "bad"], rows.Texts);
        Assert.Equal([0, 0, 1, 1, 0, 0, 1, 1], rows.ImageOrder);
    }

    internal static void AssertIds(GoldenCase golden, string what, long[,] actual)
    {
        using var expected = Fixtures.Tensor(golden.GoldenFile, golden.Key(what));
        using var a = torch.tensor(actual);
        Assert.Equal(expected.shape, a.shape);
        Assert.True(expected.to(ScalarType.Int64).eq(a).all().item<bool>(), $"{golden} {what}: expected {Format(expected)}\n  actual {Format(a)}");
    }

    private static string Format(Tensor t) => string.Join(" | ", Enumerable.Range(0, (int)t.shape[0]).Select(r => string.Join(",", t[r].to(ScalarType.Int64).data<long>().ToArray())));
}

using NextStep.Tests.Support;
using NextStep.Tokenization;
using NextStep.Training;
using Xunit;

namespace NextStep.Tests.Training;

/// <summary>Sequences, labels and packing rebuilt from the shard records against the official MixedDataset batches.</summary>
public class BatchingTests
{
    private static readonly Lazy<Qwen2Tokenizer> Tokenizer = new(() => Qwen2Tokenizer.Load(Fixtures.TinyModel));
    private static SequenceBuilder Builder() => new(Tokenizer.Value, 1048, 1049, 1050);

    public static TheoryData<string> Cases => new() { "t2i", "t2i_droptext", "edit", "t2i_wide" };

    [Fact]
    public void PythonRandomAndMakeSeedReproduceTheRecordedDropTextDraws()
    {
        int checkedDraws = 0;
        foreach (var c in TrainingGoldens.Cases.GetProperty("cases").EnumerateArray())
            foreach (var s in c.GetProperty("samples_in_batch_order").EnumerateArray())
                if (s.TryGetProperty("drop_text_draw", out var draw))
                {
                    long index = s.GetProperty("index").GetInt64();
                    Assert.Equal(draw.GetDouble(), new PyRandom(PyRandom.MakeSeed(42, index)).Random());
                    checkedDraws++;
                }
        Assert.True(checkedDraws >= 8);
    }

    [Fact]
    public void AspectPrefixesMatchTheRecordedTable()
    {
        var builder = Builder();
        foreach (var kv in TrainingGoldens.Cases.GetProperty("settings").GetProperty("hw_aspect_ratios_ids").EnumerateObject())
        {
            var hw = kv.Name.Split('*').Select(int.Parse).ToArray();
            Assert.Equal(kv.Value.EnumerateArray().Select(e => e.GetInt32()), builder.Prefix(new TokenGrid(hw[0], hw[1])));
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void PackedBatchEqualsTheOfficialBatch(string c)
    {
        var info = TrainingGoldens.Case(c);
        var px = info.GetProperty("image_hw_px").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var grid = new TokenGrid(px[0] / 16, px[1] / 16);
        double dropText = info.GetProperty("dataset").GetProperty("drop_text_prob").GetDouble();
        bool editing = info.GetProperty("dataset").GetProperty("data_type").GetString() == "image_editing";
        var builder = Builder();
        var packer = new BatchPacker<string>(info.GetProperty("seq_len").GetInt32(), info.GetProperty("batch_size").GetInt32(), Tokenizer.Value.PadTokenId);
        var batches = new List<PackedBatch<string>>();
        foreach (var s in info.GetProperty("samples_in_batch_order").EnumerateArray())
        {
            string caption = s.GetProperty("caption").GetString()!;
            long index = s.GetProperty("index").GetInt64();
            TokenizedSample<string> sample;
            if (editing)
            {
                int tags = System.Text.RegularExpressions.Regex.Matches(caption, @"<image_\d+>").Count;
                var images = Enumerable.Range(0, tags).Select(i => $"{index}-{i}").ToList();
                sample = builder.Interleaved(caption, images, Enumerable.Repeat(grid, tags).ToList(), lastImageOnly: true);
            }
            else
            {
                bool imageFirst = SequenceBuilder.ImageFirst(42, index, dropText);
                Assert.Equal(s.GetProperty("order").GetString() == "image_then_caption", imageFirst);
                sample = builder.TextToImage(caption, $"{index}", grid, imageFirst);
            }
            batches.AddRange(packer.Add(sample));
        }
        batches.AddRange(packer.Flush());
        var batch = Assert.Single(batches);
        Assert.Equal(grid.Key, batch.Bucket);
        Assert.Equal(info.GetProperty("waste_token_num").GetInt32(), batch.PadTokens);
        Assert.Equal(Flat($"{c}.input_ids"), batch.InputIds.SelectMany(r => r));
        Assert.Equal(Flat($"{c}.labels"), batch.Labels.SelectMany(r => r));
        Assert.All(Flat($"{c}.attention_mask"), v => Assert.Equal(1, v));
        Assert.Equal(Flat($"{c}.image_filtered_idx").Select(v => v != 0), batch.ImageFilteredIdx);
        using var mask = TrainingGoldens.Tensor($"{c}.image_token_mask");
        Assert.Equal(mask.data<byte>().Select(v => v != 0), batch.InputIds.SelectMany(r => r).Select(id => id == 1050));
    }

    [Fact]
    public void OverlongSampleIsRefusedWithItsLength()
    {
        var builder = Builder();
        var packer = new BatchPacker<string>(20, 1, 1046);
        var sample = builder.TextToImage("a red circle", "x", new TokenGrid(4, 4), false);
        var e = Assert.Throws<NextStepException>(() => packer.Add(sample));
        Assert.Contains("row length 20", e.Message);
    }

    private static int[] Flat(string key)
    {
        using var t = TrainingGoldens.Tensor(key);
        return t.data<int>().ToArray();
    }
}

public class CaptionAugmentTests
{
    [Theory]
    [InlineData("A Rocket on the launch pad", "A rocket on the launch pad")]
    [InlineData("the surface of the Moon", "The surface of the moon")]
    [InlineData("", "")]
    public void CapitalizeIsPythons(string input, string expected) => Assert.Equal(expected, CaptionAugment.Capitalize(input));

    [Fact]
    public void HalfOfTheCaptionsAreCapitalizedAndTheChoiceIsSeeded()
    {
        int changed = Enumerable.Range(0, 400).Count(i => CaptionAugment.Apply("a Red circle", 42, 0, i, 0.5) == "A red circle");
        Assert.InRange(changed, 160, 240);
        Assert.Equal(CaptionAugment.Apply("a Red circle", 42, 3, 17, 0.5), CaptionAugment.Apply("a Red circle", 42, 3, 17, 0.5));
        Assert.Equal("a Red circle", CaptionAugment.Apply("a Red circle", 42, 3, 17, 0.0));
    }
}

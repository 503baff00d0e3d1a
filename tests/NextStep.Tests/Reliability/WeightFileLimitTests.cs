using System.Text;
using NextStep.Loading;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>
/// The limits of the safetensors reader on hand-made hostile headers: header size, tensor count, rank, shape product,
/// byte ranges (overlap, gaps, past the end, trailing data) — each refused before any tensor memory is allocated.
/// </summary>
public sealed class WeightFileLimitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-limits-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A safetensors file with this header text (padded to 8 bytes) followed by <paramref name="dataBytes"/> bytes.</summary>
    private string File(string header, long dataBytes, ulong? declaredHeaderLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var padded = h.Concat(Enumerable.Repeat((byte)' ', (8 - h.Length % 8) % 8)).ToArray();
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.safetensors");
        using var fs = System.IO.File.Create(path);
        fs.Write(BitConverter.GetBytes(declaredHeaderLength ?? (ulong)padded.Length));
        fs.Write(padded);
        fs.SetLength(fs.Length + dataBytes);
        return path;
    }

    private static void Refused(string path, string expected, SafeTensorsLimits? limits = null)
    {
        var e = Assert.Throws<NextStepException>(() => SafeTensorsFile.Open(path, limits).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\": {{\"dtype\": \"{dtype}\", \"shape\": {shape}, \"data_offsets\": [{begin}, {end}]}}";

    [Fact]
    public void HeaderLengthIsBoundedByTheLimitAndTheFile()
    {
        Refused(File("{}", 0, declaredHeaderLength: ulong.MaxValue), "header length 18446744073709551615 exceeds the limit of 100000000 bytes");
        Refused(File("{}", 0, declaredHeaderLength: 1000), "header length 1000 does not fit the file of 16 bytes");
        Refused(File("{" + Entry("w", "F32", "[1]", 0, 4) + "}", 4), "exceeds the limit of 16 bytes", new SafeTensorsLimits { MaxHeaderBytes = 16 });
        var tiny = Path.Combine(_dir, "tiny.safetensors");
        System.IO.File.WriteAllBytes(tiny, [1, 2, 3]);
        Refused(tiny, "not a safetensors file (3 bytes");
    }

    [Fact]
    public void TensorCountAndRankAreLimited()
    {
        var entries = Enumerable.Range(0, 5).Select(i => Entry($"t{i}", "U8", "[1]", i, i + 1));
        Refused(File("{" + string.Join(", ", entries) + "}", 5), "more than 4 tensors", new SafeTensorsLimits { MaxTensors = 4 });
        Refused(File("{" + Entry("w", "U8", "[" + string.Join(",", Enumerable.Repeat(1, 17)) + "]", 0, 1) + "}", 1), "rank 17 exceeds 16");
        Refused(File("{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": {\"f\": {\"g\": {\"h\": {}}}}}}}}}", 0), "not valid JSON");
    }

    [Theory]
    [InlineData("[4294967296, 4294967296]", "U8", "overflows")]             // element count over 2^63
    [InlineData("[4611686018427387904]", "F32", "overflows")]              // 2^62 elements × 4 bytes
    [InlineData("[-1]", "F32", "shape entries must be non-negative integers")]
    [InlineData("[1.5]", "F32", "shape entries must be non-negative integers")]
    [InlineData("[1000000]", "F32", "data_offsets span 4 bytes but F32[1000000] needs 4000000")]
    public void ShapeProductsAreCheckedAgainstTheByteRange(string shape, string dtype, string expected) =>
        Refused(File("{" + Entry("w", dtype, shape, 0, 4) + "}", 4), expected);

    [Theory]
    [InlineData(0, 8, 4, 12, 12, "overlapping tensor ranges")]
    [InlineData(0, 8, 12, 20, 20, "gap between tensor ranges")]
    [InlineData(0, 8, 8, 16, 12, "truncated file")]
    [InlineData(0, 8, 8, 16, 24, "trailing bytes")]
    [InlineData(8, 16, 0, 8, 12, "truncated file")]
    public void ByteRangesMustTileTheDataExactly(long b1, long e1, long b2, long e2, long fileData, string expected) =>
        Refused(File("{" + Entry("a", "F32", "[2]", b1, e1) + ", " + Entry("b", "F32", "[2]", b2, e2) + "}", fileData), expected);

    [Theory]
    [InlineData("[-4, 0]", "must be non-negative integers with begin ≤ end")]
    [InlineData("[8, 4]", "must be non-negative integers with begin ≤ end")]
    [InlineData("[0, 9223372036854775808]", "must be non-negative integers with begin ≤ end")]
    [InlineData("[0]", "missing \"data_offsets\" [begin, end]")]
    public void OffsetsMustBeAnOrderedPair(string offsets, string expected) =>
        Refused(File("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": " + offsets + "}}", 4), expected);

    [Fact]
    public void DuplicateNamesUnknownDtypesAndBadMetadataAreRefused()
    {
        Refused(File("{" + Entry("w", "F32", "[1]", 0, 4) + ", " + Entry("w", "F32", "[1]", 4, 8) + "}", 8), "tensor \"w\" appears twice");
        Refused(File("{" + Entry("w", "F8_E4M3", "[1]", 0, 1) + "}", 1), "dtype \"F8_E4M3\" is not supported");
        Refused(File("{\"__metadata__\": {\"format\": 1}}", 0), "__metadata__ value \"format\" must be a string");
        Refused(File("[1, 2]", 0), "header must be a JSON object");
        var invalid = File("{}", 0);
        var bytes = System.IO.File.ReadAllBytes(invalid);
        bytes[8] = 0xFF;
        System.IO.File.WriteAllBytes(invalid, bytes);
        Refused(invalid, "header is not valid UTF-8");
    }

    [Fact]
    public void AValidFileStillLoads()
    {
        using var f = SafeTensorsFile.Open(File("{" + Entry("a", "F32", "[2]", 0, 8) + ", " + Entry("e", "F32", "[0, 3]", 8, 8) + "}", 8));
        Assert.Equal(2, f.Tensors.Count);
        using var a = f.Load("a");
        Assert.Equal(new float[] { 0, 0 }, a.data<float>().ToArray());
    }

    [Theory]
    [InlineData("../model-00001-of-00002.safetensors", "leaves the model folder")]
    [InlineData("/etc/passwd", "leaves the model folder")]
    [InlineData("", "leaves the model folder")]
    [InlineData("sub/../../x.safetensors", "leaves the model folder")]
    [InlineData("absent.safetensors", "shard absent.safetensors is missing")]
    [InlineData("model-00002-of-00002.safetensors", "the index lists")]
    public void ShardNamesStayInsideTheFolderAndMatchTheShards(string shard, string expected)
    {
        var folder = Path.Combine(_dir, "sharded");
        var index = CheckpointMutationTests.ShardedCopyOfTinyModel(folder);
        var json = System.Text.Json.Nodes.JsonNode.Parse(System.IO.File.ReadAllText(index))!;
        var map = json["weight_map"]!.AsObject();
        var first = map.First(kv => kv.Value!.GetValue<string>().StartsWith("model-00001", StringComparison.Ordinal)).Key;
        map[first] = shard;
        System.IO.File.WriteAllText(index, json.ToJsonString());
        var e = Assert.Throws<NextStepException>(() => SafeTensorsCheckpoint.Open(folder).Dispose());
        Assert.Contains(expected, e.Message);
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using NextStep.Loading;
using NextStep.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NextStep.Tests.Loading;

/// <summary>Reading torch.save zip checkpoints: the fixture, hand-built files, and hostile files that must be refused.</summary>
public sealed class PickleCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-pickle-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private string File(string name) => System.IO.Path.Combine(_dir, name);

    private string Checkpoint(byte[] pickle, params (string, byte[])[] storages)
    {
        var p = File($"ck{Guid.NewGuid():N}.pt");
        TorchZip.Write(p, pickle, storages);
        return p;
    }

    private static NextStepException Refused(string path, string expected, TorchZipLimits? limits = null)
    {
        var e = Assert.Throws<NextStepException>(() => TorchZipCheckpoint.Load(path, limits).Dispose());
        Assert.Contains(expected, e.Message);
        return e;
    }

    [Fact]
    public void FixtureCheckpointLoadsAsPlainFloat32StateDict()
    {
        using var ck = TorchZipCheckpoint.Load(Fixtures.Path("tiny", "model", "vae", "checkpoint.pt"));
        Assert.Equal(176, ck.Tensors.Count);
        Assert.False(ck.WasNested);
        Assert.Empty(ck.SkippedKeys);
        Assert.All(ck.Tensors.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        Assert.Equal(1_049_603L, ck.Tensors.Values.Sum(t => t.numel()));
        Assert.Equal(new long[] { 32, 3, 3, 3 }, ck.Tensors["encoder.conv_in.weight"].shape);
        Assert.Equal(new long[] { 3, 32, 3, 3 }, ck.Tensors["decoder.conv_out.weight"].shape);
    }

    [Fact]
    public void DeflatedRepackOfTheFixtureLoadsTheSameTensors()
    {
        var fixture = Fixtures.Path("tiny", "model", "vae", "checkpoint.pt");
        var repacked = File("deflated.pt");
        using (var src = ZipFile.OpenRead(fixture))
            TorchZip.WriteEntries(repacked, src.Entries.Select(e =>
            {
                using var s = e.Open();
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                return (e.FullName, ms.ToArray());
            }).ToList(), CompressionLevel.Optimal);
        using var stored = TorchZipCheckpoint.Load(fixture);
        using var deflated = TorchZipCheckpoint.Load(repacked);
        Assert.Equal(stored.Tensors.Keys.Order(), deflated.Tensors.Keys.Order());
        Assert.All(stored.Tensors, kv => Assert.True(kv.Value.eq(deflated.Tensors[kv.Key]).all().item<bool>(), kv.Key));
    }

    [Fact]
    public void StridedViewsDtypesAndNestedStateDict()
    {
        var w = new PickleWriter().Proto().EmptyDict().Mark().Str("epoch").Int(3).Str("state_dict")
            .Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark()
            .Str("t").Tensor("FloatStorage", "0", 6, 1, [2, 2], [1, 2])       // transposed view at offset 1
            .Str("h").Tensor("BFloat16Storage", "1", 2, 0, [2], [1])
            .Str("i").Tensor("LongStorage", "2", 1, 0, [], [])                // a scalar
            .Str("e").Tensor("FloatStorage", "0", 6, 6, [0, 3], [3, 1])       // empty, offset at the end
            .SetItems().SetItems().Stop();
        var path = Checkpoint(w.Bytes, ("0", TorchZip.Floats(0, 1, 2, 3, 4, 5)), ("1", [0x80, 0x3f, 0x00, 0xc0]), ("2", BitConverter.GetBytes(-7L)));
        using var ck = TorchZipCheckpoint.Load(path);
        Assert.True(ck.WasNested);
        Assert.Equal(["epoch"], ck.SkippedKeys);
        Assert.Equal(new float[] { 1, 3, 2, 4 }, ck.Tensors["t"].contiguous().data<float>().ToArray());
        Assert.Equal(ScalarType.BFloat16, ck.Tensors["h"].dtype);
        Assert.Equal(new float[] { 1, -2 }, ck.Tensors["h"].to_type(ScalarType.Float32).data<float>().ToArray());
        Assert.Equal(-7L, ck.Tensors["i"].item<long>());
        Assert.Equal(new long[] { 0, 3 }, ck.Tensors["e"].shape);
    }

    [Fact]
    public void Protocol4OpcodesAreUnderstood()
    {
        // STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE, FRAME, TUPLE2/TUPLE3, BINGET as protocols 4 and 5 write them.
        var w = new PickleWriter().Proto(4).Frame(10)
            .StackGlobal("collections", "OrderedDict").EmptyTuple().Reduce().Memoize().Mark()     // memo 0..2, dict = 3
            .ShortStr("w").Memoize()                                                                // 4
            .StackGlobal("torch._utils", "_rebuild_tensor_v2")                                     // 5..7
            .Mark().Mark().ShortStr("storage").StackGlobal("torch", "FloatStorage").ShortStr("0").ShortStr("cpu").Int(4).Tuple().PersId()
            .Int(0).Int(2).Int(2).Op(0x86).Int(2).Int(1).Op(0x86).False().BinGet(2).EmptyTuple().Reduce().Tuple().Reduce()
            .ShortStr("v").Int(1).Int(2).Int(3).Op(0x87)
            .SetItems().Stop();
        using var ck = TorchZipCheckpoint.Load(Checkpoint(w.Bytes, ("0", TorchZip.Floats(1, 2, 3, 4))));
        Assert.Equal(["v"], ck.SkippedKeys);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, ck.Tensors["w"].data<float>().ToArray());
        Assert.Equal(new long[] { 2, 2 }, ck.Tensors["w"].shape);
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("posix", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("builtins", "exec")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]
    [InlineData("torch._utils", "_rebuild_qtensor")]
    public void DangerousGlobalsAreRefusedBeforeAnythingRuns(string module, string name)
    {
        var marker = File("pwned");
        var w = new PickleWriter().Proto().Global(module, name).Mark().Str($"touch {marker}").Tuple().Reduce().Stop();
        var path = Checkpoint(w.Bytes);
        Refused(path, $"refusing global {module}.{name} in {path} (archive/data.pkl)");
        Assert.False(System.IO.File.Exists(marker));
    }

    [Fact]
    public void StackGlobalIsCheckedLikeGlobal()
    {
        var w = new PickleWriter().Proto(4).Str("os").Str("system").Op(0x93).Stop();
        Refused(Checkpoint(w.Bytes), "refusing global os.system");
    }

    [Fact]
    public void CallingAnAllowedNonCallableIsRefused()
    {
        // torch.FloatStorage(...) is allowed as a name but must not be constructed by REDUCE.
        var w = new PickleWriter().Proto().Global("torch", "FloatStorage").Mark().Int(10).Tuple().Reduce().Stop();
        Refused(Checkpoint(w.Bytes), "refusing a call of StorageType");
    }

    [Fact]
    public void NestedReduceOfAResultIsRefused()
    {
        // OrderedDict()() : the callable is the result of an earlier REDUCE.
        var w = new PickleWriter().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce().EmptyTuple().Reduce().Stop();
        Refused(Checkpoint(w.Bytes), "refusing a call of dict of 0");
    }

    [Fact]
    public void RebuildFromANonStorageIsRefused()
    {
        var w = new PickleWriter().Proto().Global("torch._utils", "_rebuild_tensor_v2").Mark()
            .Global("collections", "OrderedDict").EmptyTuple().Reduce().Int(0).Ints(1).Ints(1).False().EmptyDict().Tuple().Reduce().Stop();
        Refused(Checkpoint(w.Bytes), "refusing rebuilding a tensor from dict");
    }

    [Fact]
    public void BuildOnATensorIsRefused()
    {
        var w = new PickleWriter().Proto().Tensor("FloatStorage", "0", 1, 0, [1], [1]).EmptyDict().Build().Stop();
        Refused(Checkpoint(w.Bytes, ("0", TorchZip.Floats(1))), "refusing BUILD on Tensor");
    }

    [Fact]
    public void HugeOrMissingMemoIndicesAreRefused()
    {
        Refused(Checkpoint(new PickleWriter().Proto().Int(1).Put(0xFFFFFFFF).Stop().Bytes), "memo index 4294967295 exceeds the limit");
        Refused(Checkpoint(new PickleWriter().Proto().Get(5).Stop().Bytes), "memo index 5 was never stored");
    }

    [Fact]
    public void StackAndStringLimitsHold()
    {
        var deep = new PickleWriter().Proto();
        for (int i = 0; i < 5000; i++) deep.Mark();
        Refused(Checkpoint(deep.Stop().Bytes), "nested marks");
        var longString = new PickleWriter().Proto().Op((byte)'X').Raw(BitConverter.GetBytes(int.MaxValue)).Stop();
        Refused(Checkpoint(longString.Bytes), "exceeds the limit of");
        Refused(Checkpoint(new PickleWriter().Proto().Str("x").Bytes), "pickle data ends early");
        Refused(Checkpoint(new PickleWriter().Proto().Op(0x8a).Raw(9).Raw(new byte[9]).Stop().Bytes), "at most 8 supported");
        Refused(Checkpoint(new PickleWriter().Proto().Op((byte)'i').Bytes), "refusing to instantiate classes");
    }

    [Fact]
    public void StorageBoundsAreChecked()
    {
        var floats = ("0", TorchZip.Floats(0, 1, 2, 3));
        string Ck(long offset, long[] size, long[] stride, long numel = 4) =>
            Checkpoint(new PickleWriter().BeginStateDict().Str("w").Tensor("FloatStorage", "0", numel, offset, size, stride).EndStateDict().Bytes, floats);
        Refused(Ck(3, [2], [1]), "reaches element 4 of a FloatStorage of 4 elements");
        Refused(Ck(0, [2, 2], [2, 2]), "reaches element 4");
        Refused(Ck(5, [0], [1]), "reaches element");
        Refused(Ck(0, [1L << 62, 4], [1, 1L << 62]), "overflows");
        Refused(Ck(0, [2], [1], numel: 8), "should hold 8 × FloatStorage = 32 bytes but its zip entry holds 16");
        Refused(Ck(0, [2], [1], numel: 1L << 62), "overflows");
        var badKey = new PickleWriter().BeginStateDict().Str("w").Tensor("FloatStorage", "../0", 4, 0, [4], [1]).EndStateDict();
        Refused(Checkpoint(badKey.Bytes, floats), "storage key \"../0\" is not allowed");
        var missing = new PickleWriter().BeginStateDict().Str("w").Tensor("FloatStorage", "9", 4, 0, [4], [1]).EndStateDict();
        Refused(Checkpoint(missing.Bytes, floats), "zip entry \"archive/data/9\" is missing");
        var three = new PickleWriter().BeginStateDict();
        foreach (var name in new[] { "a", "b", "c" }) three.Str(name).Tensor("FloatStorage", "0", 4, 0, [4], [1]);
        Refused(Checkpoint(three.EndStateDict().Bytes, floats), "more than 2 tensors", new TorchZipLimits { MaxTensors = 2 });
    }

    [Theory]
    [InlineData("archive/../evil")]
    [InlineData("/archive/data/0")]
    [InlineData("archive/data/../../x")]
    [InlineData("archive\\data\\0")]
    [InlineData("C:/archive/x")]
    [InlineData("other/data/0")]
    public void SuspiciousEntryNamesAreRefused(string name)
    {
        var path = File("names.pt");
        TorchZip.WriteEntries(path, [("archive/data.pkl", new PickleWriter().BeginStateDict().EndStateDict().Bytes), (name, [1, 2, 3, 4])]);
        Refused(path, "is not allowed");
    }

    [Fact]
    public void ZipBombsAreRefusedFromDeclaredSizes()
    {
        var path = File("bomb.pt");
        var pickle = new PickleWriter().BeginStateDict().Str("w").Tensor("ByteStorage", "0", 8 << 20, 0, [8 << 20], [1]).EndStateDict().Bytes;
        TorchZip.WriteEntries(path, [("archive/data.pkl", pickle), ("archive/data/0", new byte[8 << 20])], CompressionLevel.SmallestSize);
        Refused(path, "refusing a possible zip bomb");
        Refused(path, "over the limit of 1048576", new TorchZipLimits { MaxEntryBytes = 1 << 20 });
        Refused(path, "in total", new TorchZipLimits { MaxTotalBytes = 4 << 20, MaxCompressionRatio = long.MaxValue });
    }

    [Theory]
    [InlineData(4, 8, "more data than its declared 16 bytes")]
    [InlineData(16, 4, "ends after 16 of its declared 64 bytes")]
    public void ActualSizeMustMatchDeclaredSize(int declaredFloats, int actualFloats, string expected)
    {
        var path = File("sizes.pt");
        var pickle = new PickleWriter().BeginStateDict().Str("w").Tensor("FloatStorage", "0", declaredFloats, 0, [declaredFloats], [1]).EndStateDict().Bytes;
        TorchZip.WriteEntries(path, [("archive/data.pkl", pickle), ("archive/data/0", TorchZip.Floats(new float[actualFloats]))], CompressionLevel.Optimal);
        PatchUncompressedSize(path, "archive/data/0", (uint)declaredFloats * 4);
        Refused(path, expected);
    }

    [Fact]
    public void TruncatedLegacyAndForeignFilesAreRefused()
    {
        var fixture = System.IO.File.ReadAllBytes(Fixtures.Path("tiny", "model", "vae", "checkpoint.pt"));
        var truncated = File("truncated.pt");
        System.IO.File.WriteAllBytes(truncated, fixture[..(fixture.Length / 2)]);
        Refused(truncated, "corrupt or truncated zip archive");
        var text = File("text.pt");
        System.IO.File.WriteAllText(text, "hello, not a checkpoint");
        Refused(text, "not a PyTorch zip checkpoint");
        var legacy = File("legacy.pt");
        System.IO.File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]);
        Refused(legacy, "legacy (pre-1.6) torch.save file");
        var empty = File("empty.pt");
        System.IO.File.WriteAllBytes(empty, []);
        Refused(empty, "not a PyTorch zip checkpoint");
        Refused(File("absent.pt"), "file not found");
        var noPickle = File("nopickle.pt");
        TorchZip.WriteEntries(noPickle, [("archive/version", "3"u8.ToArray())]);
        Refused(noPickle, "no \"archive/data.pkl\" entry");
        var bigEndian = File("big.pt");
        TorchZip.WriteEntries(bigEndian, [("archive/data.pkl", new PickleWriter().BeginStateDict().EndStateDict().Bytes), ("archive/byteorder", "big"u8.ToArray())]);
        Refused(bigEndian, "byteorder \"big\" is not supported");
    }

    [Fact]
    public void MutatedPicklesFailOnlyWithNextStepException()
    {
        var pickle = new PickleWriter().BeginStateDict()
            .Str("a").Tensor("FloatStorage", "0", 4, 0, [2, 2], [2, 1]).Put(1)
            .Str("b").Tensor("BFloat16Storage", "1", 2, 1, [1], [1]).Put(2)
            .Str("c").Get(1).EndStateDict().Bytes;
        var storages = new[] { ("0", TorchZip.Floats(1, 2, 3, 4)), ("1", new byte[4]) };
        var rng = new Random(1234);
        var path = File("mutated.pt");
        int loaded = 0;
        for (int i = 0; i < 300; i++)
        {
            var mutated = (byte[])pickle.Clone();
            for (int m = rng.Next(1, 4); m > 0; m--) mutated[rng.Next(mutated.Length)] = (byte)rng.Next(256);
            TorchZip.Write(path, i % 10 == 0 ? mutated[..rng.Next(mutated.Length)] : mutated, storages);
            try { TorchZipCheckpoint.Load(path).Dispose(); loaded++; }
            catch (NextStepException) { }
        }
        Assert.InRange(loaded, 0, 299);
    }

    [Fact]
    public void MutatedZipArchivesFailOnlyWithNextStepException()
    {
        var pickle = new PickleWriter().BeginStateDict().Str("a").Tensor("FloatStorage", "0", 4, 0, [4], [1]).EndStateDict().Bytes;
        var source = File("source.pt");
        TorchZip.WriteEntries(source, [("archive/data.pkl", pickle), ("archive/data/0", TorchZip.Floats(1, 2, 3, 4)), ("archive/data/1", new byte[4096])], CompressionLevel.Optimal);
        var zip = System.IO.File.ReadAllBytes(source);
        var rng = new Random(4321);
        var path = File("mutated.zip");
        for (int i = 0; i < 300; i++)
        {
            var mutated = (byte[])zip.Clone();
            for (int m = rng.Next(1, 4); m > 0; m--) mutated[rng.Next(mutated.Length)] = (byte)rng.Next(256);
            System.IO.File.WriteAllBytes(path, mutated);
            try { TorchZipCheckpoint.Load(path).Dispose(); }
            catch (NextStepException) { }
        }
    }

    [Fact]
    public void TopLevelMustBeAStateDict()
    {
        Refused(Checkpoint(new PickleWriter().Proto().Int(5).Stop().Bytes), "expected a state dict at the top level, found Int64");
        var nestedList = new PickleWriter().Proto().EmptyDict().Str("state_dict").Op((byte)']').Op((byte)'s').Stop();
        Refused(Checkpoint(nestedList.Bytes), "\"state_dict\" holds list of 0");
    }

    /// <summary>Rewrites the uncompressed-size field of one entry in both the local and the central header.</summary>
    private static void PatchUncompressedSize(string path, string name, uint size)
    {
        var bytes = System.IO.File.ReadAllBytes(path);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        for (int i = 0; i + 46 < bytes.Length; i++)
        {
            uint sig = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i));
            if (sig == 0x04034b50 && bytes.AsSpan(i + 30, nameBytes.Length).SequenceEqual(nameBytes))
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i + 22), size);
            if (sig == 0x02014b50 && bytes.AsSpan(i + 46, nameBytes.Length).SequenceEqual(nameBytes))
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i + 24), size);
        }
        System.IO.File.WriteAllBytes(path, bytes);
    }
}

using NextStep.Loading;
using NextStep.Tests.Loading;
using Xunit;

namespace NextStep.Tests.Reliability;

/// <summary>
/// Hostile torch checkpoints beyond the reader's own tests (Loading/PickleCheckpointTests): more code-execution
/// globals, self-referencing containers, the memo/stack/pickle-size limits, and storage type confusion. Every one
/// is refused with a message naming the checkpoint, nothing runs, and no memory is allocated from a claimed size.
/// </summary>
public sealed class HostilePickleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nextstep-hostile-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private string Checkpoint(byte[] pickle, params (string, byte[])[] storages)
    {
        var p = Path.Combine(_dir, $"ck{Guid.NewGuid():N}.pt");
        TorchZip.Write(p, pickle, storages);
        return p;
    }

    private static void Refused(string path, string expected, TorchZipLimits? limits = null)
    {
        var e = Assert.Throws<NextStepException>(() => TorchZipCheckpoint.Load(path, limits).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData("builtins", "getattr")]
    [InlineData("builtins", "__import__")]
    [InlineData("__builtin__", "eval")]
    [InlineData("_codecs", "encode")]
    [InlineData("numpy.core.multiarray", "_reconstruct")]
    [InlineData("functools", "partial")]
    [InlineData("operator", "attrgetter")]
    [InlineData("runpy", "_run_code")]
    [InlineData("torch.serialization", "_load")]
    [InlineData("collections", "defaultdict")]
    public void CodeReachingGlobalsAreRefused(string module, string name)
    {
        // getattr(__import__('os'), 'system')('touch marker'): refused at the first global, before any call.
        var marker = Path.Combine(_dir, "pwned");
        var w = new PickleWriter().Proto().Global(module, name)
            .Mark().Global("builtins", "__import__").Mark().Str("os").Tuple().Reduce().Str("system").Tuple().Reduce()
            .Mark().Str($"touch {marker}").Tuple().Reduce().Stop();
        Refused(Checkpoint(w.Bytes), $"refusing global {module}.{name}");
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void GlobalNamesMustEndWithinTheLineLimit()
    {
        var w = new PickleWriter().Proto().Op((byte)'c').Raw(Enumerable.Repeat((byte)'a', 5000).ToArray()).Stop();
        Refused(Checkpoint(w.Bytes), "GLOBAL name is not terminated within 1024 bytes");
    }

    [Fact]
    public void ASelfReferencingStateDictIsSkippedNotFollowed()
    {
        // d = {}; d["state_dict"] = d — the loader looks one level down and never recurses.
        var w = new PickleWriter().Proto().EmptyDict().Put(0).Str("state_dict").Get(0).Op((byte)'s').Stop();
        using var ck = TorchZipCheckpoint.Load(Checkpoint(w.Bytes));
        Assert.True(ck.WasNested);
        Assert.Empty(ck.Tensors);
        Assert.Equal(["state_dict"], ck.SkippedKeys);
    }

    [Fact]
    public void ASelfContainingListIsNotAStateDict()
    {
        var w = new PickleWriter().Proto().Op((byte)']').Op((byte)'2').Op((byte)'a').Stop();
        Refused(Checkpoint(w.Bytes), "expected a state dict at the top level, found list of 1");
    }

    [Fact]
    public void MemoStackAndPickleSizeLimitsHold()
    {
        var limits = new TorchZipLimits { Pickle = new PickleLimits { MaxMemoEntries = 100, MaxStackItems = 50, MaxPickleBytes = 4096 } };
        var memo = new PickleWriter().Proto().Int(1);
        for (int i = 0; i < 101; i++) memo.Memoize();
        Refused(Checkpoint(memo.Stop().Bytes), "memo index 100 exceeds the limit of 100 entries", limits);
        var stack = new PickleWriter().Proto();
        for (int i = 0; i < 51; i++) stack.Int(i);
        Refused(Checkpoint(stack.Stop().Bytes), "more than 50 items on the pickle stack", limits);
        Refused(Checkpoint(new byte[5000]), "is 5000 bytes, over the limit of 4096", limits);
    }

    [Fact]
    public void OneStorageCannotBeReadAsTwoTypesOrSizes()
    {
        var floats = ("0", TorchZip.Floats(1, 2, 3, 4));
        var retyped = new PickleWriter().BeginStateDict()
            .Str("a").Tensor("FloatStorage", "0", 4, 0, [4], [1])
            .Str("b").Tensor("IntStorage", "0", 4, 0, [4], [1]).EndStateDict();
        Refused(Checkpoint(retyped.Bytes, floats), "storage \"0\" is referenced as IntStorage[4] and as FloatStorage[4]");
        var resized = new PickleWriter().BeginStateDict()
            .Str("a").Tensor("FloatStorage", "0", 4, 0, [4], [1])
            .Str("b").Tensor("FloatStorage", "0", 2, 0, [2], [1]).EndStateDict();
        Refused(Checkpoint(resized.Bytes, floats), "is referenced as FloatStorage[2] and as FloatStorage[4]");
    }

    [Fact]
    public void ClaimedSizesAreCheckedBeforeAnyAllocation()
    {
        // 2^40 floats (4 TiB) claimed against a 16-byte entry: refused from the numbers alone.
        var huge = new PickleWriter().BeginStateDict().Str("w").Tensor("FloatStorage", "0", 1L << 40, 0, [1L << 40], [1]).EndStateDict();
        Refused(Checkpoint(huge.Bytes, ("0", TorchZip.Floats(1, 2, 3, 4))), "should hold 1099511627776 × FloatStorage = 4398046511104 bytes but its zip entry holds 16");
        // A view far past its storage: refused before as_strided.
        var view = new PickleWriter().BeginStateDict().Str("w").Tensor("FloatStorage", "0", 4, 0, [1L << 40, 1L << 20], [1L << 20, 1]).EndStateDict();
        Refused(Checkpoint(view.Bytes, ("0", TorchZip.Floats(1, 2, 3, 4))), "reaches element");
    }
}

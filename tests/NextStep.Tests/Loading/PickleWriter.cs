using System.IO.Compression;
using System.Text;

namespace NextStep.Tests.Loading;

/// <summary>Writes pickle opcodes by hand, to build well-formed and hostile torch checkpoints in tests.</summary>
internal sealed class PickleWriter
{
    private readonly MemoryStream _s = new();

    public PickleWriter Op(byte op) { _s.WriteByte(op); return this; }
    public PickleWriter Raw(params byte[] bytes) { _s.Write(bytes); return this; }
    public PickleWriter Proto(int p = 2) => Op(0x80).Raw((byte)p);
    public PickleWriter Global(string module, string name) => Op((byte)'c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    public PickleWriter Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return Op((byte)'X').Raw(BitConverter.GetBytes(b.Length)).Raw(b);
    }
    public PickleWriter Int(long v)
    {
        if (v >= 0 && v < 256) return Op((byte)'K').Raw((byte)v);
        if (v >= int.MinValue && v <= int.MaxValue) return Op((byte)'J').Raw(BitConverter.GetBytes((int)v));
        return Op(0x8a).Raw(8).Raw(BitConverter.GetBytes(v));
    }
    public PickleWriter Mark() => Op((byte)'(');
    public PickleWriter Tuple() => Op((byte)'t');
    public PickleWriter EmptyTuple() => Op((byte)')');
    public PickleWriter EmptyDict() => Op((byte)'}');
    public PickleWriter Reduce() => Op((byte)'R');
    public PickleWriter Build() => Op((byte)'b');
    public PickleWriter SetItems() => Op((byte)'u');
    public PickleWriter False() => Op(0x89);
    public PickleWriter PersId() => Op((byte)'Q');
    public PickleWriter Put(uint i) => Op((byte)'r').Raw(BitConverter.GetBytes(i));
    public PickleWriter Get(uint i) => Op((byte)'j').Raw(BitConverter.GetBytes(i));
    public PickleWriter Stop() => Op((byte)'.');
    public PickleWriter ShortStr(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return Op(0x8c).Raw((byte)b.Length).Raw(b);
    }
    public PickleWriter Memoize() => Op(0x94);
    public PickleWriter BinGet(byte i) => Op((byte)'h').Raw(i);
    public PickleWriter StackGlobal(string module, string name) => ShortStr(module).Memoize().ShortStr(name).Memoize().Op(0x93).Memoize();
    public PickleWriter Frame(ulong length) => Op(0x95).Raw(BitConverter.GetBytes(length));

    public PickleWriter Ints(params long[] v) { Mark(); foreach (var x in v) Int(x); return Tuple(); }

    /// <summary><c>_rebuild_tensor_v2(('storage', torch.&lt;type&gt;, key, 'cpu', numel), offset, size, stride, False, OrderedDict())</c>.</summary>
    public PickleWriter Tensor(string storageType, string key, long numel, long offset, long[] size, long[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2").Mark();
        Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel).Tuple().PersId();
        Int(offset).Ints(size).Ints(stride).False().Global("collections", "OrderedDict").EmptyTuple().Reduce();
        return Tuple().Reduce();
    }

    /// <summary>Starts <c>OrderedDict()</c> and opens a MARK for its items.</summary>
    public PickleWriter BeginStateDict() => Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
    public PickleWriter EndStateDict() => SetItems().Stop();

    public byte[] Bytes => _s.ToArray();
}

/// <summary>Builds torch-style zip archives: <c>archive/data.pkl</c>, <c>archive/data/&lt;key&gt;</c>, <c>archive/byteorder</c>.</summary>
internal static class TorchZip
{
    public static void Write(string path, byte[] pickle, params (string Key, byte[] Data)[] storages) =>
        WriteEntries(path, [("archive/data.pkl", pickle), ("archive/byteorder", "little"u8.ToArray()),
            .. storages.Select(s => ($"archive/data/{s.Key}", s.Data))]);

    public static void WriteEntries(string path, IEnumerable<(string Name, byte[] Data)> entries, CompressionLevel level = CompressionLevel.NoCompression)
    {
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        foreach (var (name, data) in entries)
        {
            using var s = zip.CreateEntry(name, level).Open();
            s.Write(data);
        }
    }

    public static byte[] Floats(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
}

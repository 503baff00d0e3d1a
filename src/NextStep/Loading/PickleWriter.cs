using System.Buffers.Binary;
using System.Text;

namespace NextStep.Loading;

/// <summary>
/// Emits pickle opcodes one by one (binary protocols 2–5), the counterpart of <see cref="Unpickler"/>. Each method
/// appends one opcode (or a short fixed sequence) and returns the writer, so a stream reads like its disassembly.
/// Nothing is checked: <see cref="TorchZipWriter"/> builds well-formed state dicts with it, and tests build hostile
/// streams with <see cref="Op"/> and <see cref="Raw"/>.
/// </summary>
internal sealed class PickleWriter
{
    private readonly MemoryStream _s = new();
    private readonly Dictionary<string, uint> _shared = new(StringComparer.Ordinal);
    private uint _nextShared;

    public PickleWriter Op(byte op) { _s.WriteByte(op); return this; }
    public PickleWriter Raw(params byte[] bytes) { _s.Write(bytes); return this; }
    public PickleWriter Proto(int p = 2) => Op(0x80).Raw((byte)p);
    /// <summary>GLOBAL <c>module\nname\n</c>.</summary>
    public PickleWriter Global(string module, string name) => Op((byte)'c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    /// <summary>BINUNICODE (what <c>pickle</c> writes for a str at protocol 2 and 3).</summary>
    public PickleWriter Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return Op((byte)'X').Raw(BitConverter.GetBytes(b.Length)).Raw(b);
    }
    public PickleWriter ShortStr(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return Op(0x8c).Raw((byte)b.Length).Raw(b);
    }

    /// <summary>An int in the shortest form Python's pickle uses: BININT1, BININT2, BININT, else LONG1 (minimal two's complement).</summary>
    public PickleWriter Int(long v)
    {
        if (v >= 0 && v <= byte.MaxValue) return Op((byte)'K').Raw((byte)v);
        if (v >= 0 && v <= ushort.MaxValue) return Op((byte)'M').Raw(BitConverter.GetBytes((ushort)v));
        if (v >= int.MinValue && v <= int.MaxValue) return Op((byte)'J').Raw(BitConverter.GetBytes((int)v));
        int n = 5;
        while (n < 8 && (v < -(1L << (8 * n - 1)) || v >= 1L << (8 * n - 1))) n++;
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, v);
        return Op(0x8a).Raw((byte)n).Raw(bytes[..n]);
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
    /// <summary>LONG_BINPUT: stores the top of the stack at memo index <paramref name="i"/>.</summary>
    public PickleWriter Put(uint i) => Op((byte)'r').Raw(BitConverter.GetBytes(i));
    /// <summary>LONG_BINGET: pushes memo entry <paramref name="i"/>.</summary>
    public PickleWriter Get(uint i) => Op((byte)'j').Raw(BitConverter.GetBytes(i));
    public PickleWriter BinGet(byte i) => Op((byte)'h').Raw(i);
    public PickleWriter Memoize() => Op(0x94);
    public PickleWriter StackGlobal(string module, string name) => ShortStr(module).Memoize().ShortStr(name).Memoize().Op(0x93).Memoize();
    public PickleWriter Frame(ulong length) => Op(0x95).Raw(BitConverter.GetBytes(length));
    public PickleWriter Stop() => Op((byte)'.');

    public PickleWriter Ints(params long[] v) { Mark(); foreach (var x in v) Int(x); return Tuple(); }

    /// <summary>
    /// A GLOBAL written once and then recalled from the memo (BINPUT/BINGET, as <c>pickle</c> does for repeated objects).
    /// The shared values use memo indices 0, 1, … in order of first use; do not mix them with explicit <see cref="Put"/>.
    /// </summary>
    public PickleWriter SharedGlobal(string module, string name) => Shared($"global {module}.{name}", () => Global(module, name));
    /// <summary>A str written once and then recalled from the memo (see <see cref="SharedGlobal"/>).</summary>
    public PickleWriter SharedStr(string s) => Shared($"str {s}", () => Str(s));

    private PickleWriter Shared(string key, Action emit)
    {
        if (_shared.TryGetValue(key, out var index))
            return index <= byte.MaxValue ? BinGet((byte)index) : Get(index);
        emit();
        index = _nextShared++;
        _shared[key] = index;
        return index <= byte.MaxValue ? Op((byte)'q').Raw((byte)index) : Put(index);
    }

    /// <summary>
    /// <c>torch._utils._rebuild_tensor_v2(('storage', torch.&lt;type&gt;, key, 'cpu', numel), offset, size, stride, False, OrderedDict())</c>,
    /// as <c>torch.save</c> pickles a CPU tensor. With <paramref name="shared"/> the globals and the constant strings go
    /// through the memo (see <see cref="SharedGlobal"/>).
    /// </summary>
    public PickleWriter Tensor(string storageType, string key, long numel, long offset, long[] size, long[] stride, bool shared = false)
    {
        PickleWriter G(string module, string name) => shared ? SharedGlobal(module, name) : Global(module, name);
        PickleWriter S(string s) => shared ? SharedStr(s) : Str(s);
        G("torch._utils", "_rebuild_tensor_v2").Mark();
        Mark(); S("storage"); G("torch", storageType); Str(key); S("cpu"); Int(numel).Tuple().PersId();
        Int(offset).Ints(size).Ints(stride).False();
        G("collections", "OrderedDict").EmptyTuple().Reduce();
        return Tuple().Reduce();
    }

    /// <summary>Starts <c>OrderedDict()</c> and opens a MARK for its items.</summary>
    public PickleWriter BeginStateDict(bool shared = false)
    {
        Proto();
        (shared ? SharedGlobal("collections", "OrderedDict") : Global("collections", "OrderedDict")).EmptyTuple().Reduce();
        return Mark();
    }
    public PickleWriter EndStateDict() => SetItems().Stop();

    public byte[] Bytes => _s.ToArray();
}

using System.Buffers.Binary;
using System.Text;

namespace NextStep.Loading;

/// <summary>Bounds applied while reading a pickle stream; a hostile stream fails fast instead of exhausting memory.</summary>
public sealed record PickleLimits
{
    public long MaxPickleBytes { get; init; } = 512L << 20;
    public int MaxStringBytes { get; init; } = 16 << 20;
    public int MaxStackItems { get; init; } = 1 << 20;
    public int MaxMarkDepth { get; init; } = 4096;
    public int MaxMemoEntries { get; init; } = 1 << 22;
    public static PickleLimits Default { get; } = new();
}

/// <summary>A pickled <c>dict</c> or <c>collections.OrderedDict</c>: insertion-ordered, keys are str, int, float or bool.</summary>
public sealed class PickleDict
{
    public OrderedDictionary<object, object?> Items { get; } = new();
}

/// <summary>
/// The part of unpickling that decides what globals mean. Every method refuses by default; an implementation
/// allows exactly the names it knows and builds inert data for them. Nothing is ever imported or executed.
/// </summary>
public interface IPickleResolver
{
    /// <summary>GLOBAL / STACK_GLOBAL: return a token for an allowed name, or throw.</summary>
    object ResolveGlobal(string module, string name);
    /// <summary>REDUCE: <paramref name="callable"/> is whatever is on the stack (only tokens from ResolveGlobal are allowed).</summary>
    object? Call(object? callable, object?[] args);
    /// <summary>BUILD: apply <paramref name="state"/> to <paramref name="target"/>.</summary>
    void Build(object? target, object? state);
    /// <summary>BINPERSID: resolve a persistent id (torch storages).</summary>
    object PersistentLoad(object? pid);
}

/// <summary>
/// A small pickle virtual machine for the binary protocols 2–5, enough for <c>torch.save</c> state dicts.
/// Values are plain data: null, bool, long, double, string, byte[], object?[] (tuple), List&lt;object?&gt;,
/// <see cref="PickleDict"/>, plus whatever the resolver returns. Unknown opcodes, protocol-0 text opcodes,
/// extension registries and out-of-band buffers are refused.
/// </summary>
public sealed class Unpickler
{
    private readonly string _source;
    private readonly byte[] _data;
    private readonly PickleLimits _limits;
    private readonly IPickleResolver _resolver;
    private readonly List<object?> _stack = new();
    private readonly List<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();
    private int _pos;
    private int _opStart;

    public Unpickler(string source, byte[] data, IPickleResolver resolver, PickleLimits? limits = null)
    {
        _source = source; _data = data; _resolver = resolver; _limits = limits ?? PickleLimits.Default;
        if (data.LongLength > _limits.MaxPickleBytes) throw new NextStepException($"{source}: pickle of {data.LongLength} bytes exceeds the limit of {_limits.MaxPickleBytes} bytes");
    }

    private NextStepException Error(string message) => new($"{_source}: {message} (pickle byte {_opStart})");

    public object? Load()
    {
        while (true)
        {
            _opStart = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    int proto = ReadByte();
                    if (proto < 2 || proto > 5) throw Error($"pickle protocol {proto} is not supported (expected 2 to 5)");
                    break;
                case 0x95: // FRAME: a hint only
                    long frame = (long)ReadUInt64();
                    if (frame < 0 || frame > _data.Length - _pos) throw Error($"frame of {frame} bytes runs past the end of the data");
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Error($"STOP with {_stack.Count} stack items and {_marks.Count} open marks (expected exactly one value)");
                    return _stack[0];

                case (byte)'(': // MARK
                    if (_marks.Count >= _limits.MaxMarkDepth) throw Error($"more than {_limits.MaxMarkDepth} nested marks");
                    _marks.Add(_stack.Count);
                    break;
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP

                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLong(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT

                case (byte)'X': Push(ReadString(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // BINUNICODE
                case 0x8c: Push(ReadString(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadString(ReadUInt64())); break; // BINUNICODE8
                case (byte)'B': Push(ReadBytes(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // BINBYTES
                case (byte)'C': Push(ReadBytes(ReadByte())); break; // SHORT_BINBYTES
                case 0x8e: Push(ReadBytes(ReadUInt64())); break; // BINBYTES8
                case 0x96: Push(ReadBytes(ReadUInt64())); break; // BYTEARRAY8

                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'t': Push(PopMark().ToArray()); break; // TUPLE
                case 0x85: Push(new[] { Pop() }); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'a': { var v = Pop(); ListAt(Peek()).Add(v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); ListAt(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)'d': { var d = new PickleDict(); SetItems(d, PopMark()); Push(d); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(DictAt(Peek()), [k, v]); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(DictAt(Peek()), items); break; } // SETITEMS

                case (byte)'c': // GLOBAL "module\nname\n"
                {
                    string module = ReadLine(), name = ReadLine();
                    Push(_resolver.ResolveGlobal(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop(); var module = Pop();
                    if (module is not string m || name is not string n) throw Error("STACK_GLOBAL needs two strings");
                    Push(_resolver.ResolveGlobal(m, n));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    var args = Pop(); var callable = Pop();
                    if (args is not object?[] tuple) throw Error("REDUCE arguments must be a tuple");
                    Push(_resolver.Call(callable, tuple));
                    break;
                }
                case 0x81: // NEWOBJ: cls.__new__(cls, *args), decided by the resolver like REDUCE
                {
                    var args = Pop(); var cls = Pop();
                    if (args is not object?[] tuple) throw Error("NEWOBJ arguments must be a tuple");
                    Push(_resolver.Call(cls, tuple));
                    break;
                }
                case (byte)'b': { var state = Pop(); _resolver.Build(Peek(), state); break; } // BUILD
                case (byte)'Q': Push(_resolver.PersistentLoad(Pop())); break; // BINPERSID

                case (byte)'q': Memo(ReadByte()); break; // BINPUT
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); break; // LONG_BINPUT
                case 0x94: Memo(_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET

                case (byte)'i' or (byte)'o' or 0x92: throw Error("refusing to instantiate classes (INST/OBJ/NEWOBJ_EX opcodes)");
                case 0x82 or 0x83 or 0x84: throw Error("refusing the extension registry (EXT opcodes)");
                case 0x97 or 0x98: throw Error("refusing out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER)");
                default: throw Error($"unsupported pickle opcode 0x{op:x2}");
            }
        }
    }

    private void Push(object? v)
    {
        if (_stack.Count >= _limits.MaxStackItems) throw Error($"more than {_limits.MaxStackItems} items on the pickle stack");
        _stack.Add(v);
    }

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Error("pickle stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Error("pickle stack underflow");
        return _stack[^1];
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the pickle stack");
        int start = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(start, _stack.Count - start);
        _stack.RemoveRange(start, _stack.Count - start);
        return items;
    }

    private List<object?> ListAt(object? v) => v as List<object?> ?? throw Error($"APPEND to a {Describe(v)}, expected a list");
    private PickleDict DictAt(object? v) => v as PickleDict ?? throw Error($"SETITEM on a {Describe(v)}, expected a dict");

    private void SetItems(PickleDict d, List<object?> kv)
    {
        if (kv.Count % 2 != 0) throw Error("odd number of items for a dict");
        for (int i = 0; i < kv.Count; i += 2)
        {
            var key = kv[i] is string or long or bool or double ? kv[i]! : throw Error($"dict key of type {Describe(kv[i])} is not supported (expected str or int)");
            d.Items[key] = kv[i + 1];
        }
    }

    private void Memo(long index)
    {
        if (index < 0 || index >= _limits.MaxMemoEntries) throw Error($"memo index {index} exceeds the limit of {_limits.MaxMemoEntries} entries");
        if (!_memo.ContainsKey(index) && _memo.Count >= _limits.MaxMemoEntries) throw Error($"more than {_limits.MaxMemoEntries} memo entries");
        _memo[index] = Peek();
    }

    private object? Recall(long index) => _memo.TryGetValue(index, out var v) ? v : throw Error($"memo index {index} was never stored");

    private byte ReadByte()
    {
        if (_pos >= _data.Length) throw Error("pickle data ends early (truncated?)");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> Take(ulong n)
    {
        if (n > (ulong)(_data.Length - _pos)) throw Error($"a {n}-byte field runs past the end of the pickle data (truncated?)");
        var span = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return span;
    }

    private ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    private long ReadLong(int n)
    {
        if (n < 0 || n > 8) throw Error($"integer of {n} bytes is out of range (at most 8 supported)");
        var b = Take((ulong)n);
        if (n == 0) return 0;
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
        int shift = 64 - 8 * n;
        return shift == 0 ? v : (v << shift) >> shift; // sign-extend two's complement
    }

    private string ReadString(ulong n)
    {
        if (n > (ulong)_limits.MaxStringBytes) throw Error($"string of {n} bytes exceeds the limit of {_limits.MaxStringBytes} bytes");
        try { return new UTF8Encoding(false, true).GetString(Take(n)); }
        catch (DecoderFallbackException) { throw Error("string is not valid UTF-8"); }
    }

    private byte[] ReadBytes(ulong n)
    {
        if (n > (ulong)_limits.MaxStringBytes) throw Error($"bytes object of {n} bytes exceeds the limit of {_limits.MaxStringBytes} bytes");
        return Take(n).ToArray();
    }

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos, Math.Min(_data.Length - _pos, 1024));
        if (end < 0) throw Error("GLOBAL name is not terminated within 1024 bytes");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    /// <summary>A short description of a pickled value for error messages.</summary>
    public static string Describe(object? v) => v switch
    {
        null => "None",
        string s => $"str \"{(s.Length > 40 ? s[..40] + "…" : s)}\"",
        object?[] t => $"tuple of {t.Length}",
        List<object?> l => $"list of {l.Count}",
        PickleDict d => $"dict of {d.Items.Count}",
        _ => v.GetType().Name,
    };
}

using Microsoft.Win32.SafeHandles;
using System.Text;
using System.Text.Json;
using NextStep.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record TensorInfo(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long NumElements => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteLength => End - Begin;
}

/// <summary>Limits applied while validating a safetensors file (hostile files must fail fast, not exhaust memory).</summary>
public sealed record SafeTensorsLimits
{
    public long MaxHeaderBytes { get; init; } = 100_000_000;
    public int MaxTensors { get; init; } = 1_000_000;
    public int MaxRank { get; init; } = 16;
    public static SafeTensorsLimits Default { get; } = new();
}

/// <summary>
/// A validating, memory-mapped reader of one <c>.safetensors</c> file. The header is checked completely when the
/// file is opened: size ≤ limit, UTF-8 JSON object, known dtypes, shapes whose byte size (overflow-checked) equals the
/// data range, ranges contiguous from 0 without gaps or overlaps, and data covering the rest of the file exactly.
/// Tensor data is never copied into managed arrays and never mapped: <see cref="Load"/> and <see cref="ReadInto"/>
/// read the bytes with positioned reads straight into native libtorch memory (any size, also over 2 GB), so the
/// file's pages stay in the page cache instead of adding to the process's resident memory.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private static readonly Dictionary<string, (ScalarType Type, int Size)> DTypes = new()
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1), ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>Bytes per positioned read, and elements per staging chunk when casting.</summary>
    private const int ReadChunk = 1 << 26;

    private readonly SafeFileHandle _file;
    private readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, Dictionary<string, TensorInfo> tensors, Dictionary<string, string> meta, long dataStart, long dataLength)
    {
        Path = path; Tensors = tensors; Metadata = meta; _dataStart = dataStart;
        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
    }

    public static SafeTensorsFile Open(string path, SafeTensorsLimits? limits = null)
    {
        limits ??= SafeTensorsLimits.Default;
        if (!File.Exists(path)) throw new NextStepException($"{path}: file not found");
        long fileLength;
        byte[] headerBytes;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            fileLength = fs.Length; // the opened file's length: a symbolic link's target, not the link
            if (fileLength < 8) throw new NextStepException($"{path}: not a safetensors file ({fileLength} bytes; expected an 8-byte header length first)");
            Span<byte> lenBytes = stackalloc byte[8];
            fs.ReadExactly(lenBytes);
            ulong n = BitConverter.ToUInt64(lenBytes);
            if (n > (ulong)limits.MaxHeaderBytes) throw new NextStepException($"{path}: header length {n} exceeds the limit of {limits.MaxHeaderBytes} bytes");
            if (n < 2 || (long)n > fileLength - 8) throw new NextStepException($"{path}: header length {n} does not fit the file of {fileLength} bytes (truncated or not safetensors)");
            headerBytes = new byte[n];
            fs.ReadExactly(headerBytes);
        }
        var (tensors, meta) = ParseHeader(path, headerBytes, limits);
        long dataStart = 8 + headerBytes.Length;
        long dataLength = fileLength - dataStart;
        long expected = tensors.Count == 0 ? 0 : tensors.Values.Max(t => t.End);
        if (expected != dataLength)
            throw new NextStepException($"{path}: tensor data covers {expected} bytes but the file holds {dataLength} bytes after the header ({(expected > dataLength ? "truncated file" : "trailing bytes")})");
        return new SafeTensorsFile(path, tensors, meta, dataStart, dataLength);
    }

    private static (Dictionary<string, TensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] bytes, SafeTensorsLimits limits)
    {
        string text;
        try { text = new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw new NextStepException($"{path}: header is not valid UTF-8"); }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text.TrimEnd(' ', '\0'), new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new NextStepException($"{path}: header is not valid JSON ({e.Message})"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new NextStepException($"{path}: header must be a JSON object");
        JsonConfig.CheckStrings(doc.RootElement, $"{path} (header)");
        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var meta = new Dictionary<string, string>();
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw new NextStepException($"{path}: __metadata__ must be an object of strings");
                foreach (var m in prop.Value.EnumerateObject())
                    meta[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw new NextStepException($"{path}: __metadata__ value \"{m.Name}\" must be a string");
                continue;
            }
            if (tensors.Count >= limits.MaxTensors) throw new NextStepException($"{path}: more than {limits.MaxTensors} tensors");
            if (tensors.ContainsKey(prop.Name)) throw new NextStepException($"{path}: tensor \"{prop.Name}\" appears twice");
            tensors[prop.Name] = ParseEntry(path, prop.Name, prop.Value, limits);
        }
        // Ranges must tile [0, total) exactly: sorted by begin, each starts where the previous ended.
        long cursor = 0;
        foreach (var t in tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin != cursor)
                throw new NextStepException($"{path}: tensor \"{t.Name}\" data starts at byte {t.Begin}, expected {cursor} ({(t.Begin < cursor ? "overlapping" : "gap between")} tensor ranges)");
            cursor = t.End;
        }
        return (tensors, meta);
    }

    private static TensorInfo ParseEntry(string path, string name, JsonElement e, SafeTensorsLimits limits)
    {
        string where = $"{path}: tensor \"{name}\"";
        if (e.ValueKind != JsonValueKind.Object) throw new NextStepException($"{where}: entry must be an object with dtype, shape, data_offsets");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw new NextStepException($"{where}: missing string \"dtype\"");
        string dtype = dt.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var info)) throw new NextStepException($"{where}: dtype \"{dtype}\" is not supported (expected one of {string.Join(", ", DTypes.Keys)})");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw new NextStepException($"{where}: missing array \"shape\"");
        if (sh.GetArrayLength() > limits.MaxRank) throw new NextStepException($"{where}: rank {sh.GetArrayLength()} exceeds {limits.MaxRank}");
        var shape = new long[sh.GetArrayLength()];
        long numel = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0) throw new NextStepException($"{where}: shape entries must be non-negative integers, found {d.GetRawText()}");
            shape[i++] = v;
            try { numel = checked(numel * v); } catch (OverflowException) { throw new NextStepException($"{where}: shape {sh.GetRawText()} overflows"); }
        }
        long bytes;
        try { bytes = checked(numel * info.Size); } catch (OverflowException) { throw new NextStepException($"{where}: shape {sh.GetRawText()} overflows"); }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new NextStepException($"{where}: missing \"data_offsets\" [begin, end]");
        var o = off.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out long v) && v >= 0 ? v : -1).ToArray();
        if (o[0] < 0 || o[1] < 0 || o[1] < o[0]) throw new NextStepException($"{where}: data_offsets {off.GetRawText()} must be non-negative integers with begin ≤ end");
        if (o[1] - o[0] != bytes) throw new NextStepException($"{where}: data_offsets span {o[1] - o[0]} bytes but {dtype}{sh.GetRawText()} needs {bytes}");
        return new TensorInfo(name, dtype, shape, o[0], o[1]);
    }

    public static ScalarType ScalarTypeOf(string dtype) => DTypes[dtype].Type;

    /// <summary>Reads one tensor into a new CPU tensor, cast to <paramref name="dtype"/> when given.</summary>
    public Tensor Load(string name, ScalarType? dtype = null)
    {
        var info = InfoOf(name);
        var type = DTypes[info.DType].Type;
        var t = empty(info.Shape, type);
        try { ReadBytes(info, 0, t.DataPtr(), info.ByteLength); }
        catch { t.Dispose(); throw; }
        if (dtype is { } want && want != type)
        {
            var cast = t.to_type(want);
            t.Dispose();
            return cast;
        }
        return t;
    }

    /// <summary>
    /// Reads one tensor into an existing tensor of the same shape (a model parameter), casting to its dtype. Same dtype
    /// on a contiguous CPU target: the bytes go straight into its memory; otherwise through a bounded staging tensor
    /// (at most 64 Mi elements), so loading never holds a second full copy of a large weight.
    /// </summary>
    public void ReadInto(string name, Tensor target)
    {
        var info = InfoOf(name);
        if (!info.Shape.SequenceEqual(target.shape))
            throw new NextStepException($"{Path}: tensor \"{name}\" has shape [{string.Join(", ", info.Shape)}], the target has [{string.Join(", ", target.shape)}]");
        var (type, size) = DTypes[info.DType];
        if (target.dtype == type && target.device_type == TorchSharp.DeviceType.CPU && target.is_contiguous())
        {
            ReadBytes(info, 0, target.DataPtr(), info.ByteLength);
            return;
        }
        if (!target.is_contiguous()) { using var whole = Load(name); target.copy_(whole); return; }
        using var flat = target.view(-1);
        long n = info.NumElements, chunk = Math.Min(n, ReadChunk / size);
        if (n == 0) return;
        using var staging = empty(chunk, type);
        for (long start = 0; start < n; start += chunk)
        {
            long count = Math.Min(chunk, n - start);
            ReadBytes(info, start * size, staging.DataPtr(), count * size);
            using var src = staging.narrow(0, 0, count);
            using var dst = flat.narrow(0, start, count);
            dst.copy_(src);
        }
    }

    private TensorInfo InfoOf(string name) =>
        Tensors.TryGetValue(name, out var info) ? info : throw new NextStepException($"{Path}: no tensor named \"{name}\"");

    /// <summary>Reads <paramref name="count"/> bytes of a tensor's data, from byte <paramref name="offset"/> within it, to native memory.</summary>
    private void ReadBytes(TensorInfo info, long offset, IntPtr destination, long count)
    {
        long position = _dataStart + info.Begin + offset;
        byte* dst = (byte*)destination;
        while (count > 0)
        {
            int want = (int)Math.Min(count, ReadChunk);
            int got = RandomAccess.Read(_file, new Span<byte>(dst, want), position);
            if (got <= 0) throw new NextStepException($"{Path}: the file ended while reading tensor \"{info.Name}\" (was it changed while open?)");
            dst += got; position += got; count -= got;
        }
    }

    public void Dispose() => _file.Dispose();
}

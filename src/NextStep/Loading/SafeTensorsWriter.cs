using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>Writes tensors in the safetensors format (atomically: a temporary file renamed into place).</summary>
public static class SafeTensorsWriter
{
    private static readonly Dictionary<ScalarType, string> Names = new()
    {
        [ScalarType.Float64] = "F64", [ScalarType.Float32] = "F32", [ScalarType.Float16] = "F16", [ScalarType.BFloat16] = "BF16",
        [ScalarType.Int64] = "I64", [ScalarType.Int32] = "I32", [ScalarType.Int16] = "I16", [ScalarType.Int8] = "I8",
        [ScalarType.Byte] = "U8", [ScalarType.Bool] = "BOOL",
    };

    public static unsafe void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IDictionary<string, string>? metadata = null)
    {
        var items = tensors.Select(kv => (kv.Key, T: kv.Value.detach().cpu().contiguous())).ToList();
        var header = new Dictionary<string, object>();
        if (metadata != null) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, t) in items)
        {
            long n = t.NumberOfElements * t.ElementSize;
            header[name] = new { dtype = Names[t.dtype], shape = t.shape, data_offsets = new[] { offset, offset + n } };
            offset += n;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8;
        var headerBytes = new byte[json.Length + pad];
        json.CopyTo(headerBytes, 0);
        for (int i = json.Length; i < headerBytes.Length; i++) headerBytes[i] = (byte)' ';
        try
        {
            AtomicWeightsFile.Write(path, FileAccess.Write, fs =>
            {
                fs.Write(BitConverter.GetBytes((ulong)headerBytes.Length));
                fs.Write(headerBytes);
                foreach (var (_, t) in items) WriteData(fs, t);
            });
        }
        finally
        {
            foreach (var (_, t) in items) t.Dispose();
        }
    }

    private static unsafe void WriteData(FileStream fs, Tensor t)
    {
        long n = t.NumberOfElements * t.ElementSize;
        byte* p = (byte*)t.DataPtr();
        for (long done = 0; done < n;)
        {
            int chunk = (int)Math.Min(1 << 30, n - done);
            fs.Write(new ReadOnlySpan<byte>(p + done, chunk));
            done += chunk;
        }
    }
}

using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Numerics;
using System.Text;
using static TorchSharp.torch;

namespace NextStep.Loading;

/// <summary>
/// Writes a state dict as a PyTorch (≥ 1.6) zip checkpoint, the file <c>torch.save(state_dict, path)</c> makes and
/// <c>torch.load</c> (also with <c>weights_only=True</c>) and <see cref="TorchZipCheckpoint"/> read:
/// <c>archive/data.pkl</c> (pickle protocol 2: an <c>OrderedDict</c> of <c>torch._utils._rebuild_tensor_v2</c> calls on
/// persistent-id storages), <c>archive/byteorder</c> (<c>little</c>), one raw little-endian storage per tensor in
/// <c>archive/data/&lt;key&gt;</c> (keys 0, 1, … in state-dict order), <c>archive/version</c> (<c>3</c>) and
/// <c>archive/.data/serialization_id</c>. Entries are stored uncompressed with their data 64-byte aligned (as torch
/// writes them, so the storages can be memory-mapped); ZIP64 records are used where sizes or offsets need them.
/// Each tensor gets its own contiguous storage (tensors that shared memory are written as copies, which
/// <c>load_state_dict</c> does not mind). The output is deterministic and written atomically: a temporary file is renamed
/// into place, so a failure leaves a previous file at the path unchanged.
/// </summary>
public static class TorchZipWriter
{
    /// <summary>The archive's root folder (torch uses the file name's stem; any name loads).</summary>
    public const string RootName = "archive";
    private const int Alignment = 64;

    private static readonly Dictionary<ScalarType, string> StorageTypes = new()
    {
        [ScalarType.Float32] = "FloatStorage", [ScalarType.Float64] = "DoubleStorage", [ScalarType.Float16] = "HalfStorage",
        [ScalarType.BFloat16] = "BFloat16Storage", [ScalarType.Int64] = "LongStorage", [ScalarType.Int32] = "IntStorage",
        [ScalarType.Int16] = "ShortStorage", [ScalarType.Int8] = "CharStorage", [ScalarType.Byte] = "ByteStorage",
        [ScalarType.Bool] = "BoolStorage",
    };

    /// <summary>Writes <paramref name="tensors"/> (any device, layout or strides; keys must be distinct) to <paramref name="path"/>.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors) => Save(path, tensors, forceZip64: false);

    /// <summary><paramref name="forceZip64"/> writes ZIP64 fields for every entry, to test them without a 4 GiB file.</summary>
    internal static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, bool forceZip64)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("torch zip checkpoints are written on little-endian machines only");
        var items = tensors.ToList();
        var pickle = Pickle(path, items);
        AtomicWeightsFile.Write(path, FileAccess.ReadWrite, fs =>
        {
            var zip = new ZipWriter(fs, forceZip64);
            zip.Add($"{RootName}/data.pkl", pickle);
            zip.Add($"{RootName}/byteorder", "little"u8);
            // torch writes the storages in the sorted order of their keys (as strings).
            var order = Enumerable.Range(0, items.Count).OrderBy(i => i.ToString(CultureInfo.InvariantCulture), StringComparer.Ordinal);
            foreach (int i in order)
                WriteStorage(zip, $"{RootName}/data/{i}", items[i].Value);
            zip.Add($"{RootName}/version", "3\n"u8);
            zip.Add($"{RootName}/.data/serialization_id", Encoding.ASCII.GetBytes(zip.ContentId()));
            zip.Finish();
        });
    }

    /// <summary>The <c>data.pkl</c> of the state dict; checks every dtype first (nothing is written for a bad input).</summary>
    private static byte[] Pickle(string path, List<KeyValuePair<string, Tensor>> items)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var w = new PickleWriter().BeginStateDict(shared: true);
        for (int i = 0; i < items.Count; i++)
        {
            var (name, t) = (items[i].Key, items[i].Value);
            if (!seen.Add(name)) throw new NextStepException($"{path}: tensor \"{name}\" appears twice in the state dict");
            if (!StorageTypes.TryGetValue(t.dtype, out var storage))
                throw new NextStepException($"{path}: tensor \"{name}\" has dtype {t.dtype}, which cannot be written to a torch checkpoint here (supported: {string.Join(", ", StorageTypes.Keys)})");
            if (i > 0 && i % 1000 == 0) w.SetItems().Mark(); // pickle's batches of 1000 items
            var size = t.shape;
            w.SharedStr(name).Tensor(storage, i.ToString(CultureInfo.InvariantCulture), t.numel(), 0, size, ContiguousStrides(size), shared: true);
        }
        return w.EndStateDict().Bytes;
    }

    /// <summary>The strides of a contiguous tensor as libtorch computes them (a dimension of size 0 counts as 1).</summary>
    private static long[] ContiguousStrides(long[] size)
    {
        var stride = new long[size.Length];
        long s = 1;
        for (int i = size.Length - 1; i >= 0; i--)
        {
            stride[i] = s;
            s *= Math.Max(size[i], 1);
        }
        return stride;
    }

    private static unsafe void WriteStorage(ZipWriter zip, string name, Tensor t)
    {
        // One tensor at a time on the CPU: a state dict on an accelerator is not copied to host memory all at once.
        using var c = t.detach().cpu().contiguous();
        long n = c.numel() * c.ElementSize;
        zip.Add(name, n == 0 ? null : (byte*)c.DataPtr(), n);
    }

    /// <summary>
    /// A minimal zip writer for stored (uncompressed) entries whose data starts on a 64-byte boundary: the local header's
    /// extra field is padded (torch pads with a <c>FB</c> field of <c>Z</c>s; so does this). The CRC-32 is patched into
    /// the local header after the data, so no data descriptors are needed.
    /// </summary>
    private sealed unsafe class ZipWriter(FileStream fs, bool forceZip64)
    {
        private const uint Max32 = uint.MaxValue;
        private const ushort DosDate = (0 << 9) | (1 << 5) | 1; // 1980-01-01, 00:00 (fixed: the output is deterministic)
        private readonly List<(byte[] Name, long Offset, long Size, uint Crc)> _entries = new();
        private readonly XxHash128 _contentHash = new();

        public void Add(string name, ReadOnlySpan<byte> data)
        {
            fixed (byte* p = data) Add(name, p, data.Length);
        }

        public void Add(string name, byte* data, long size)
        {
            var nameBytes = Encoding.ASCII.GetBytes(name);
            long offset = fs.Position;
            bool zip64 = forceZip64 || size >= Max32;
            int zip64Extra = zip64 ? 20 : 0; // id, length, uncompressed size, compressed size
            long dataStart = offset + 30 + nameBytes.Length + zip64Extra;
            int pad = (int)((Alignment - dataStart % Alignment) % Alignment);
            if (pad is > 0 and < 4) pad += Alignment; // a padding field needs its 4-byte header
            var header = new byte[30 + nameBytes.Length + zip64Extra + pad];
            var h = header.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x04034b50);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], (ushort)(zip64 ? 45 : 20)); // version needed
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 0); // flags
            BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0); // stored
            BinaryPrimitives.WriteUInt16LittleEndian(h[10..], 0); // time
            BinaryPrimitives.WriteUInt16LittleEndian(h[12..], DosDate);
            // CRC-32 at 14 is patched after the data.
            uint size32 = zip64 ? Max32 : (uint)size;
            BinaryPrimitives.WriteUInt32LittleEndian(h[18..], size32);
            BinaryPrimitives.WriteUInt32LittleEndian(h[22..], size32);
            BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)(zip64Extra + pad));
            nameBytes.CopyTo(h[30..]);
            var extra = h[(30 + nameBytes.Length)..];
            if (zip64)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x0001);
                BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], 16);
                BinaryPrimitives.WriteInt64LittleEndian(extra[4..], size);
                BinaryPrimitives.WriteInt64LittleEndian(extra[12..], size);
                extra = extra[20..];
            }
            if (pad > 0)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x4246); // "FB"
                BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)(pad - 4));
                extra[4..].Fill((byte)'Z');
            }
            fs.Write(header);

            var crc = new Crc32();
            for (long done = 0; done < size;)
            {
                var chunk = new ReadOnlySpan<byte>(data + done, (int)Math.Min(1 << 30, size - done));
                fs.Write(chunk);
                crc.Append(chunk);
                done += chunk.Length;
            }
            uint crcValue = crc.GetCurrentHashAsUInt32();
            long end = fs.Position;
            fs.Position = offset + 14;
            Span<byte> crcBytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(crcBytes, crcValue);
            fs.Write(crcBytes);
            fs.Position = end;
            _entries.Add((nameBytes, offset, size, crcValue));
            _contentHash.Append(nameBytes);
            _contentHash.Append(crcBytes);
            Span<byte> sizeBytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(sizeBytes, size);
            _contentHash.Append(sizeBytes);
        }

        /// <summary>A 40-digit decimal id derived from the entries so far (torch writes 40 random digits; any string loads).</summary>
        public string ContentId()
        {
            var id = new BigInteger(_contentHash.GetCurrentHash(), isUnsigned: true) % BigInteger.Pow(10, 40);
            return id.ToString("D40", CultureInfo.InvariantCulture);
        }

        /// <summary>Writes the central directory and the end records (ZIP64 ones where a count, size or offset needs them).</summary>
        public void Finish()
        {
            long cdStart = fs.Position;
            foreach (var (name, offset, size, crc) in _entries)
            {
                bool bigSize = forceZip64 || size >= Max32, bigOffset = forceZip64 || offset >= Max32;
                int extraLength = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
                var rec = new byte[46 + name.Length + extraLength];
                var r = rec.AsSpan();
                ushort version = (ushort)(extraLength > 0 ? 45 : 20);
                BinaryPrimitives.WriteUInt32LittleEndian(r, 0x02014b50);
                BinaryPrimitives.WriteUInt16LittleEndian(r[4..], version); // made by (MS-DOS attributes)
                BinaryPrimitives.WriteUInt16LittleEndian(r[6..], version); // needed
                BinaryPrimitives.WriteUInt16LittleEndian(r[14..], DosDate);
                BinaryPrimitives.WriteUInt32LittleEndian(r[16..], crc);
                BinaryPrimitives.WriteUInt32LittleEndian(r[20..], bigSize ? Max32 : (uint)size);
                BinaryPrimitives.WriteUInt32LittleEndian(r[24..], bigSize ? Max32 : (uint)size);
                BinaryPrimitives.WriteUInt16LittleEndian(r[28..], (ushort)name.Length);
                BinaryPrimitives.WriteUInt16LittleEndian(r[30..], (ushort)extraLength);
                BinaryPrimitives.WriteUInt32LittleEndian(r[42..], bigOffset ? Max32 : (uint)offset);
                name.CopyTo(r[46..]);
                if (extraLength > 0)
                {
                    var e = r[(46 + name.Length)..];
                    BinaryPrimitives.WriteUInt16LittleEndian(e, 0x0001);
                    BinaryPrimitives.WriteUInt16LittleEndian(e[2..], (ushort)(extraLength - 4));
                    e = e[4..];
                    if (bigSize)
                    {
                        BinaryPrimitives.WriteInt64LittleEndian(e, size);
                        BinaryPrimitives.WriteInt64LittleEndian(e[8..], size);
                        e = e[16..];
                    }
                    if (bigOffset) BinaryPrimitives.WriteInt64LittleEndian(e, offset);
                }
                fs.Write(rec);
            }
            long cdSize = fs.Position - cdStart;
            long count = _entries.Count;
            bool zip64 = forceZip64 || count >= ushort.MaxValue || cdSize >= Max32 || cdStart >= Max32;
            if (zip64)
            {
                long recordStart = fs.Position;
                var z = new byte[56 + 20];
                var s = z.AsSpan();
                BinaryPrimitives.WriteUInt32LittleEndian(s, 0x06064b50);
                BinaryPrimitives.WriteInt64LittleEndian(s[4..], 44); // size of the rest of the record
                BinaryPrimitives.WriteUInt16LittleEndian(s[12..], 45);
                BinaryPrimitives.WriteUInt16LittleEndian(s[14..], 45);
                BinaryPrimitives.WriteInt64LittleEndian(s[24..], count);
                BinaryPrimitives.WriteInt64LittleEndian(s[32..], count);
                BinaryPrimitives.WriteInt64LittleEndian(s[40..], cdSize);
                BinaryPrimitives.WriteInt64LittleEndian(s[48..], cdStart);
                var locator = s[56..];
                BinaryPrimitives.WriteUInt32LittleEndian(locator, 0x07064b50);
                BinaryPrimitives.WriteInt64LittleEndian(locator[8..], recordStart);
                BinaryPrimitives.WriteUInt32LittleEndian(locator[16..], 1); // total disks
                fs.Write(z);
            }
            var end = new byte[22];
            var d = end.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(d, 0x06054b50);
            ushort count16 = count >= ushort.MaxValue ? ushort.MaxValue : (ushort)count;
            BinaryPrimitives.WriteUInt16LittleEndian(d[8..], count16);
            BinaryPrimitives.WriteUInt16LittleEndian(d[10..], count16);
            BinaryPrimitives.WriteUInt32LittleEndian(d[12..], cdSize >= Max32 ? Max32 : (uint)cdSize);
            BinaryPrimitives.WriteUInt32LittleEndian(d[16..], cdStart >= Max32 ? Max32 : (uint)cdStart);
            fs.Write(end);
        }
    }
}

using System.IO.Compression;

namespace NextStep.Tests.Loading;

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

namespace NextStep;

/// <summary>File sizes that follow symbolic links.</summary>
public static class FileSize
{
    /// <summary>
    /// The size in bytes of the file at <paramref name="path"/>, or of the file a symbolic link there points to.
    /// <c>new FileInfo(path).Length</c> gives the link's own size on Linux, and a Hugging Face cache snapshot is made of
    /// links (<c>snapshots/REV/model.safetensors</c> → <c>blobs/SHA</c>).
    /// </summary>
    public static long Of(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return RandomAccess.GetLength(handle);
    }
}

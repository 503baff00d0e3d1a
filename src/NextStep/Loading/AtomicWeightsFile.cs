namespace NextStep.Loading;

/// <summary>
/// Writes a weight file through a unique temporary name in the same folder, renamed over the target only once complete
/// and flushed: a crash or a full disk leaves the previous file intact, and concurrent writers of one path never interleave.
/// </summary>
internal static class AtomicWeightsFile
{
    public static void Write(string path, FileAccess access, Action<FileStream> write)
    {
        string tmp = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, access))
            {
                write(fs);
                fs.Flush(true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException)
                throw new NextStepException($"{path}: cannot write the weights ({e.Message}); a previous file at this path is left unchanged", e);
            throw;
        }
    }
}

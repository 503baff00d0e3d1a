using System.Runtime.InteropServices;

namespace NextStep.Model;

/// <summary>
/// On CPUs where NNPACK cannot start ("unsupported hardware"), libtorch asks NNPACK again before every convolution and
/// logs "Could not initialize NNPACK! Reason: Unsupported hardware." each time: a dozen lines per generated image and
/// tens of thousands per training run, and <c>TORCH_CPP_LOG_LEVEL</c> does not reach that log outside Python. There
/// libtorch can never use NNPACK, so turning its use off (<c>at::globalContext().setUserEnabledNNPACK(false)</c>, what
/// <c>torch.backends.nnpack.set_flags(False)</c> does in PyTorch) changes no kernel and no number; it only stops the
/// question and its log line. Where NNPACK starts, nothing is changed.
/// </summary>
public static class Nnpack
{
    private static readonly Lazy<NnpackState> State = new(Probe);

    /// <summary>What was found the first time: whether NNPACK starts, and whether its use was turned off.</summary>
    public static NnpackState Ensure() => State.Value;

    private static unsafe NnpackState Probe()
    {
        // The entry points are Itanium C++ names, looked up in the libtorch_cpu this process has loaded (the bundled one
        // or NEXTSTEP_LIBTORCH's), never in a second copy; elsewhere (Windows, macOS) libtorch keeps its default.
        try
        {
            _ = TorchSharp.torch.get_num_threads(); // TorchSharp loads libtorch first.
            if (LoadedLibtorch.CpuLibraryPath() is not { } path) return NnpackState.NotChecked;
            var lib = NativeLibrary.Load(path);
            if (!NativeLibrary.TryGetExport(lib, "nnp_initialize", out var initialize)
                || !NativeLibrary.TryGetExport(lib, "_ZN2at13globalContextEv", out var globalContext)
                || !NativeLibrary.TryGetExport(lib, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setEnabled)
                || !NativeLibrary.TryGetExport(lib, "_ZNK2at7Context17userEnabledNNPACKEv", out var isEnabled))
                return NnpackState.NotChecked;
            _context = ((delegate* unmanaged<IntPtr>)globalContext)();
            _isEnabled = isEnabled;
            if (((delegate* unmanaged<int>)initialize)() == NnpStatusSuccess) return NnpackState.Available;
            ((delegate* unmanaged<IntPtr, byte, void>)setEnabled)(_context, 0);
            return NnpackState.UnavailableTurnedOff;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or IOException or UnauthorizedAccessException)
        {
            return NnpackState.NotChecked;
        }
    }

    private const int NnpStatusSuccess = 0;
    private static IntPtr _context, _isEnabled;

    /// <summary>libtorch's own switch as it is now (for tests); null when it was not looked at.</summary>
    public static unsafe bool? IsEnabledInLibtorch()
        => Ensure() == NnpackState.NotChecked ? null : ((delegate* unmanaged<IntPtr, byte>)_isEnabled)(_context) != 0;
}

/// <summary>The libtorch this process runs.</summary>
public static class LoadedLibtorch
{
    /// <summary>Path of the loaded libtorch_cpu.so (Linux: read from /proc/self/maps); null elsewhere or before TorchSharp loaded it.</summary>
    public static string? CpuLibraryPath()
    {
        try
        {
            if (!File.Exists("/proc/self/maps")) return null;
            var line = File.ReadLines("/proc/self/maps").FirstOrDefault(l => l.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal));
            return line?[line.IndexOf('/')..];
        }
        catch (IOException) { return null; }
    }
}

public enum NnpackState
{
    /// <summary>Not looked at (not Linux, or libtorch_cpu.so lacks the entry points).</summary>
    NotChecked,
    /// <summary>NNPACK starts on this CPU; libtorch's default use of it is kept.</summary>
    Available,
    /// <summary>NNPACK cannot start on this CPU; libtorch's use of it was turned off, which silences its log line.</summary>
    UnavailableTurnedOff,
}

using NextStep.Config;
using NextStep.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace NextStep.Model;

/// <summary>
/// NextStep-1's FLUX-style f8ch16 VAE with the official old LDM key names (<c>encoder.*</c>, <c>decoder.*</c>), read from
/// a folder holding <c>config.json</c> and <c>checkpoint.pt</c> (or <c>checkpoint.safetensors</c>); diffusers key names
/// are accepted too and renamed (see <see cref="VaeKeys"/>).
/// <para>Decoding takes the un-scaled latent (the pipeline applies <see cref="DenormalizeLatents"/> first). Encoding gives
/// the posterior's mean (after the optional per-patch LayerNorm) and clamped logvar; <see cref="EncodeSample"/> draws one
/// <c>randn</c> of the mean's shape, also when <c>deterministic</c> is set, like diffusers'
/// <c>DiagonalGaussianDistribution.sample</c>.</para>
/// All methods run without autograd, take inputs on any device/dtype (moved to the VAE's) and return new tensors the caller owns.
/// </summary>
public sealed class AutoencoderKL : nn.Module
{
    private readonly VaeEncoder _encoder;
    private readonly VaeDecoder _decoder;

    public VaeConfig Config { get; }
    public ScalarType DType { get; }
    public Device Device { get; }
    /// <summary>Checkpoint keys the model does not use (the official loader is non-strict and ignores them too).</summary>
    public IReadOnlyList<string> IgnoredKeys { get; private set; } = [];

    /// <summary>The architecture with uninitialised weights (no random numbers drawn); <see cref="FromStateDict"/> fills them.</summary>
    internal AutoencoderKL(VaeConfig config, ScalarType dtype, Device device) : base(nameof(AutoencoderKL))
    {
        Config = config;
        DType = dtype;
        Device = device;
        register_module("encoder", _encoder = new VaeEncoder(config, dtype, device));
        register_module("decoder", _decoder = new VaeDecoder(config, dtype, device));
        eval();
    }

    /// <summary>Loads <c>config.json</c> and the weights from <paramref name="vaeFolder"/>.</summary>
    public static AutoencoderKL Load(string vaeFolder, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (!Directory.Exists(vaeFolder)) throw new NextStepException($"{vaeFolder}: VAE folder not found");
        var config = VaeConfig.Load(Path.Combine(vaeFolder, "config.json"));
        string pt = Path.Combine(vaeFolder, "checkpoint.pt"), st = Path.Combine(vaeFolder, "checkpoint.safetensors");
        if (File.Exists(pt))
        {
            using var ck = TorchZipCheckpoint.Load(pt);
            return FromStateDict(config, ck.Tensors, pt, dtype, device);
        }
        if (File.Exists(st))
        {
            using var file = SafeTensorsFile.Open(st);
            var tensors = file.Tensors.Keys.ToDictionary(k => k, k => file.Load(k));
            try { return FromStateDict(config, tensors, st, dtype, device); }
            finally { foreach (var t in tensors.Values) t.Dispose(); }
        }
        throw new NextStepException($"{vaeFolder}: no checkpoint.pt or checkpoint.safetensors found (expected the VAE weights beside config.json)");
    }

    /// <summary>
    /// Builds the VAE from a state dict with the official old LDM key names (diffusers names are renamed first). Every
    /// parameter must be present with the exact shape (a Linear [out, in] is accepted for a 1×1 conv); errors name the
    /// keys. Extra keys are listed in <see cref="IgnoredKeys"/>. The weights are copied (cast to <paramref name="dtype"/>,
    /// moved to <paramref name="device"/>), not kept; no random numbers are drawn.
    /// </summary>
    public static AutoencoderKL FromStateDict(VaeConfig config, IReadOnlyDictionary<string, Tensor> weights, string source, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (VaeKeys.IsDiffusersLayout(weights.Keys)) weights = RenameDiffusers(weights, config, source);
        var vae = new AutoencoderKL(config, dtype, device ?? CPU);
        try
        {
            var missing = new List<string>();
            var misShaped = new List<string>();
            var used = new HashSet<string>(StringComparer.Ordinal);
            using (no_grad())
            {
                foreach (var (name, p) in vae.named_parameters())
                {
                    if (!weights.TryGetValue(name, out var w)) { missing.Add(name); continue; }
                    used.Add(name);
                    bool linearForConv = w.dim() == 2 && p.dim() == 4 && p.shape[2] == 1 && p.shape[3] == 1 && w.shape.SequenceEqual(p.shape[..2]);
                    if (!w.shape.SequenceEqual(p.shape) && !linearForConv) { misShaped.Add($"{name} is [{string.Join(",", w.shape)}], expected [{string.Join(",", p.shape)}]"); continue; }
                    if (!w.is_floating_point()) { misShaped.Add($"{name} has dtype {w.dtype}, expected a floating-point type"); continue; }
                    using var shaped = w.reshape(p.shape);
                    p.copy_(shaped);
                }
            }
            if (missing.Count > 0 || misShaped.Count > 0)
            {
                var parts = new List<string>();
                if (missing.Count > 0) parts.Add($"{missing.Count} missing key(s): {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? ", …" : "")}");
                if (misShaped.Count > 0) parts.Add($"{misShaped.Count} mismatched tensor(s): {string.Join("; ", misShaped.Take(8))}{(misShaped.Count > 8 ? "; …" : "")}");
                throw new NextStepException($"{source}: the VAE weights do not match config.json (ch {config.Ch}, ch_mult [{string.Join(",", config.ChMult)}], num_res_blocks {config.NumResBlocks}, z_channels {config.ZChannels}): {string.Join("; ", parts)}");
            }
            vae.IgnoredKeys = weights.Keys.Where(k => !used.Contains(k)).Order(StringComparer.Ordinal).ToList();
            return vae;
        }
        catch { vae.Dispose(); throw; }
    }

    /// <summary>
    /// A VAE with freshly initialised weights, as PyTorch initialises its layers: conv weights and biases
    /// U(−1/√fan_in, 1/√fan_in), GroupNorm weight 1 and bias 0. Float32 on the CPU; call <c>train()</c> and enable
    /// gradients to train it.
    /// </summary>
    public static AutoencoderKL Initialise(VaeConfig config)
    {
        var vae = new AutoencoderKL(config, ScalarType.Float32, CPU);
        var parameters = vae.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        foreach (var (name, p) in parameters)
        {
            bool isNorm = name.Split('.')[^2].StartsWith("norm", StringComparison.Ordinal);
            if (isNorm) { if (name.EndsWith(".weight")) nn.init.ones_(p); else p.zero_(); continue; }
            var weight = parameters[name[..name.LastIndexOf('.')] + ".weight"];
            double bound = 1.0 / Math.Sqrt(weight.shape[1] * weight.shape[2] * weight.shape[3]);
            p.uniform_(-bound, bound);
        }
        return vae;
    }

    /// <summary>
    /// The differentiable training pass: image [B, in, H, W] in [−1, 1] → (decoded posterior sample, mean, logvar);
    /// the posterior noise is drawn from torch's generator.
    /// </summary>
    public (Tensor Reconstruction, Tensor Mean, Tensor Logvar) TrainingForward(Tensor pixels, double latentNoise = 0, Func<Tensor, Tensor>? redraw = null)
    {
        CheckInput(pixels, Config.InChannels, DownFactor * Config.Psz, "image");
        var (mean, logvar) = Moments(pixels);
        using var noise = randn_like(mean);
        using var std = PosteriorStd(logvar);
        using var scaledNoise = std * noise;
        using var sampled = Held.Add(mean, scaledNoise);
        // A caller-supplied change of the posterior sample before the tokenizer noise (GeneratorRedraw: the generator's own tokens).
        using var posterior = redraw is null ? sampled.alias() : redraw(sampled);
        if (latentNoise <= 0) return (_decoder.call(posterior), mean, logvar);
        using Scalar noiseScale = latentNoise; // held until the call returns (see AdamW.Update)
        // NextStep's tokenizer recipe: z' = z + α·ε with α ~ U[0, γ] per image, so the decoder tolerates imperfect latents.
        using var alpha = rand(new long[] { mean.shape[0], 1, 1, 1 }, mean.dtype, mean.device) * noiseScale;
        using var extra = randn_like(mean) * alpha;
        using var sample = Held.Add(posterior, extra);
        return (_decoder.call(sample), mean, logvar);
    }

    private static Dictionary<string, Tensor> RenameDiffusers(IReadOnlyDictionary<string, Tensor> weights, VaeConfig config, string source)
    {
        var renamed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in weights)
        {
            string name = VaeKeys.FromDiffusers(key, config.ChMult.Length);
            if (!renamed.TryAdd(name, tensor)) throw new NextStepException($"{source}: two tensors map to the VAE key \"{name}\" (one is \"{key}\")");
        }
        return renamed;
    }

    /// <summary>Spatial down factor 2^(levels − 1).</summary>
    public int DownFactor => Config.DownFactor;

    /// <summary>Un-scaled latent [B, z, h, w] → image [B, out, h·f, w·f], about [−1, 1], in the VAE's dtype.</summary>
    public Tensor Decode(Tensor z)
    {
        CheckInput(z, Config.ZChannels, 1, "latent");
        using var _ = no_grad();
        using var input = z.to(DType, Device);
        return _decoder.call(input);
    }

    /// <summary>
    /// A SHA-256 (hex) of everything that decides <see cref="EncodeMoments"/>: the encoder's parameters (names, shapes,
    /// float32 values) and the per-patch norm settings. Latent caches record it, so latents are never reused with another encoder.
    /// </summary>
    public string EncoderFingerprint()
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"encoder_norm={Config.EncoderNorm};psz={Config.Psz}\n"));
        foreach (var (name, p) in _encoder.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}[{string.Join(",", p.shape)}]\n"));
            using var values = p.detach().to(ScalarType.Float32, CPU).contiguous();
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.data<float>().ToArray().AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Image [B, in, H, W] in [−1, 1] → posterior mean (per-patch LayerNorm applied when <c>encoder_norm</c>) and logvar
    /// clamped to [−30, 20], both [B, z, H/f, W/f].
    /// </summary>
    public (Tensor Mean, Tensor Logvar) EncodeMoments(Tensor pixels)
    {
        CheckInput(pixels, Config.InChannels, DownFactor * Config.Psz, "image");
        using var _ = no_grad();
        using var input = pixels.to(DType, Device);
        return Moments(input);
    }

    private (Tensor Mean, Tensor Logvar) Moments(Tensor input)
    {
        using var moments = _encoder.call(input);
        var chunks = moments.chunk(2, 1);
        using var mean = chunks[0];
        using var logvar = chunks[1];
        var normed = Config.EncoderNorm ? PatchLayerNorm(mean) : mean.clone();
        using Scalar low = -30.0, high = 20.0; // held until the calls return (see AdamW.Update)
        return (normed, logvar.clamp(low, high));
    }

    /// <summary>The posterior sample: mean + exp(logvar/2)·noise, with std 0 when <c>deterministic</c>.</summary>
    public Tensor SamplePosterior(Tensor mean, Tensor logvar, Tensor noise)
    {
        using var _ = no_grad();
        if (Config.Deterministic)
        {
            using var zeroStd = zeros_like(logvar);
            using var scaled = zeroStd * noise;
            return Held.Add(mean, scaled);
        }
        using var std = PosteriorStd(logvar);
        using var scaledNoise = std * noise;
        return Held.Add(mean, scaledNoise);
    }

    /// <summary>The posterior's standard deviation exp(logvar / 2).</summary>
    public static Tensor PosteriorStd(Tensor logvar)
    {
        using Scalar halfScale = 0.5; // held until the call returns (see AdamW.Update)
        using var half = logvar * halfScale;
        return half.exp();
    }

    /// <summary>Encodes and draws the posterior sample with one <c>randn</c> of the mean's shape, dtype and device.</summary>
    public Tensor EncodeSample(Tensor pixels, Generator? generator = null)
    {
        var (mean, logvar) = EncodeMoments(pixels);
        using (mean)
        using (logvar)
        {
            using var noise = randn(mean.shape, mean.dtype, mean.device, generator: generator);
            return SamplePosterior(mean, logvar, noise);
        }
    }

    /// <summary>Posterior sample → model latent: (x − shift_factor) · scaling_factor.</summary>
    public Tensor NormalizeLatents(Tensor sample) => NormalizeLatents(sample, Config.ShiftFactor, Config.ScalingFactor);

    /// <summary>(x − shiftFactor) · scalingFactor with the given factors (training can override the config's).</summary>
    public static Tensor NormalizeLatents(Tensor sample, double shiftFactor, double scalingFactor)
    {
        using Scalar shift = shiftFactor, scale = scalingFactor; // held until the calls return (see AdamW.Update)
        using var shifted = sample - shift;
        return shifted * scale;
    }

    /// <summary>Model latent → decoder input: x / scaling_factor + shift_factor.</summary>
    public Tensor DenormalizeLatents(Tensor latents)
    {
        using Scalar shift = Config.ShiftFactor, scale = Config.ScalingFactor; // held until the calls return (see AdamW.Update)
        using var scaled = latents / scale;
        return Held.Add(scaled, shift);
    }

    /// <summary>LayerNorm (no affine, eps 1e-6) over the z·psz² values of every psz×psz patch of the mean.</summary>
    private Tensor PatchLayerNorm(Tensor mean)
    {
        long b = mean.shape[0], c = mean.shape[1], h = mean.shape[2], w = mean.shape[3];
        int p = Config.Psz;
        // [b, c, h, w] → [b, h/p, w/p, c·p·p] with channel index c·p² + py·p + px
        using var patches = mean.reshape(b, c, h / p, p, w / p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, h / p, w / p, c * p * p);
        using var normed = nn.functional.layer_norm(patches, [c * p * p], null, null, 1e-6);
        using var back = normed.reshape(b, h / p, w / p, c, p, p).permute(0, 3, 1, 4, 2, 5);
        return back.reshape(b, c, h, w);
    }

    private static void CheckInput(Tensor x, int channels, int multiple, string what)
    {
        if (x.dim() != 4 || x.shape[1] != channels || x.shape[2] % multiple != 0 || x.shape[3] % multiple != 0 || x.shape[2] == 0 || x.shape[3] == 0)
            throw new NextStepException($"VAE {what} has shape [{string.Join(",", x.shape)}], expected [B, {channels}, H, W] with H and W positive multiples of {multiple}");
    }
}

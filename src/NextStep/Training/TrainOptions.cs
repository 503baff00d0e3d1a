namespace NextStep.Training;

/// <summary>Settings of a training run (defaults: the official recipe where it applies).</summary>
public sealed record TrainOptions
{
    /// <summary>Initial model folder (HF layout: config.json, model.safetensors, tokenizer files, vae/).</summary>
    public string? ModelDir { get; init; }
    /// <summary>Or: a config.json for a freshly initialised model (tokenizer from <see cref="TokenizerDir"/>, VAE from <see cref="VaeDir"/>).</summary>
    public string? ConfigPath { get; init; }
    public string? TokenizerDir { get; init; }
    public string? VaeDir { get; init; }
    /// <summary>Image folder with captions; or <see cref="ShapesCount"/> procedural Shapes images.</summary>
    public string? DataDir { get; init; }
    public int ShapesCount { get; init; }
    public required string OutDir { get; init; }
    /// <summary>Continue from a checkpoint folder written by a previous run (bit-exact with the same settings).</summary>
    public string? ResumeDir { get; init; }

    public int Steps { get; init; } = 100;
    /// <summary>Packed rows per micro-batch.</summary>
    public int BatchSize { get; init; } = 1;
    public int GradAccum { get; init; } = 1;
    public double Lr { get; init; } = 1e-4;
    public int Warmup { get; init; }
    public string Schedule { get; init; } = LrSchedule.Constant;
    public double ScaleLr { get; init; } = 1.0;
    public int Seed { get; init; } = 42;
    public int SaveEvery { get; init; }
    public int LogEvery { get; init; } = 10;
    /// <summary>Every N steps, generate a preview image (samples/step-N.png) with the inference pipeline; 0 = never.</summary>
    public int SampleEvery { get; init; }
    /// <summary>Preview prompt (default: the first training caption), CFG scale and sampling steps.</summary>
    public string? SamplePrompt { get; init; }
    public double SampleCfg { get; init; } = 7.5;
    public int SampleSteps { get; init; } = 28;

    /// <summary>Training size in pixels (a multiple of 16): the square side, or the base of the aspect buckets.</summary>
    public int ImageSize { get; init; } = 256;
    /// <summary>Crop each folder image to the nearest official aspect bucket instead of a square (official use_multi_aspect).</summary>
    public bool MultiAspect { get; init; }
    /// <summary>Packed row length in tokens; 0 = twice the longest sample.</summary>
    public int RowLength { get; init; }
    public double DropTextProb { get; init; } = 0.3;
    /// <summary>Probability that a caption is Python-<c>capitalize()</c>d in an epoch (official 0.5).</summary>
    public double CapitalizeProb { get; init; } = 0.5;
    public double MaxGradNorm { get; init; } = 1.0;
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Latent normalisation (z − shift)·scale; null = the VAE config's factors (what inference decodes with).</summary>
    public double? LatentShift { get; init; }
    public double? LatentScale { get; init; }
    /// <summary>CPU threads for libtorch during the run (0 = leave the current setting); small models train fastest on 1.</summary>
    public int Threads { get; init; }
    /// <summary>Refuse bad data instead of reporting and skipping it.</summary>
    public bool StrictData { get; init; }
}

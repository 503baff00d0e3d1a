namespace NextStep.Training;

/// <summary>
/// The official caption augmentation of image-text pairs: with probability 0.5 the caption is passed through Python's
/// <c>str.capitalize()</c> (first character upper-cased, every other one lower-cased). The decision is drawn per
/// (seed, epoch, image) from <c>random.Random(make_seed(seed, epoch, index))</c>: its first draw stands for the
/// caption-key choice, its second decides, as in the official reader.
/// </summary>
public static class CaptionAugment
{
    public static string Apply(string caption, int seed, int epoch, int index, double probability)
    {
        if (probability <= 0) return caption;
        var rng = new PyRandom(PyRandom.MakeSeed(seed, epoch, index));
        rng.Random();
        return rng.Random() < probability ? Capitalize(caption) : caption;
    }

    /// <summary>Python's <c>str.capitalize()</c> for the common cases: the first character upper-cased, the rest lower-cased.</summary>
    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}

using Xunit;

namespace NextStep.Tests.Support;

/// <summary>
/// Tests that seed and draw from libtorch's process-wide generator (<c>torch.manual_seed</c> + <c>torch.randn</c>):
/// mark their class <c>[Collection(GlobalRngCollection.Name)]</c> so that no other test draws in between.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "GlobalRng";
}

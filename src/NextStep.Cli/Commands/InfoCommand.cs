using System.CommandLine;
using NextStep.Imaging;

namespace NextStep.Cli.Commands;

/// <summary><c>nextstep info IMAGE...</c>: prints the generation parameters stored in images.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "PNG files (or images with a .json sidecar)", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print the parameters as JSON (one object per line)" };
        var cmd = new Command("info", "Print the generation parameters stored in images") { images, json };
        cmd.SetAction(p =>
        {
            var output = p.InvocationConfiguration.Output;
            foreach (var path in p.GetValue(images)!)
            {
                var meta = ImageMetadata.Read(path);
                if (p.GetValue(json)) output.WriteLine(meta.ToJson());
                else
                {
                    output.WriteLine($"{path}:");
                    foreach (var line in meta.ToParametersText().Split('\n')) output.WriteLine("  " + line);
                }
            }
            return 0;
        });
        return cmd;
    }
}

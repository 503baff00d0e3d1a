using System.CommandLine;
using Microsoft.Extensions.Hosting;
using NextStep.Server;

namespace NextStep.Cli.Commands;

public static class WorkerCommand
{
    public static Command Create()
    {
        var cmd = new Command("worker", "Run queued jobs from a PostgreSQL store shared with 'nextstep serve --postgres'")
        {
            ServeCommand.Postgres, ServeCommand.Model, ServeCommand.Sampler, ServeCommand.Workers, ServeCommand.Fake, ServeCommand.FakeMs,
        };
        cmd.SetAction(parse =>
        {
            var o = new ServerOptions
            {
                Postgres = parse.GetValue(ServeCommand.Postgres), ModelDir = parse.GetValue(ServeCommand.Model), Sampler = ServeCommand.SamplerOf(parse),
                Workers = parse.GetValue(ServeCommand.Workers), Fake = parse.GetValue(ServeCommand.Fake),
                FakeDuration = TimeSpan.FromMilliseconds(parse.GetValue(ServeCommand.FakeMs)),
            };
            NextStepServer.BuildWorker(o).Run();
            return 0;
        });
        return cmd;
    }
}

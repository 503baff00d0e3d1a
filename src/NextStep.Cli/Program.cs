using NextStep.Cli;

return CliApp.Run(args);

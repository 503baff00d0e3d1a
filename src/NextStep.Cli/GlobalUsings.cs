global using NextStep;

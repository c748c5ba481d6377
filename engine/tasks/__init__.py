"""Engine tasks: the functions the job queue runs for the GUI and the CLI."""

"""The ``mpc`` command line: the only place that prompts, prints and maps errors to exit codes."""

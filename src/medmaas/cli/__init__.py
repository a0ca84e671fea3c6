"""The command line: a typer wrapper over the same core functions the API calls."""

"""`python -m berth` runs the CLI."""

from berth.cli.start import entry

entry()

"""`python -m berth` runs the CLI."""

from berth.cli.main import entry

entry()

"""The `berth` command line. Imports nothing heavy at start-up: each command's module is
imported only when that command runs (see `table.py`)."""

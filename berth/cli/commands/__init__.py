"""One module per command (or family of commands), each with `build_parser` and `run`."""

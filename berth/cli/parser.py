"""argparse with Docker's usage-error behaviour: one line, a pointer to --help, exit 125."""

from __future__ import annotations

import argparse
from typing import NoReturn

from berth.cli.usage import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


def new_parser(prog: str, description: str, *, short_help: bool = True) -> Parser:
    """A command's parser; `short_help=False` frees `-h` for the command (`run -h HOSTNAME`),
    as Docker's run keeps only `--help`."""
    parser = Parser(prog=prog, description=description, add_help=short_help)
    if not short_help:
        parser.add_argument("--help", action="help", help="Print usage")
    return parser

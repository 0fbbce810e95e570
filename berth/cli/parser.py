"""argparse with Docker's usage-error behaviour: one line, a pointer to --help, exit 125."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

USAGE_ERROR = 125


class UsageError(Exception):
    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


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


def report_usage_error(error: UsageError) -> int:
    print(f"{error.prog}: {error}", file=sys.stderr)
    print(f"See '{error.prog} --help'.", file=sys.stderr)
    return USAGE_ERROR

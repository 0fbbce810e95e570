"""argparse with Docker's usage-error behaviour: one line, a pointer to --help, exit 125.

Two start-up costs of argparse are avoided here, because every command builds a parser:
its help formatter imports shutil to measure the terminal (os can), and its messages go
through gettext, whose locale lookup imports `locale` on every call; berth's messages are
English only, so the parser's gettext is the identity.
"""

from __future__ import annotations

import argparse
import os
from typing import NoReturn

from berth.cli.usage import UsageError

argparse._ = lambda message: message  # type: ignore[attr-defined]

DEFAULT_WIDTH = 100


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return DEFAULT_WIDTH


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)

    def _get_formatter(self) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog=self.prog, width=_terminal_width() - 2)


def new_parser(prog: str, description: str, *, short_help: bool = True) -> Parser:
    """A command's parser; `short_help=False` frees `-h` for the command (`run -h HOSTNAME`),
    as Docker's run keeps only `--help`."""
    parser = Parser(prog=prog, description=description, add_help=short_help)
    if not short_help:
        parser.add_argument("--help", action="help", help="Print usage")
    return parser


def boolean(text: str) -> bool:
    """A Docker bool flag's value (`--sig-proxy=false`), with Go's ParseBool spellings."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value: {text!r}")


def add_bool_flag(parser: argparse.ArgumentParser, *names: str, help: str) -> None:
    """A flag that is true by default, `--name=false` to turn it off (`--name` alone: true)."""
    parser.add_argument(*names, type=boolean, nargs="?", const=True, default=True, help=help)

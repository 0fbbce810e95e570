"""argparse with Docker's usage-error behaviour: one line, a pointer to --help, exit 125.

Two start-up costs of argparse are avoided here, because every command builds a parser:
its help formatter imports shutil to measure the terminal (os can), and its messages go
through gettext, whose locale lookup imports `locale` on every call; berth's messages are
English only, so the parser's gettext is the identity.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from berth.cli.usage import UsageError, unknown_flag

argparse._ = lambda message: message  # type: ignore[attr-defined]

DEFAULT_WIDTH = 100


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return DEFAULT_WIDTH


class Parser(argparse.ArgumentParser):
    """Docker's flag rules: a long option is matched whole, never by a prefix (argparse's
    `allow_abbrev` would take a mistyped `--priv` for `--privileged`, `--pid` for
    `--pids-limit`), and an unknown flag is named as Docker's CLI names it."""

    def __init__(self, prog: str, description: str, add_help: bool) -> None:
        super().__init__(prog=prog, description=description, add_help=add_help, allow_abbrev=False)
        self._unknown: list[str] = []

    def error(self, message: str) -> NoReturn:
        if self._unknown and message.startswith("the following arguments are required"):
            self._refuse_unknown(self._unknown[0])  # Docker names the flag, not what is missing
        raise UsageError(message, self.prog)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        for word in extras:
            if word.startswith("-") and len(word) > 1:
                self._refuse_unknown(word)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def _parse_optional(self, arg_string: str) -> tuple[Any, str, str | None] | None:
        """argparse's reading of one word, except that a cluster of short flags with an
        unknown one in it (`-iZ`) is an unknown flag, as a word it does not know at all is."""
        found = super()._parse_optional(arg_string)
        if (
            found is not None
            and found[0] is not None
            and found[1] != arg_string
            and not arg_string.startswith("--")
            and self._unknown_shorthand(arg_string)
        ):
            found = None, arg_string, None
        if found is not None and found[0] is None:
            self._unknown.append(arg_string)
        return found

    def _unknown_shorthand(self, word: str) -> str:
        """The part of a short-flag cluster from its first unknown letter on ("" if none):
        the letters are flags until one that takes a value, which takes the rest."""
        for index in range(1, len(word)):
            action = self._option_string_actions.get("-" + word[index])
            if action is None:
                return word[index:]
            if action.nargs != 0:
                return ""
        return ""

    def _refuse_unknown(self, word: str) -> NoReturn:
        if not word.startswith("--"):
            word = "-" + (self._unknown_shorthand(word) or word[1:])
        raise unknown_flag(word, self.prog)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self._bare_bools_true(words), namespace)

    def _bare_bools_true(self, words: list[str]) -> list[str]:
        """`-H IMAGE` is -H=true then IMAGE, as Docker's bool flags never take the next word:
        argparse would read IMAGE as the flag's value. Only the options before the first
        positional are looked at (what follows may be the container's own command)."""
        out = list(words)
        index = 0
        while index < len(out) and out[index].startswith("-") and out[index] != "--":
            action = self._option_string_actions.get(out[index])
            if action is not None and action.type is boolean:
                out[index] += "=true"
            elif action is not None and action.nargs != 0:
                index += 1  # its value
            index += 1
        return out

    def _get_formatter(self) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog=self.prog, width=_terminal_width() - 2)


def new_parser(prog: str, description: str, *, short_help: bool = True) -> Parser:
    """A command's parser; `short_help=False` frees `-h` for the command (`run -h HOSTNAME`),
    as Docker's run keeps only `--help`."""
    parser = Parser(prog, description, short_help)
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

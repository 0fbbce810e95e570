"""Usage errors, kept apart from argparse so `berth --version` never imports it."""

from __future__ import annotations

import sys

USAGE_ERROR = 125


class UsageError(Exception):
    """Bad flags or arguments: Docker prints one line and a pointer to --help, and exits 125.
    A `bare` message is printed as Docker words it, without the command in front
    (`unknown flag: --priv`)."""

    def __init__(self, message: str, prog: str, *, bare: bool = False) -> None:
        super().__init__(message)
        self.prog = prog
        self.bare = bare


def unknown_flag(word: str, prog: str) -> UsageError:
    """Docker's (pflag's) words for a flag the command does not have: `unknown flag: --x`,
    or for a short one `unknown shorthand flag: 'x' in -x`."""
    if word.startswith("--"):
        return UsageError(f"unknown flag: {word.partition('=')[0]}", prog, bare=True)
    return UsageError(f"unknown shorthand flag: '{word[1]}' in {word}", prog, bare=True)


def report_usage_error(error: UsageError) -> int:
    print(error if error.bare else f"{error.prog}: {error}", file=sys.stderr)
    print(f"See '{error.prog} --help'.", file=sys.stderr)
    return USAGE_ERROR

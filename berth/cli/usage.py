"""Usage errors, kept apart from argparse so `berth --version` never imports it."""

from __future__ import annotations

import sys

USAGE_ERROR = 125


class UsageError(Exception):
    """Bad flags or arguments: Docker prints one line and a pointer to --help, and exits 125."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


def report_usage_error(error: UsageError) -> int:
    print(f"{error.prog}: {error}", file=sys.stderr)
    print(f"See '{error.prog} --help'.", file=sys.stderr)
    return USAGE_ERROR

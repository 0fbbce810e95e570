"""Commands that act on several containers report each failure and carry on, as Docker's do:
the exit status is 1 if any of them failed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from berth.cli.context import Context
from berth.errors import BerthError


def for_each(ctx: Context, names: Sequence[str], action: Callable[[str], str | None]) -> int:
    failed = False
    for name in names:
        try:
            shown = action(name)
        except BerthError as error:
            ctx.stderr.write(f"Error: {error.message}\n")
            failed = True
            continue
        if shown is not None:
            ctx.stdout.write(f"{shown}\n")
    return 1 if failed else 0

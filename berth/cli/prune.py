"""What every `prune` command shares: Docker's confirmation prompt and its report."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from berth.cli import humanize
from berth.cli.context import Context


def confirm(ctx: Context, warning: str) -> bool:
    """Docker's prompt; anything but y/yes (EOF included) is a no."""
    ctx.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    ctx.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def report(ctx: Context, title: str, lines: Sequence[str], reclaimed: int) -> None:
    """`Deleted Images:` (or Containers, Volumes), one line each, then the space reclaimed."""
    if lines:
        ctx.stdout.write(f"{title}:\n" + "".join(f"{line}\n" for line in lines) + "\n")
    ctx.stdout.write(f"Total reclaimed space: {humanize.size(reclaimed)}\n")

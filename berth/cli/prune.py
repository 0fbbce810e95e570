"""What every `prune` command shares: Docker's confirmation prompt and its report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from berth import humanize
from berth.cli.context import Context
from berth.filters import Filters


def add_filter_flag(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        help=f"Provide filter values (e.g. {example})",
    )


def filters_of(args: argparse.Namespace, *extra: str) -> Filters:
    """The `--filter` words, and the ones a flag stands for (`-a`: Docker's own filter)."""
    return Filters.from_cli([*args.filter, *extra])


def confirm(ctx: Context, warning: str, *, inline: bool = False) -> bool:
    """Docker's prompt (on the warning's line when `inline`, as `builder prune` asks);
    anything but y/yes (EOF included) is a no."""
    separator = " " if inline else "\n"
    ctx.stdout.write(f"{warning}{separator}Are you sure you want to continue? [y/N] ")
    ctx.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def report(ctx: Context, title: str, lines: Sequence[str], reclaimed: int) -> None:
    """`Deleted Images:` (or Containers, Volumes), one line each, then the space reclaimed."""
    if lines:
        ctx.stdout.write(f"{title}:\n" + "".join(f"{line}\n" for line in lines) + "\n")
    ctx.stdout.write(f"Total reclaimed space: {humanize.size(reclaimed, 4)}\n")

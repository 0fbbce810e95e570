"""`berth top CONTAINER [ps OPTIONS]`: the running processes of a container."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser

MIN_WIDTH = 20
PADDING = 3


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    record = ctx.engine.containers.lookup(args.container)
    titles, rows = ctx.engine.container_tools.top(record, list(args.ps_args))
    for row in [titles, *rows]:
        ctx.stdout.write(layout(row) + "\n")
    return 0


def layout(cells: list[str]) -> str:
    """Docker's top table: tabwriter with min width 20 and padding 3, the last cell as is."""
    padded = [cell.ljust(max(MIN_WIDTH, len(cell) + PADDING)) for cell in cells[:-1]]
    return "".join(padded + cells[-1:])

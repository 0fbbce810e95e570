"""`berth diff`: changes to files or directories on a container's filesystem (A, C, D)."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    record = ctx.engine.containers.lookup(args.container)
    for change in ctx.engine.container_tools.changes(record):
        ctx.stdout.write(f"{change}\n")
    return 0

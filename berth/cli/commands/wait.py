"""`berth wait`: block until containers stop; print each exit code."""

from __future__ import annotations

import argparse

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers

    def wait(name: str) -> str:
        record = containers.lookup(name)
        finished = containers.wait_exit(record, None)
        return str((finished or record).state.get("ExitCode", 0))

    return for_each(ctx, args.containers, wait)

"""`berth restart`: stop (with the timeout), then start."""

from __future__ import annotations

import argparse

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.add_argument("-t", "--time", type=int, help="Seconds to wait before killing")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers

    def restart(name: str) -> str:
        containers.restart(containers.lookup(name), args.time)
        return name

    return for_each(ctx, args.containers, restart)

"""`berth stop`: the stop signal, then SIGKILL after the timeout."""

from __future__ import annotations

import argparse

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.add_argument(
        "-t",
        "--time",
        "--timeout",
        dest="time",
        type=int,
        help="Seconds to wait before killing the container",
    )
    parser.add_argument("-s", "--signal", help="Signal to send to the container")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers

    def stop(name: str) -> str:
        containers.stop(containers.lookup(name), args.time, args.signal)
        return name

    return for_each(ctx, args.containers, stop)

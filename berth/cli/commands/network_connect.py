"""`berth network connect`: attach a container to one more network (at once if it runs)."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("network", metavar="NETWORK")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument(
        "--alias", action="append", default=[], help="Add network-scoped alias for the container"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    network = ctx.engine.networks.lookup(args.network)
    record = ctx.engine.containers.lookup(args.container)
    ctx.engine.containers.connect(network, record, args.alias)
    return 0

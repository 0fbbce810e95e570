"""`berth network disconnect`: detach a container from a network."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("network", metavar="NETWORK")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument(
        "-f", "--force", action="store_true", help="Force the container to disconnect"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    network = ctx.engine.networks.lookup(args.network)
    record = ctx.engine.containers.lookup(args.container)
    ctx.engine.containers.disconnect(network, record)
    return 0

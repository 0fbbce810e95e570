"""`berth network rm`: remove networks; one with running containers is refused."""

from __future__ import annotations

import argparse

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import NotFound


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("networks", nargs="+", metavar="NETWORK")
    parser.add_argument(
        "-f", "--force", action="store_true", help="Do not error if the network does not exist"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.engine.networks

    def remove(name: str) -> str | None:
        try:
            service.remove(service.lookup(name))
        except NotFound:
            if args.force:
                return None
            raise
        return name

    return for_each(ctx, args.networks, remove)

"""`berth volume rm`: remove volumes; one in use by a container is refused (even with -f,
which only ignores volumes that do not exist, as Docker's does)."""

from __future__ import annotations

import argparse

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import NotFound


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("volumes", nargs="+", metavar="VOLUME")
    parser.add_argument(
        "-f", "--force", action="store_true", help="Force the removal of one or more volumes"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.engine.volumes

    def remove(name: str) -> str:
        try:
            service.remove(name)
        except NotFound:
            if not args.force:
                raise
        return name

    return for_each(ctx, args.volumes, remove)

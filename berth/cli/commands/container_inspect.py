"""`berth container inspect`: containers in the JSON shape `docker container inspect` prints."""

from __future__ import annotations

import argparse
from typing import Any

from berth.cli.context import Context
from berth.cli.listing import inspect_each
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("names", nargs="+", metavar="CONTAINER")
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    parser.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers

    def document(name: str) -> dict[str, Any]:
        return containers.inspect(containers.lookup(name))

    return inspect_each(ctx, args.names, document, args.format)

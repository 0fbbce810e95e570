"""`berth network inspect`: networks as Docker's JSON documents."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.listing import inspect_each
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("networks", nargs="+", metavar="NETWORK")
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.engine.networks
    return inspect_each(
        ctx, args.networks, lambda name: service.inspect(service.lookup(name)), args.format
    )

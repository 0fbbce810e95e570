"""`berth image inspect`: images in the JSON shape `docker image inspect` prints."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.listing import inspect_each
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("names", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Print what was found; report what wasn't, and exit 1 if anything wasn't."""
    return inspect_each(ctx, args.names, ctx.engine.images.inspect, args.format)

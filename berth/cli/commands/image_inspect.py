"""`berth image inspect`: images in the JSON shape `docker image inspect` prints."""

from __future__ import annotations

import argparse
from typing import Any

from berth.cli.context import Context
from berth.cli.listing import print_documents
from berth.cli.parser import new_parser
from berth.errors import BerthError


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("names", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Print what was found; report what wasn't, and exit 1 if anything wasn't."""
    documents: list[Any] = []
    missing = False
    for name in args.names:
        try:
            documents.append(ctx.engine.images.inspect(name))
        except BerthError as error:
            ctx.stderr.write(f"Error: {error.message}\n")
            missing = True
    if documents or not args.format:
        print_documents(ctx.stdout, documents, args.format)
    return 1 if missing else 0

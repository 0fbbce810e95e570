"""`berth network inspect`: networks as Docker's JSON documents."""

from __future__ import annotations

import argparse
from typing import Any

from berth.cli.context import Context
from berth.cli.listing import print_documents
from berth.cli.parser import new_parser
from berth.errors import NotFound


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("networks", nargs="+", metavar="NETWORK")
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.engine.networks
    documents: list[Any] = []
    missing = False
    for name in args.networks:
        try:
            documents.append(service.inspect(service.lookup(name)))
        except NotFound as error:
            ctx.stderr.write(f"Error: {error.message}\n")
            missing = True
    if documents or not args.format:
        print_documents(ctx.stdout, documents, args.format)
    return 1 if missing else 0

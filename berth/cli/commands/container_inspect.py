"""`berth container inspect`: containers in the JSON shape `docker container inspect` prints."""

from __future__ import annotations

import argparse
from typing import Any

from berth.cli.context import Context
from berth.cli.listing import print_documents
from berth.cli.parser import new_parser
from berth.engine.reports import container_inspect
from berth.errors import BerthError


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("names", nargs="+", metavar="CONTAINER")
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    parser.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers
    documents: list[Any] = []
    missing = False
    for name in args.names:
        try:
            record = containers.lookup(name)
        except BerthError as error:
            ctx.stderr.write(f"Error: {error.message}\n")
            missing = True
            continue
        documents.append(
            container_inspect(
                record, containers.directory(record.id), ctx.engine.networks.settings(record)
            )
        )
    if documents or not args.format:
        print_documents(ctx.stdout, documents, args.format)
    return 1 if missing else 0

"""`berth inspect`: any object by name or id, containers first, then images, then volumes
(as Docker)."""

from __future__ import annotations

import argparse
from typing import Any

from berth.cli.context import Context
from berth.cli.listing import print_documents
from berth.cli.parser import new_parser
from berth.errors import NotFound


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("names", nargs="+", metavar="NAME|ID")
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    parser.add_argument("--type", choices=("container", "image", "volume"), help="Only this type")
    return parser


def _find(ctx: Context, name: str, kind: str | None) -> dict[str, Any]:
    if kind in (None, "container"):
        try:
            return ctx.engine.containers.inspect(ctx.engine.containers.lookup(name))
        except NotFound:
            if kind == "container":
                raise
    if kind in (None, "image"):
        try:
            return ctx.engine.images.inspect(name)
        except NotFound:
            pass
    if kind in (None, "volume"):
        volumes = ctx.engine.volumes
        try:
            return volumes.inspect(volumes.get(name))
        except NotFound:
            pass
    raise NotFound(f"No such object: {name}")


def run(args: argparse.Namespace, ctx: Context) -> int:
    documents: list[Any] = []
    missing = False
    for name in args.names:
        try:
            documents.append(_find(ctx, name, args.type))
        except NotFound as error:
            ctx.stderr.write(f"Error: {error.message}\n")
            missing = True
    if documents or not args.format:
        print_documents(ctx.stdout, documents, args.format)
    return 1 if missing else 0

"""`berth rm`: remove containers (`-f` stops a running one first)."""

from __future__ import annotations

import argparse

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="Force the removal of a running container (uses SIGKILL)",
    )
    parser.add_argument(
        "-v",
        "--volumes",
        action="store_true",
        help="Remove anonymous volumes associated with the container",
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers

    def remove(name: str) -> str:
        containers.remove(containers.lookup(name), force=args.force, volumes=args.volumes)
        return name

    return for_each(ctx, args.containers, remove)

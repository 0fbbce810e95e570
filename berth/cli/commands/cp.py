"""`berth cp`: copy files/folders between a container and the local filesystem.

    berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
    berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH

`-` is a tar stream on stdout (from a container) or stdin (into a container's directory).
"""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DEST")
    parser.add_argument(
        "-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)"
    )
    parser.add_argument(
        "-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="Suppress progress output during copy"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.stdout.flush()
    ctx.engine.container_tools.copy(
        args.source, args.destination, follow=args.follow_link, archive=args.archive
    )
    return 0

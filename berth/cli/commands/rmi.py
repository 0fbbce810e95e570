"""`berth rmi` (`berth image rm`): untag images and delete those left without names."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import BerthError


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    parser.add_argument(
        "--no-prune",
        action="store_true",
        help="Do not delete untagged parents (accepted for compatibility)",
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Like Docker: report each image's outcome and exit 1 if any of them failed."""
    failed = False
    for name in args.images:
        try:
            removals = ctx.engine.images.remove(name, force=args.force)
        except BerthError as error:
            ctx.stderr.write(f"Error: {error.message}\n")
            failed = True
            continue
        for removal in removals:
            ctx.stdout.write(f"{removal.action}: {removal.value}\n")
    return 1 if failed else 0

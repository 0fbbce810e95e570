"""`berth image prune`: remove dangling images (all unused ones with -a)."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.prune import add_filter_flag, confirm, filters_of, report

WARNING_DANGLING = "WARNING! This will remove all dangling images."
WARNING_ALL = (
    "WARNING! This will remove all images without at least one container associated to them."
)


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones"
    )
    add_filter_flag(parser, "'until=<timestamp>'")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(args, *(["dangling=false"] if args.all else []))
    if not args.force and not confirm(ctx, WARNING_ALL if args.all else WARNING_DANGLING):
        return 0
    removals, reclaimed = ctx.engine.images.prune(filters)
    report(ctx, "Deleted Images", [f"{r.action}: {r.value}" for r in removals], reclaimed)
    return 0

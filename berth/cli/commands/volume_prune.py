"""`berth volume prune`: remove unused volumes (anonymous ones; all unused ones with -a)."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.prune import add_filter_flag, confirm, filters_of, report
from berth.errors import InvalidArgument

WARNING_ANONYMOUS = (
    "WARNING! This will remove anonymous local volumes not used by at least one container."
)
WARNING_ALL = "WARNING! This will remove all local volumes not used by at least one container."


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="Remove all unused volumes, not just anonymous ones",
    )
    add_filter_flag(parser, "'label=<label>'")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(args)
    if args.all:
        if "all" in filters:
            raise InvalidArgument(
                "conflicting options: cannot specify both --all and --filter all=1"
            )
        filters = filters.adding("all", "true")
    if not args.force and not confirm(ctx, WARNING_ALL if args.all else WARNING_ANONYMOUS):
        return 0
    removed, reclaimed = ctx.engine.volumes.prune(filters)
    report(ctx, "Deleted Volumes", removed, reclaimed)
    return 0

"""`berth container prune`: remove all stopped containers."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.prune import add_filter_flag, confirm, filters_of, report

WARNING = "WARNING! This will remove all stopped containers."


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    add_filter_flag(parser, "'until=<timestamp>', 'label=<key>=<value>'")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(args)
    if not args.force and not confirm(ctx, WARNING):
        return 0
    removed, reclaimed = ctx.engine.containers.prune(filters)
    report(ctx, "Deleted Containers", removed, reclaimed)
    return 0

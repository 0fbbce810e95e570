"""`berth network prune`: remove user-defined networks no container uses."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.prune import add_filter_flag, confirm, filters_of

WARNING = "WARNING! This will remove all custom networks not used by at least one container."


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    add_filter_flag(parser, "'until=<timestamp>'")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = filters_of(args)
    if not args.force and not confirm(ctx, WARNING):
        return 0
    removed = ctx.engine.networks.prune(filters)
    if removed:
        ctx.stdout.write("Deleted Networks:\n" + "".join(f"{name}\n" for name in removed))
    return 0

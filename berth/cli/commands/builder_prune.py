"""`berth builder prune [-a] [-f] [--filter until=DURATION]`: forget the build cache,
freeing the layers only it kept, with the docker CLI's prompt and report. (berth keeps no
cache an image still uses apart from it, so `-a` changes only the prompt's words.)"""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.prune import add_filter_flag, confirm, filters_of, report

WARNING = "WARNING! This will remove all dangling build cache."
WARNING_ALL = "WARNING! This will remove all build cache."


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-a", "--all", action="store_true", help="Remove all unused build cache, not just dangling"
    )
    add_filter_flag(parser, "'until=24h'")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    until = filters_of(args).only(("until",)).time("until")
    if not args.force and not confirm(ctx, WARNING_ALL if args.all else WARNING, inline=True):
        return 0
    forgotten, freed = ctx.engine.build.prune_cache(until)
    report(ctx, "Deleted build cache objects", forgotten, freed)
    return 0

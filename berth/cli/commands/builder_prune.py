"""`berth builder prune [-a] [-f]`: forget the build cache, freeing the layers only it kept.
(berth keeps no cache an image still uses apart from it, so `-a` changes nothing.)"""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("-a", "--all", action="store_true", help="Remove all unused build cache")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    from berth import humanize

    forgotten, freed = ctx.engine.build.prune_cache()
    ctx.stdout.write(f"{forgotten} build cache entries removed\n")
    ctx.stdout.write(f"Total:\t{humanize.size(freed)}\n")
    return 0

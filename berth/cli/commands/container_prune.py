"""`berth container prune`: remove all stopped containers."""

from __future__ import annotations

import argparse

from berth.cli import humanize
from berth.cli.commands.image_prune import confirm
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.engine.container_admin import prune
from berth.errors import InvalidArgument

WARNING = "WARNING! This will remove all stopped containers."


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        help="Provide filter values (e.g. 'label=<key>=<value>')",
    )
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    labels = []
    for item in args.filter:
        key, eq, value = item.partition("=")
        if not eq or key not in ("label", "label!"):
            raise InvalidArgument(f"invalid filter '{item}'")
        labels.append(
            value
            if key == "label"
            else f"{value.partition('=')[0]}!"
            + (f"={value.partition('=')[2]}" if "=" in value else "")
        )
    if not args.force and not confirm(ctx, WARNING):
        return 0
    removed, reclaimed = prune(ctx.engine, labels)
    if removed:
        ctx.stdout.write("Deleted Containers:\n")
        for container_id in removed:
            ctx.stdout.write(f"{container_id}\n")
        ctx.stdout.write("\n")
    ctx.stdout.write(f"Total reclaimed space: {humanize.size(reclaimed)}\n")
    return 0

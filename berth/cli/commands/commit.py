"""`berth commit [-a AUTHOR] [-m MESSAGE] [-c INSTRUCTION]... [-p=false] CONTAINER [REPO[:TAG]]`:
a new image from a container's changes. Prints the new image's id, as Docker does."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import add_bool_flag, new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("reference", metavar="REPOSITORY[:TAG]", nargs="?")
    parser.add_argument(
        "-a",
        "--author",
        default="",
        help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
    )
    parser.add_argument("-m", "--message", default="", help="Commit message")
    parser.add_argument(
        "-c", "--change", action="append", default=[], help="Apply Dockerfile instruction"
    )
    add_bool_flag(parser, "-p", "--pause", help="Pause container during commit (default true)")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    image_id = ctx.engine.build.commit(
        args.container,
        args.reference,
        author=args.author,
        message=args.message,
        changes=args.change,
        pause=args.pause,
    )
    ctx.stdout.write(f"{image_id}\n")
    return 0

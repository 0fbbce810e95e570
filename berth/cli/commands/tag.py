"""`berth tag SOURCE TARGET`: another name for an image."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    parser.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.engine.images.tag(args.source, args.target)
    return 0

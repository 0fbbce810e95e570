"""`berth top CONTAINER [ps OPTIONS]`: the running processes of a container."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.tables import render
from berth.engine.container_admin import top


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    record = ctx.engine.containers.lookup(args.container)
    titles, rows = top(ctx.engine, record, list(args.ps_args))
    text = render([titles, *rows])
    if text:
        ctx.stdout.write(text + "\n")
    return 0

"""`berth volume create`: a named volume (a random 64-hex name when none is given)."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("name", nargs="?", metavar="VOLUME")
    parser.add_argument("--name", dest="name_flag", help="Specify volume name")
    parser.add_argument(
        "-d", "--driver", default="local", help='Specify volume driver name (default "local")'
    )
    parser.add_argument("--label", action="append", default=[], help="Set metadata for a volume")
    parser.add_argument(
        "-o", "--opt", action="append", default=[], help="Set driver specific options"
    )
    return parser


def pairs(items: list[str]) -> dict[str, str]:
    """`key=value` (or `key`, an empty value) items as a dict, later ones winning."""
    return {key: value for key, _, value in (item.partition("=") for item in items)}


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.name and args.name_flag and args.name != args.name_flag:
        raise InvalidArgument(
            "conflicting options: either specify --name or provide positional arg, not both"
        )
    name = args.name or args.name_flag
    record = ctx.engine.volumes.create(
        name, labels=pairs(args.label), options=pairs(args.opt), driver=args.driver
    )
    ctx.stdout.write(f"{record.name}\n")
    return 0

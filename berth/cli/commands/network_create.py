"""`berth network create`: a user-defined bridge network (its subnet chosen when not given)."""

from __future__ import annotations

import argparse

from berth.cli.commands.volume_create import pairs
from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("name", metavar="NETWORK")
    parser.add_argument(
        "-d", "--driver", default="bridge", help='Driver to manage the Network (default "bridge")'
    )
    parser.add_argument("--subnet", action="append", default=[], help="Subnet in CIDR format")
    parser.add_argument("--gateway", action="append", default=[], help="IPv4 Gateway")
    parser.add_argument(
        "--internal", action="store_true", help="Restrict external access to the network"
    )
    parser.add_argument("--label", action="append", default=[], help="Set metadata on a network")
    parser.add_argument(
        "-o", "--opt", action="append", default=[], help="Set driver specific options"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    if len(args.subnet) > 1 or len(args.gateway) > 1:
        raise InvalidArgument("berth networks have one IPv4 subnet and one gateway")
    record = ctx.engine.networks.create(
        args.name,
        driver=args.driver,
        subnet=args.subnet[0] if args.subnet else None,
        gateway=args.gateway[0] if args.gateway else None,
        internal=args.internal,
        labels=pairs(args.label),
        options=pairs(args.opt),
    )
    ctx.stdout.write(f"{record.id}\n")
    return 0

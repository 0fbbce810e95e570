"""`berth port`: a container's published ports, or where one of them is published."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import NotFound
from berth.network.ports import port_key


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    record = ctx.engine.containers.lookup(args.container)
    mappings = ctx.engine.networks.published(record.id)
    if args.port:
        number, protocol = port_key(args.port)
        chosen = [m for m in mappings if (m.container_port, m.protocol) == (number, protocol)]
        if not chosen:
            raise NotFound(f"No public port '{number}/{protocol}' published for {args.container}")
        for m in chosen:
            ctx.stdout.write(f"{m.host_ip}:{m.host_port}\n")
        return 0
    for m in mappings:
        ctx.stdout.write(f"{m.container_port}/{m.protocol} -> {m.host_ip}:{m.host_port}\n")
    return 0

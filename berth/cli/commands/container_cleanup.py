"""`berth container cleanup`: release what stopped containers still hold on the host (network
namespace, veth pairs, addresses, published ports, the rootfs mount). A container's monitor
runs it when the container is done, as Podman's conmon runs `podman container cleanup`;
running it by hand is harmless."""

from __future__ import annotations

import argparse

from berth.cli.commands._each import for_each
from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    containers = ctx.engine.containers

    def cleanup(name: str) -> None:
        containers.cleanup(containers.lookup(name))

    return for_each(ctx, args.containers, cleanup)

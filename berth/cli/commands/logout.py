"""`berth logout`: forget a registry's stored credentials, with docker logout's words."""

from __future__ import annotations

import argparse

from berth.cli.context import Context
from berth.cli.parser import new_parser


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "server", nargs="?", default="", metavar="SERVER", help="Registry (default Docker Hub)"
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    # Only the credential store: logging out never talks to the registry (nor imports httpx).
    from berth.registry import CredentialStore, normalize_server, server_key
    from berth.registry.config import DOCKER_HUB

    host = normalize_server(args.server) if args.server else DOCKER_HUB
    # Docker names Docker Hub by its legacy index URL here, and other registries by host.
    shown = server_key(host)
    if CredentialStore().erase(host):
        print(f"Removing login credentials for {shown}", file=ctx.stdout)
    else:
        print(f"Not logged in to {shown}", file=ctx.stdout)
    return 0
